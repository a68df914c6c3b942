"""Passphrase -> key-encryption key, with Argon2id (parameters stored in each key slot)."""

from __future__ import annotations

from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kaikyo.core.format.constants import KDF_ARGON2ID, KDF_RECOVERY
from kaikyo.errors import UnsupportedVersionError

# RFC 9106 "second recommended option" is t=3, m=64 MiB; we use that by default.
DEFAULT_TIME_COST = 3
DEFAULT_MEMORY_KIB = 64 * 1024
DEFAULT_PARALLELISM = 2


@dataclass(frozen=True, slots=True)
class KdfParams:
    algorithm: str
    salt: bytes
    time_cost: int = DEFAULT_TIME_COST
    memory_kib: int = DEFAULT_MEMORY_KIB
    parallelism: int = DEFAULT_PARALLELISM


def derive_kek(secret: bytes, params: KdfParams) -> bytes:
    """Derive the 32-byte key that wraps the master key."""
    if params.algorithm == KDF_ARGON2ID:
        return hash_secret_raw(
            secret,
            params.salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=32,
            type=Type.ID,
        )
    if params.algorithm == KDF_RECOVERY:
        # A recovery key already carries 256 bits of entropy: stretching adds nothing.
        return hkdf(secret, params.salt, b"kaikyo recovery kek v1")
    raise UnsupportedVersionError(f"unknown key derivation {params.algorithm!r}")


def hkdf(secret: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)
