"""The master key, its purpose-bound subkeys, and key slots that wrap it.

A repository has one 64-byte master secret. HKDF derives from it one key per purpose, so the
key that names blobs (keyed BLAKE3) never encrypts anything and vice versa. Each key slot wraps
the master secret under a key-encryption key derived from a passphrase (Argon2id) or from a
recovery key (HKDF: it already has full entropy). Slots are JSON, so people can read their
parameters; the wrapped secret is the only secret in them.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kaikyo.core.crypto.kdf import KdfParams, derive_kek, hkdf
from kaikyo.core.format.constants import KDF_ARGON2ID, KDF_RECOVERY, KIND_KEY
from kaikyo.errors import IntegrityError, UnsupportedVersionError, WrongPasswordError

if TYPE_CHECKING:
    from kaikyo.core.crypto.aead import Cipher

MASTER_SIZE = 64
KEY_SLOT_VERSION = 1


@dataclass(frozen=True, slots=True)
class MasterKey:
    """Subkeys derived from the master secret. Never serialised except inside a key slot."""

    secret: bytes
    encryption: bytes
    blob_id: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> MasterKey:
        if len(secret) != MASTER_SIZE:
            raise IntegrityError("master key has the wrong length")
        return cls(
            secret=secret,
            encryption=hkdf(secret, b"", b"kaikyo encryption v1"),
            blob_id=hkdf(secret, b"", b"kaikyo blob-id v1"),
        )

    @classmethod
    def generate(cls) -> MasterKey:
        return cls.from_secret(os.urandom(MASTER_SIZE))

    def cipher(self) -> Cipher:
        from kaikyo.core.crypto.aead import Cipher

        return Cipher(self.encryption)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def make_key_slot(
    master: MasterKey,
    secret: bytes,
    *,
    recovery: bool = False,
    meta: dict[str, Any] | None = None,
    time_cost: int | None = None,
    memory_kib: int | None = None,
) -> bytes:
    """Wrap the master secret under ``secret`` (a passphrase or a recovery key)."""
    salt = os.urandom(16)
    if recovery:
        params = KdfParams(KDF_RECOVERY, salt, 0, 0, 0)
    else:
        params = KdfParams(
            KDF_ARGON2ID,
            salt,
            **({"time_cost": time_cost} if time_cost else {}),
            **({"memory_kib": memory_kib} if memory_kib else {}),
        )
    kek = derive_kek(secret, params)
    from kaikyo.core.crypto.aead import Cipher  # after Argon2id has freed its memory

    wrapped = Cipher(kek).seal(master.secret, KIND_KEY)
    doc = {
        "version": KEY_SLOT_VERSION,
        "kind": "recovery" if recovery else "passphrase",
        "kdf": {
            "algorithm": params.algorithm,
            "salt": _b64(params.salt),
            "time_cost": params.time_cost,
            "memory_kib": params.memory_kib,
            "parallelism": params.parallelism,
        },
        "wrapped": _b64(wrapped),
        **(meta or {}),
    }
    return json.dumps(doc, sort_keys=True, indent=1).encode()


def parse_key_slot(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise IntegrityError(f"key slot is not valid JSON: {exc}") from None
    if doc.get("version") != KEY_SLOT_VERSION:
        raise UnsupportedVersionError(f"key slot version {doc.get('version')!r} is not supported")
    return doc


def open_key_slot(raw: bytes, secret: bytes) -> MasterKey | None:
    """Return the master key if ``secret`` opens this slot, else None."""
    doc = parse_key_slot(raw)
    kdf = doc["kdf"]
    params = KdfParams(
        kdf["algorithm"],
        _unb64(kdf["salt"]),
        int(kdf["time_cost"]),
        int(kdf["memory_kib"]),
        int(kdf["parallelism"]),
    )
    try:
        kek = derive_kek(secret, params)
        from kaikyo.core.crypto.aead import Cipher  # after Argon2id has freed its memory

        master = Cipher(kek).open(_unb64(doc["wrapped"]), KIND_KEY)
    except IntegrityError:
        return None
    return MasterKey.from_secret(master)


def open_any_slot(slots: Iterable[tuple[str, bytes]], password: str) -> tuple[MasterKey, str]:
    """The master key from the first slot ``(name, bytes)`` that ``password`` opens, and that
    slot's name: a passphrase slot with the passphrase, or a recovery slot with a recovery key
    given as the passphrase. Slots that do not parse are skipped."""
    candidates = [password.encode()]
    try:
        candidates.append(recovery_secret(password))
    except WrongPasswordError:
        pass
    for name, raw in slots:
        try:
            kind = parse_key_slot(raw).get("kind")
        except IntegrityError:
            continue
        for secret in candidates:
            if (kind == "recovery") != (secret is not candidates[0]):
                continue
            master = open_key_slot(raw, secret)
            if master is not None:
                return master, name
    raise WrongPasswordError("wrong passphrase: no key slot of this repository opens with it")


def generate_recovery_key() -> str:
    """A 256-bit recovery key, printed once, in groups people can copy."""
    raw = secrets.token_hex(32)
    return "-".join(raw[i : i + 8] for i in range(0, 64, 8))


def recovery_secret(text: str) -> bytes:
    cleaned = text.strip().replace("-", "").replace(" ", "").lower()
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raise WrongPasswordError("the recovery key is not valid (expected 64 hex digits)") from None
    if len(raw) != 32:
        raise WrongPasswordError("the recovery key is not valid (expected 64 hex digits)")
    return raw
