"""``kaikyo dump``: what a snapshot holds at a path, as one byte stream.

A regular file is its bytes; a directory is a tar (:mod:`.tarwriter`) or zip
(:mod:`.zipwriter`) archive of what is below it. Either way the stream is written as the
chunks are loaded, one at a time, to a sink that is never asked to seek (a pipe will do), so
a dump holds one chunk and the path of the walk, whatever the size of the file or the tree.
Where the stream goes (stdout, a file replaced atomically) is the command's business.
"""

from __future__ import annotations

from collections.abc import Iterator

from kaikyo.core.format.tree import TreeNode
from kaikyo.errors import UsageError
from kaikyo.repo import Repository
from kaikyo.snapshot.dump.stream import DumpResult, Sink, dump_file
from kaikyo.snapshot.dump.tarwriter import write_tar
from kaikyo.snapshot.dump.zipwriter import write_zip
from kaikyo.snapshot.trees import load_tree

ARCHIVES = {"tar": write_tar, "zip": write_zip}


def archive_entries(
    repo: Repository, tree_id: bytes | str, prefix: bytes
) -> Iterator[tuple[bytes, TreeNode]]:
    """Everything below the directory ``tree_id``, each directory followed at once by what
    it holds (as tar(1) writes it: GNU tar sets a directory's times once the archive has left
    it), named ``prefix`` (``b""`` or ``b"/a/b"``) + ``/`` + its path below the directory,
    without the leading '/' (an archive's names are relative). Holds the directories on the
    path from the top to the current entry."""
    stack = [(prefix, iter(load_tree(repo, tree_id)))]
    while stack:
        base, nodes = stack[-1]
        node = next(nodes, None)
        if node is None:
            stack.pop()
            continue
        path = base + b"/" + node.name
        yield path[1:], node
        if node.is_dir and node.subtree is not None:
            stack.append((path, iter(load_tree(repo, node.subtree))))


def dump_archive(
    repo: Repository, tree_id: bytes | str, prefix: bytes, sink: Sink, archive: str = "tar"
) -> DumpResult:
    """The directory ``tree_id`` as an ``archive`` ("tar" or "zip") written to ``sink``,
    its entries named as :func:`archive_entries` says."""
    writer = ARCHIVES.get(archive)
    if writer is None:
        raise UsageError(f"unknown archive format {archive!r}", "use tar or zip")
    return writer(repo, archive_entries(repo, tree_id, prefix), sink)


__all__ = ["ARCHIVES", "DumpResult", "Sink", "archive_entries", "dump_archive", "dump_file"]
