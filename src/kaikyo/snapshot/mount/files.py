"""An open file of the mount: where each chunk starts, and reads at any offset.

Opening locates every chunk in the index (its plaintext length gives where the next one
starts), so a read at any offset loads only the chunks it covers. A file whose chunks do not
add up to the size its tree records is refused when opened, as ``dump`` refuses it: what a
reader would get past the damage is not the file.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from kaikyo.core.format.tree import TreeNode
from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError
from kaikyo.snapshot.mount.blobs import Blobs


@dataclass(frozen=True, slots=True)
class OpenFile:
    """A regular file's chunks and their starts (``starts[i]``: chunk i's first byte;
    ``starts[-1]``: the size)."""

    path: bytes
    blob_ids: list[bytes]
    starts: list[int]

    @property
    def size(self) -> int:
        return self.starts[-1]


def open_file(blobs: Blobs, path: bytes, node: TreeNode) -> OpenFile:
    """``node``'s chunks located (IntegrityError if one is not in the index, or if they do
    not add up to the recorded size)."""
    ids = node.blob_ids()
    starts = [0]
    for blob_id in ids:
        starts.append(starts[-1] + blobs.location(blob_id).raw_length)
    size = node.size or 0
    if starts[-1] != size:
        raise IntegrityError(
            f"its chunks hold {starts[-1]} bytes, the snapshot records {size}"
            f" (first chunk {short(ids[0])})"
            if ids
            else f"it has no chunks, the snapshot records {size} bytes"
        )
    return OpenFile(path, ids, starts)


def read_range(blobs: Blobs, f: OpenFile, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes from ``offset`` (fewer at the end of the file), loading only the
    chunks they lie in."""
    end = min(offset + size, f.size)
    if offset >= end:
        return b""
    i = bisect.bisect_right(f.starts, offset) - 1
    parts = []
    pos = offset
    while pos < end:
        data = blobs.load(f.blob_ids[i])
        lo = pos - f.starts[i]
        hi = min(end, f.starts[i + 1]) - f.starts[i]
        parts.append(data[lo:hi] if lo or hi != len(data) else data)
        pos = f.starts[i] + hi
        i += 1
    return parts[0] if len(parts) == 1 else b"".join(parts)
