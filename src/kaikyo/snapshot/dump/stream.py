"""What every form of a dump shares: the sink it writes to, counted, and a file's bytes
streamed into it one chunk at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from kaikyo.core.format.tree import TreeNode
from kaikyo.errors import IntegrityError
from kaikyo.repo import Repository


class Sink(Protocol):
    """Where a dump goes: stdout's binary buffer, a file, a pipe. Never asked to seek."""

    def write(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def flush(self) -> object: ...


@dataclass
class DumpResult:
    """What a dump wrote: ``bytes`` to its sink, ``entries`` (a file: 1; an archive: its
    members), and what it had to leave out or change, one line each."""

    bytes: int = 0
    entries: int = 0
    warnings: list[str] = field(default_factory=list)


class Counted:
    """A sink that counts what passes through it and says where it is (``tell``) but cannot
    seek, so ``zipfile`` streams (data descriptors) to a file exactly as to a pipe."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        self.sink.write(data)
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        self.sink.flush()

    def close(self) -> None:
        """Nothing: the sink is its owner's to close."""


def file_chunks(repo: Repository, node: TreeNode, shown: str) -> Iterator[bytes]:
    """A file's bytes, chunk by chunk in order, each loaded (and authenticated) when asked
    for: a dump holds one chunk, never the file. Raises when the chunks do not add up to the
    size the tree records, before a byte beyond it is given out (an archive's header has
    already promised that size)."""
    size = node.size or 0
    total = 0
    for blob_id in node.blob_ids():
        data = repo.load_blob(blob_id)
        total += len(data)
        if total > size:
            break
        yield data
    if total != size:
        raise IntegrityError(
            f"{shown}: its chunks hold {total} bytes, the snapshot records {size}"
            if total < size
            else f"{shown}: its chunks hold more than the {size} bytes the snapshot records"
        )


def dump_file(repo: Repository, node: TreeNode, sink: Sink, shown: str) -> DumpResult:
    """A regular file's bytes into ``sink``."""
    out = Counted(sink)
    for data in file_chunks(repo, node, shown):
        out.write(data)
    out.flush()
    return DumpResult(bytes=out.written, entries=1)
