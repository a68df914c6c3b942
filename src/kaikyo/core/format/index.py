"""Index-file codec: which blob lives where.

Plaintext: ``version:u8 | (pack_id:32 | count:u32le | entry*)*`` with the pack entry layout;
the whole is compressed and sealed (kind ``kaikyo/index``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from kaikyo.core.constants import INDEX_VERSION, PACK_ENTRY_SIZE
from kaikyo.core.format.pack import PackEntry, decode_entries, encode_entries
from kaikyo.errors import IntegrityError, UnsupportedVersionError

_PACK = struct.Struct("<32sI")


def encode_index(packs: Iterable[tuple[bytes, list[PackEntry]]]) -> bytes:
    parts = [bytes([INDEX_VERSION])]
    for pack_id, entries in packs:
        parts.append(_PACK.pack(pack_id, len(entries)))
        parts.append(encode_entries(entries))
    return b"".join(parts)


def encode_index_raw(packs: Iterable[tuple[bytes, bytes, int]]) -> bytes:
    """Like :func:`encode_index` from already-encoded entry tables (pack_id, table, count)."""
    parts = [bytes([INDEX_VERSION])]
    for pack_id, table, count in packs:
        parts.append(_PACK.pack(pack_id, count))
        parts.append(table)
    return b"".join(parts)


def iter_index_tables(plain: bytes, what: str = "index") -> Iterator[tuple[bytes, memoryview, int]]:
    """Yield (pack id, encoded entry table, entry count) for each pack an index file lists."""
    if not plain:
        raise IntegrityError(f"{what} is empty")
    if plain[0] != INDEX_VERSION:
        raise UnsupportedVersionError(f"{what} has unsupported version {plain[0]}")
    view = memoryview(plain)
    pos = 1
    while pos < len(view):
        if pos + _PACK.size > len(view):
            raise IntegrityError(f"{what} is truncated")
        pack_id, count = _PACK.unpack_from(view, pos)
        pos += _PACK.size
        end = pos + count * PACK_ENTRY_SIZE
        if end > len(view):
            raise IntegrityError(f"{what} is truncated")
        yield pack_id, view[pos:end], count
        pos = end


def decode_index(plain: bytes, what: str = "index") -> list[tuple[bytes, list[PackEntry]]]:
    return [
        (pack_id, list(decode_entries(table, count, what)))
        for pack_id, table, count in iter_index_tables(plain, what)
    ]
