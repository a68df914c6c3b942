"""Source blob id -> destination blob id: what ``copy`` has named anew.

Blob ids are keyed hashes (:mod:`kaikyo.core.hashing`), and two repositories have two keys:
the same plaintext has one id in the source and another in the destination. A copy reads each
blob, stores it under its new id, and rewrites every tree with the new ids; this map is how
the rewriting finds them, and how a run copying several snapshots reads a chunk they share
once.

Sorted NumPy columns of 32-byte ids: 64 bytes a blob (a dict of bytes would cost about 230),
as a copy of a large repository names millions of chunks anew.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError

ID = np.dtype("V32")  # compared and sorted byte by byte, as the ids are
Ids = npt.NDArray[np.void]


def _ids(raw: bytes | bytearray | memoryview) -> Ids:
    return np.frombuffer(raw, dtype=ID)


class IdMap:
    """Source ids and, row for row, their destination ids, sorted by source id."""

    def __init__(self) -> None:
        self._src: Ids = np.zeros(0, dtype=ID)
        self._dst: Ids = np.zeros(0, dtype=ID)

    def __len__(self) -> int:
        return len(self._src)

    def _rows(self, query: Ids) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Where each id of ``query`` sits, and whether it is there."""
        pos = np.searchsorted(self._src, query)
        if not len(self._src):
            return pos, np.zeros(len(query), dtype=bool)
        found = (pos < len(self._src)) & (self._src[np.minimum(pos, len(self._src) - 1)] == query)
        return pos, found

    def unknown(self, ids: bytes | bytearray) -> bytes:
        """The distinct ids of ``ids`` (32 bytes each, concatenated) not mapped yet, sorted,
        concatenated."""
        if not ids:
            return b""
        query = np.unique(_ids(ids))
        _, found = self._rows(query)
        return bytes(query[~found].tobytes())

    def add(self, src: bytes | bytearray, dst: bytes | bytearray) -> None:
        """Map each id of ``src`` to the id at the same place in ``dst`` (ids that
        :meth:`unknown` returned: none is mapped yet)."""
        if len(src) != len(dst):
            raise ValueError("source and destination ids differ in number")
        if not src:
            return
        new = _ids(src)
        order = np.argsort(new, kind="stable")
        new, new_dst = new[order], _ids(dst)[order]
        # Inserted where they sort: a run of many snapshots adds to a map of millions each
        # time, and a merge costs a copy where sorting everything again cost n log n.
        at = np.searchsorted(self._src, new)
        self._src = np.insert(self._src, at, new)
        self._dst = np.insert(self._dst, at, new_dst)

    def translate(self, ids: bytes) -> bytes:
        """``ids`` (concatenated) with each replaced by its destination id, in order.

        Raises IntegrityError if one was never mapped: a tree names a blob that the copy did
        not read, which would be a bug here, never a reason to store a foreign id.
        """
        if not ids:
            return b""
        query = _ids(ids)
        pos, found = self._rows(query)
        if not found.all():
            missing = bytes(query[int(np.flatnonzero(~found)[0])].tobytes())
            raise IntegrityError(f"blob {short(missing)} was not copied, yet a tree names it")
        return bytes(self._dst[pos].tobytes())
