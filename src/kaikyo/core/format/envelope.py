"""Sealed objects and sealed blobs (layouts in :mod:`.constants` and docs/FORMAT.md)."""

from __future__ import annotations

import struct

from kaikyo.core.compression import Compressor
from kaikyo.core.constants import SEALED_VERSION
from kaikyo.core.crypto.aead import Cipher
from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError, UnsupportedVersionError

_U8 = struct.Struct("B")


def seal_object(
    cipher: Cipher, compressor: Compressor, kind: bytes, payload: bytes, compress: bool = True
) -> bytes:
    """Seal a standalone object (config, index, snapshot, lock, pack header)."""
    comp, data = compressor.compress(payload) if compress else (0, payload)
    return _U8.pack(SEALED_VERSION) + cipher.seal(_U8.pack(comp) + bytes(data), kind)


def open_object(
    cipher: Cipher, compressor: Compressor, kind: bytes, sealed: bytes, what: str
) -> bytes:
    if not sealed:
        raise IntegrityError(f"{what} is empty")
    if sealed[0] != SEALED_VERSION:
        raise UnsupportedVersionError(
            f"{what} has unsupported format version {sealed[0]} "
            "(written by a newer kaikyo, or not a kaikyo object)"
        )
    plain = cipher.open(memoryview(sealed)[1:], kind, what)
    return compressor.decompress(plain[0], memoryview(plain)[1:], None)


def blob_aad(blob_type: int, blob_id: bytes) -> bytes:
    return _U8.pack(blob_type) + blob_id


def seal_blob(
    cipher: Cipher, blob_type: int, blob_id: bytes, comp: int, payload: bytes | memoryview
) -> bytes:
    """Encrypt one (already compressed) chunk; the id and type are bound as associated data."""
    return cipher.seal(_U8.pack(comp) + bytes(payload), blob_aad(blob_type, blob_id))


def open_blob(
    cipher: Cipher,
    compressor: Compressor,
    blob_type: int,
    blob_id: bytes,
    sealed: bytes | memoryview,
    raw_length: int | None,
) -> bytes:
    plain = cipher.open(sealed, blob_aad(blob_type, blob_id), f"blob {short(blob_id)}")
    return compressor.decompress(plain[0], memoryview(plain)[1:], raw_length)
