"""Encryption, key derivation and key slots."""
