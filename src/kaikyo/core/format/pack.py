"""Pack assembly and parsing (pure bytes).

A pack is ``blob* | sealed header | header_len:u32le``. The header lists every blob's type, id,
offset, stored length and raw length; it is sealed, so a store learns only the pack's size. The
pack's object name is the SHA-256 of all its bytes (see :func:`kaikyo.core.ids.object_id`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from kaikyo.core.compression import Compressor
from kaikyo.core.constants import (
    BLOB_TYPES,
    KIND_PACK_HEADER,
    PACK_ENTRY_SIZE,
    PACK_HEADER_VERSION,
    PACK_TRAILER_SIZE,
)
from kaikyo.core.crypto.aead import Cipher
from kaikyo.core.format.envelope import open_object, seal_object
from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError, UnsupportedVersionError

ENTRY = struct.Struct("<B32sIII")
_HEAD = struct.Struct("<BI")
_TRAILER = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class PackEntry:
    blob_type: int
    blob_id: bytes
    offset: int
    length: int
    raw_length: int


def encode_entries(entries: list[PackEntry] | list[tuple[int, bytes, int, int, int]]) -> bytes:
    parts = [
        ENTRY.pack(
            *(
                e
                if isinstance(e, tuple)
                else (e.blob_type, e.blob_id, e.offset, e.length, e.raw_length)
            )
        )
        for e in entries
    ]
    return b"".join(parts)


def decode_entries(raw: memoryview, count: int, what: str) -> Iterator[PackEntry]:
    if len(raw) < count * PACK_ENTRY_SIZE:
        raise IntegrityError(f"{what}: entry table is truncated")
    for t, bid, off, length, raw_len in ENTRY.iter_unpack(raw[: count * PACK_ENTRY_SIZE]):
        if t not in BLOB_TYPES:
            raise IntegrityError(f"{what}: unknown blob type {t}")
        yield PackEntry(t, bid, off, length, raw_len)


def build_trailer(
    cipher: Cipher, compressor: Compressor, entries: list[tuple[int, bytes, int, int, int]]
) -> bytes:
    """The bytes to append after the blobs: sealed header and its length."""
    return build_trailer_raw(cipher, compressor, encode_entries(entries), len(entries))


def build_trailer_raw(
    cipher: Cipher, compressor: Compressor, table: bytes | bytearray, count: int
) -> bytes:
    """Like :func:`build_trailer` from an entry table already encoded (``count`` entries)."""
    plain = _HEAD.pack(PACK_HEADER_VERSION, count) + table
    sealed = seal_object(cipher, compressor, KIND_PACK_HEADER, plain)
    return sealed + _TRAILER.pack(len(sealed))


def header_length(tail: bytes) -> int:
    """Length of the sealed header, read from the pack's last 4 bytes."""
    if len(tail) < PACK_TRAILER_SIZE:
        raise IntegrityError("pack is too short to hold a header")
    return int(_TRAILER.unpack(tail[-PACK_TRAILER_SIZE:])[0])


def parse_header(
    cipher: Cipher, compressor: Compressor, sealed_header: bytes, pack_size: int, what: str
) -> list[PackEntry]:
    plain = open_object(cipher, compressor, KIND_PACK_HEADER, sealed_header, what)
    if len(plain) < _HEAD.size:
        raise IntegrityError(f"{what}: header is truncated")
    version, count = _HEAD.unpack_from(plain)
    if version != PACK_HEADER_VERSION:
        raise UnsupportedVersionError(f"{what}: unsupported pack header version {version}")
    entries = list(decode_entries(memoryview(plain)[_HEAD.size :], count, what))
    limit = pack_size - len(sealed_header) - PACK_TRAILER_SIZE
    for e in entries:
        if e.offset + e.length > limit:
            raise IntegrityError(f"{what}: blob {short(e.blob_id)} lies outside the pack")
    return entries
