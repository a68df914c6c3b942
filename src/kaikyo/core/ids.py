"""Typed identifiers. Blob ids are keyed hashes of plaintext; object ids are SHA-256 of
ciphertext, so anyone holding the object (the haven too) can verify its name without a key."""

from __future__ import annotations

import hashlib

from kaikyo.errors import UsageError

ID_HEX_LEN = 64


def object_id(data: bytes | memoryview) -> str:
    """The name-defining hash of an object's stored bytes (lowercase hex SHA-256)."""
    return hashlib.sha256(data).hexdigest()


def parse_hex_id(text: str, what: str = "id") -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"invalid {what} {text!r}: not hexadecimal") from None
    if len(raw) != 32:
        raise UsageError(f"invalid {what} {text!r}: expected 64 hex digits")
    return raw


def short(ident: str | bytes) -> str:
    """The eight hex digits an id is shown by (a hex string, or the id's bytes)."""
    return (ident.hex() if isinstance(ident, bytes | bytearray) else ident)[:8]
