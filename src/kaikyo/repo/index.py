"""The master index: blob id -> (type, pack, offset, length), compact in memory.

Loaded entries live in sorted NumPy columns, 48 bytes per blob: the id as four 64-bit words
(the first sorted, for ``searchsorted``), pack number with the blob type in its top bit, offset,
stored length and raw length. Entries added during a session sit in a small dict until
:meth:`MasterIndex.freeze` merges them. A dict of tuples would cost about 200 bytes per blob;
restic uses 60-90 and Borg 106-164.

Several entries for one id may exist (a blob stored twice by concurrent writers or an
interrupted prune); any of them is valid, and :meth:`lookup` returns one.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kaikyo.core.constants import PACK_ENTRY_SIZE
from kaikyo.core.format.index import iter_index_tables
from kaikyo.core.format.pack import PackEntry
from kaikyo.errors import IntegrityError

_TYPE_BIT = np.uint32(1 << 31)
_PACK = struct.Struct("<32sI")
_ENTRY_DTYPE = np.dtype(
    [("type", "u1"), ("id", ">u8", (4,)), ("offset", "<u4"), ("length", "<u4"), ("raw", "<u4")]
)
assert _ENTRY_DTYPE.itemsize == PACK_ENTRY_SIZE

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class BlobLocation:
    blob_type: int
    pack_id: bytes
    offset: int
    length: int
    raw_length: int


@dataclass(frozen=True, slots=True)
class Locations:
    """Columns of :meth:`MasterIndex.locate_many`, one row per queried id."""

    found: npt.NDArray[np.bool_]
    blob_type: npt.NDArray[np.uint8]
    pack: U32  # pack number: see MasterIndex.pack_id
    offset: U32
    length: U32
    raw_length: U32


def _empty_u64(shape: tuple[int, ...]) -> U64:
    return np.zeros(shape, dtype=np.uint64)


class MasterIndex:
    def __init__(self) -> None:
        self._packs: list[bytes] = []
        self._pack_no: dict[bytes, int] = {}
        self._hi: U64 = _empty_u64((0,))
        self._rest: U64 = _empty_u64((0, 3))
        self._pack: U32 = np.zeros(0, dtype=np.uint32)
        self._offset: U32 = np.zeros(0, dtype=np.uint32)
        self._length: U32 = np.zeros(0, dtype=np.uint32)
        self._raw: U32 = np.zeros(0, dtype=np.uint32)
        self._delta: dict[bytes, tuple[int, int, int, int, int]] = {}
        self._pending: list[tuple[U64, U32, U32, U32, U32]] = []

    # ---- building -------------------------------------------------------------------------

    def pack_number(self, pack_id: bytes) -> int:
        no = self._pack_no.get(pack_id)
        if no is None:
            no = len(self._packs)
            self._packs.append(pack_id)
            self._pack_no[pack_id] = no
        return no

    def add_pack(self, pack_id: bytes, entries: Iterable[PackEntry]) -> None:
        no = self.pack_number(pack_id)
        for e in entries:
            self._delta[e.blob_id] = (e.blob_type, no, e.offset, e.length, e.raw_length)

    def add_index_plain(self, plain: bytes, what: str = "index") -> list[bytes]:
        """Add every entry of a decoded index file; returns the pack ids it lists."""
        packs: list[bytes] = []
        tables: list[memoryview] = []
        numbers: list[int] = []
        counts: list[int] = []
        for pack_id, raw_table, count in iter_index_tables(plain, what):
            tables.append(raw_table)
            numbers.append(self.pack_number(pack_id))
            counts.append(count)
            packs.append(pack_id)
        # One conversion per index file, not per pack: thousands of tiny arrays would cost
        # more memory in headers than the entries themselves.
        table = np.frombuffer(b"".join(tables), dtype=_ENTRY_DTYPE)
        if len(table) and int(table["type"].max()) > 1:
            raise IntegrityError(f"{what}: unknown blob type")
        pack_col = (
            np.repeat(np.array(numbers, dtype=np.uint32), counts)
            | (table["type"].astype(np.uint32) << np.uint32(31))
        ).astype(np.uint32)
        self._pending.append(
            (
                table["id"].astype(np.uint64),
                pack_col,
                table["offset"].astype(np.uint32),
                table["length"].astype(np.uint32),
                table["raw"].astype(np.uint32),
            )
        )
        return packs

    def freeze(self) -> None:
        """Merge everything added since the last freeze into the sorted compact columns."""
        if not self._delta and not self._pending:
            return
        parts = list(self._pending)
        if self._delta:
            n = len(self._delta)
            ids = np.frombuffer(b"".join(self._delta.keys()), dtype=">u8").reshape(n, 4)
            vals = np.array(list(self._delta.values()), dtype=np.uint64).reshape(n, 5)
            pack_col = (
                vals[:, 1].astype(np.uint32) | (vals[:, 0].astype(np.uint32) << np.uint32(31))
            ).astype(np.uint32)
            parts.append(
                (
                    ids.astype(np.uint64),
                    pack_col,
                    vals[:, 2].astype(np.uint32),
                    vals[:, 3].astype(np.uint32),
                    vals[:, 4].astype(np.uint32),
                )
            )
        all_ids = (
            np.concatenate([np.column_stack([self._hi, self._rest])] + [p[0] for p in parts])
            if len(self._hi)
            else np.concatenate([p[0] for p in parts])
        )
        cols = [
            np.concatenate([old] + [p[i] for p in parts])
            for i, old in enumerate((self._pack, self._offset, self._length, self._raw), start=1)
        ]
        order = np.lexsort(all_ids.T[::-1])
        all_ids = all_ids[order]
        self._hi = np.ascontiguousarray(all_ids[:, 0])
        self._rest = np.ascontiguousarray(all_ids[:, 1:])
        self._pack, self._offset, self._length, self._raw = (c[order] for c in cols)
        self._delta = {}
        self._pending = []

    def retain_stored(self, sizes: dict[bytes, int], trailer: int) -> dict[bytes, int]:
        """Drop every entry whose pack is not stored, or ends beyond the stored pack.

        ``sizes`` maps each stored pack to its size; an entry must end at least ``trailer``
        bytes before that. An index file may be an old one replayed after a prune, or name a
        pack that was lost or truncated: a backup must never take such a blob as already
        stored, nor a prune as a copy it may rely on. Returns, per pack that lost entries,
        how many (a pack no longer stored loses all of its entries).
        """
        self.freeze()
        if not len(self._hi):
            return {}
        limit = np.array(
            [sizes[p] - trailer if p in sizes else -1 for p in self._packs], dtype=np.int64
        )
        numbers = (self._pack & np.uint32(0x7FFFFFFF)).astype(np.int64)
        ends = self._offset.astype(np.int64) + self._length.astype(np.int64)
        bad = ends > limit[numbers]
        if not bad.any():
            return {}
        dropped_per_pack = np.bincount(numbers[bad], minlength=len(self._packs))
        keep = ~bad
        self._hi, self._rest = self._hi[keep], self._rest[keep]
        self._pack, self._offset = self._pack[keep], self._offset[keep]
        self._length, self._raw = self._length[keep], self._raw[keep]
        return {
            self._packs[int(no)]: int(dropped_per_pack[no])
            for no in np.flatnonzero(dropped_per_pack).tolist()
        }

    def drop_pack(self, pack_id: bytes) -> None:
        """Forget every entry of one pack (it was deleted)."""
        self.freeze()
        no = self._pack_no.get(pack_id)
        if no is None:
            return
        keep = (self._pack & np.uint32(0x7FFFFFFF)) != np.uint32(no)
        self._hi, self._rest = self._hi[keep], self._rest[keep]
        self._pack, self._offset = self._pack[keep], self._offset[keep]
        self._length, self._raw = self._length[keep], self._raw[keep]

    # ---- queries ----------------------------------------------------------------------------

    def _find(self, blob_id: bytes) -> int:
        if self._pending:
            self.freeze()
        w0, w1, w2, w3 = struct.unpack(">4Q", blob_id)
        hi = self._hi
        i = int(hi.searchsorted(np.uint64(w0)))
        n = len(hi)
        while i < n and int(hi[i]) == w0:
            r = self._rest[i]
            if int(r[0]) == w1 and int(r[1]) == w2 and int(r[2]) == w3:
                return i
            i += 1
        return -1

    def lookup(self, blob_id: bytes) -> BlobLocation | None:
        d = self._delta.get(blob_id)
        if d is not None:
            return BlobLocation(d[0], self._packs[d[1]], d[2], d[3], d[4])
        i = self._find(blob_id)
        if i < 0:
            return None
        p = int(self._pack[i])
        return BlobLocation(
            p >> 31,
            self._packs[p & 0x7FFFFFFF],
            int(self._offset[i]),
            int(self._length[i]),
            int(self._raw[i]),
        )

    def __contains__(self, blob_id: bytes) -> bool:
        return blob_id in self._delta or self._find(blob_id) >= 0

    def contains_many(self, blob_ids: list[bytes]) -> list[bool]:
        """Vectorised membership test for a batch of ids (the backup hot path)."""
        if not blob_ids:
            return []
        if self._pending:
            self.freeze()
        n = len(self._hi)
        result = [b in self._delta for b in blob_ids]
        if n == 0:
            return result
        q = np.frombuffer(b"".join(blob_ids), dtype=">u8").reshape(-1, 4).astype(np.uint64)
        pos = self._hi.searchsorted(q[:, 0])
        for k, i in enumerate(pos.tolist()):
            if result[k]:
                continue
            w = q[k]
            while i < n and self._hi[i] == w[0]:
                if (self._rest[i] == w[1:]).all():
                    result[k] = True
                    break
                i += 1
        return result

    def locate_many(self, blob_ids: bytes | bytearray | memoryview) -> Locations:
        """Vectorised :meth:`lookup` of concatenated 32-byte ids (restore plans every chunk of
        a snapshot at once). Where an id has several entries, the same one as :meth:`lookup`.
        ``found`` is False for an id that is not indexed (its other columns are then 0)."""
        if self._pending:
            self.freeze()
        q = np.frombuffer(blob_ids, dtype=">u8").reshape(-1, 4)
        n = len(q)
        at = np.full(n, -1, dtype=np.int64)
        size = len(self._hi)
        if size and n:
            hi = q[:, 0].astype(np.uint64)
            pos = self._hi.searchsorted(hi)
            cand = np.minimum(pos, size - 1)
            hit = (
                (pos < size)
                & (self._hi[cand] == hi)
                & (self._rest[cand] == q[:, 1:].astype(np.uint64)).all(axis=1)
            )
            at[hit] = pos[hit]
            # The first entry with this leading word is another id: scan as lookup does.
            for k in np.flatnonzero(~hit & (pos < size) & (self._hi[cand] == hi)).tolist():
                at[k] = self._find(bytes(blob_ids[k * 32 : k * 32 + 32]))
        found = at >= 0
        rows = at[found]
        pack = np.zeros(n, dtype=np.uint32)
        offset, length, raw = (np.zeros(n, dtype=np.uint32) for _ in range(3))
        pack[found] = self._pack[rows]
        offset[found] = self._offset[rows]
        length[found] = self._length[rows]
        raw[found] = self._raw[rows]
        if self._delta:
            for k in range(n):
                d = self._delta.get(bytes(blob_ids[k * 32 : k * 32 + 32]))
                if d is not None:
                    found[k] = True
                    pack[k] = d[1] | (d[0] << 31)
                    offset[k], length[k], raw[k] = d[2], d[3], d[4]
        return Locations(
            found,
            (pack >> np.uint32(31)).astype(np.uint8),
            pack & np.uint32(0x7FFFFFFF),
            offset,
            length,
            raw,
        )

    def pack_id(self, number: int) -> bytes:
        """The pack id behind a pack number of :meth:`locate_many`."""
        return self._packs[number]

    def __len__(self) -> int:
        return len(self._hi) + len(self._delta) + sum(len(p[0]) for p in self._pending)

    def pack_ids(self) -> list[bytes]:
        """The packs that hold at least one indexed blob."""
        self.freeze()
        numbers = np.unique(self._pack & np.uint32(0x7FFFFFFF)).tolist()
        return [self._packs[no] for no in numbers]

    def nbytes(self) -> int:
        """Bytes held by the compact columns (what the 48-bytes-per-blob goal measures)."""
        return sum(
            a.nbytes
            for a in (self._hi, self._rest, self._pack, self._offset, self._length, self._raw)
        )

    def entries(self) -> Iterator[tuple[bytes, PackEntry]]:
        """Every (pack id, entry), frozen part first; for check, prune and index rewrites."""
        self.freeze()
        ids = np.column_stack([self._hi, self._rest]).astype(">u8").tobytes()
        for i in range(len(self._hi)):
            p = int(self._pack[i])
            yield (
                self._packs[p & 0x7FFFFFFF],
                PackEntry(
                    p >> 31,
                    ids[i * 32 : i * 32 + 32],
                    int(self._offset[i]),
                    int(self._length[i]),
                    int(self._raw[i]),
                ),
            )

    def by_pack(self) -> dict[bytes, list[PackEntry]]:
        out: dict[bytes, list[PackEntry]] = {}
        for pack_id, entry in self.entries():
            out.setdefault(pack_id, []).append(entry)
        return out
