"""Passphrase -> key-encryption key, with Argon2id (parameters stored in each key slot)."""

from __future__ import annotations

from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw

from kaikyo.core.constants import KDF_ARGON2ID, KDF_RECOVERY
from kaikyo.errors import UnsupportedVersionError

# RFC 9106's "second recommended option" is m=64 MiB with t=3 passes. We keep its memory x
# passes product (what one guess costs an attacker, as Argon2id scales with both) at m=48 MiB
# with t=4, four times OWASP's m=46 MiB with t=1, while the memory resident when a key slot
# opens stays below restic's whole peak (its scrypt alone may take 60 MiB). A slot keeps the
# parameters it was made with, so slots made with other ones open unchanged.
DEFAULT_TIME_COST = 4
DEFAULT_MEMORY_KIB = 48 * 1024
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
    # Imported here, not above: a passphrase is stretched before `cryptography` (about 7 MiB
    # resident) is loaded, so Argon2id's memory and it are never resident together.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)
