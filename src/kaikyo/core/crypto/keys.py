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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kaikyo.core.constants import KDF_ARGON2ID, KDF_RECOVERY, KIND_KEY
from kaikyo.core.crypto.kdf import KdfParams, derive_kek, hkdf
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


class SlotRefused(IntegrityError):
    """A key slot that does not parse, or that asks for more key-derivation work than any
    slot kaikyo makes: it is skipped, never tried."""


# What a slot may ask of Argon2id. kaikyo makes t=4, m=48 MiB, p=2; these bounds leave room
# for stronger settings while a planted slot cannot allocate gigabytes or take minutes.
MAX_TIME_COST = 8
MAX_MEMORY_KIB = 256 * 1024
MAX_PARALLELISM = 8
_SALT_SIZES = range(8, 65)
_WRAPPED_SIZE = 12 + MASTER_SIZE + 16  # nonce | sealed master secret | tag
_KINDS = ("passphrase", "recovery")


def _bounded_int(kdf: dict[str, Any], key: str, low: int, high: int) -> int:
    value = kdf.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SlotRefused(f"key slot's {key} is not a whole number")
    if not low <= value <= high:
        raise SlotRefused(f"key slot's {key} {value} is outside kaikyo's bounds ({low}-{high})")
    return value


def _b64_field(doc: dict[str, Any], key: str) -> bytes:
    value = doc.get(key)
    if not isinstance(value, str):
        raise SlotRefused(f"key slot's {key} is missing")
    try:
        return _unb64(value)
    except ValueError:
        raise SlotRefused(f"key slot's {key} is not base64") from None


def slot_params(doc: dict[str, Any]) -> KdfParams:
    """The key-derivation parameters of a parsed slot, checked against kaikyo's bounds."""
    kdf = doc.get("kdf")
    if not isinstance(kdf, dict):
        raise SlotRefused("key slot has no kdf parameters")
    algorithm = kdf.get("algorithm")
    salt = _b64_field(kdf, "salt")
    if len(salt) not in _SALT_SIZES:
        raise SlotRefused(f"key slot's salt of {len(salt)} bytes is not accepted")
    if algorithm == KDF_RECOVERY:
        return KdfParams(KDF_RECOVERY, salt, 0, 0, 0)
    if algorithm != KDF_ARGON2ID:
        raise UnsupportedVersionError(f"key slot uses an unknown key derivation {algorithm!r}")
    parallelism = _bounded_int(kdf, "parallelism", 1, MAX_PARALLELISM)
    memory = _bounded_int(kdf, "memory_kib", 8 * parallelism, MAX_MEMORY_KIB)
    return KdfParams(
        KDF_ARGON2ID, salt, _bounded_int(kdf, "time_cost", 1, MAX_TIME_COST), memory, parallelism
    )


def parse_key_slot(raw: bytes) -> dict[str, Any]:
    """A key slot's JSON, every field a reader uses checked: raises SlotRefused (malformed,
    or beyond the KDF bounds) or UnsupportedVersionError (a version this kaikyo lacks)."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise SlotRefused(f"key slot is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise SlotRefused("key slot is not a JSON object")
    if doc.get("version") != KEY_SLOT_VERSION:
        raise UnsupportedVersionError(f"key slot version {doc.get('version')!r} is not supported")
    if doc.get("kind", "passphrase") not in _KINDS:
        raise SlotRefused(f"key slot kind {doc.get('kind')!r} is unknown")
    params = slot_params(doc)
    if (params.algorithm == KDF_RECOVERY) != (doc.get("kind") == "recovery"):
        raise SlotRefused("key slot's kind and key derivation do not match")
    if len(_b64_field(doc, "wrapped")) != _WRAPPED_SIZE:
        raise SlotRefused("key slot's wrapped key has the wrong length")
    for key in ("host", "user"):
        if not isinstance(doc.get(key, ""), str):
            raise SlotRefused(f"key slot's {key} is not a string")
    return doc


def open_key_slot(raw: bytes, secret: bytes) -> MasterKey | None:
    """Return the master key if ``secret`` opens this slot, else None."""
    doc = parse_key_slot(raw)
    params = slot_params(doc)
    try:
        kek = derive_kek(secret, params)
        from kaikyo.core.crypto.aead import Cipher  # after Argon2id has freed its memory

        master = Cipher(kek).open(_unb64(doc["wrapped"]), KIND_KEY)
    except IntegrityError:
        return None
    return MasterKey.from_secret(master)


def open_any_slot(
    slots: Iterable[tuple[str, bytes]],
    password: str,
    on_refused: Callable[[str, str], None] | None = None,
) -> tuple[MasterKey, str]:
    """The master key from the first slot ``(name, bytes)`` that ``password`` opens, and that
    slot's name: a passphrase slot with the passphrase, or a recovery slot with a recovery key
    given as the passphrase. Slots that do not parse, of an unknown version or beyond the KDF
    bounds are skipped and passed to ``on_refused(name, reason)``."""
    candidates = [password.encode()]
    try:
        candidates.append(recovery_secret(password))
    except WrongPasswordError:
        pass
    for name, raw in slots:
        try:
            kind = parse_key_slot(raw).get("kind")
        except (IntegrityError, UnsupportedVersionError) as exc:
            if on_refused is not None:
                on_refused(name, exc.message)
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
