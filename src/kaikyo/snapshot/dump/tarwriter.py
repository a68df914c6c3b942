"""A directory of a snapshot as a POSIX (pax) tar stream.

Headers are made by the standard library (``tarfile.TarInfo.tobuf``, pax format); the stream
around them is written here: ``tarfile.open(mode="w|")`` would keep a ``TarInfo`` for every
member until the end (memory growing with the tree) and re-slices its buffer at every 10 KiB
record (time growing with the square of a chunk's size). So a member is its header, its
chunks as they are loaded, and the zeros that pad it to a block.

Names are the snapshot's bytes (``surrogateescape``: a name that is not UTF-8 is stored as it
is, with pax's ``hdrcharset=BINARY``); times keep their nanoseconds (pax ``mtime``); owners
by number and name; extended attributes as ``SCHILY.xattr.*`` records (as GNU tar and
restic write them); the second and later names of a hard-linked file as links to the first.
A socket cannot be archived: it is left out with a warning (as GNU tar does).
"""

from __future__ import annotations

import base64
import os
import tarfile
from collections.abc import Iterable

from kaikyo.core.format.tree import NodeType, TreeNode
from kaikyo.repo import Repository
from kaikyo.snapshot.dump.stream import Counted, DumpResult, Sink, file_chunks

BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE

_TYPES = {
    NodeType.FILE: tarfile.REGTYPE,
    NodeType.DIR: tarfile.DIRTYPE,
    NodeType.SYMLINK: tarfile.SYMTYPE,
    NodeType.FIFO: tarfile.FIFOTYPE,
    NodeType.CHARDEV: tarfile.CHRTYPE,
    NodeType.BLOCKDEV: tarfile.BLKTYPE,
}


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def pax_time(ns: int) -> str:
    """Nanoseconds as pax writes a time: exact decimal seconds (no float in between)."""
    whole, frac = divmod(abs(ns), 1_000_000_000)
    text = f"{whole}.{frac:09d}".rstrip("0").rstrip(".")
    return "-" + text if ns < 0 else text


def _xattrs(node: TreeNode, shown: str, warnings: list[str]) -> dict[str, str]:
    records: dict[str, str] = {}
    for name, value in node.xattrs or []:
        if "=" in name or not name.isprintable() or not _encodable(name):
            warnings.append(f"{shown}: extended attribute {name!r} cannot be named in a tar")
            continue
        records["SCHILY.xattr." + name] = _text(base64.b64decode(value))
    return records


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def header(name: bytes, node: TreeNode, warnings: list[str]) -> tarfile.TarInfo:
    """The member for ``node`` at ``name`` (without a leading '/')."""
    shown = name.decode("utf-8", "backslashreplace")
    info = tarfile.TarInfo(_text(name))
    info.type = _TYPES[node.type]
    info.mode = (node.mode or 0) & 0o7777
    info.uid, info.gid = node.uid or 0, node.gid or 0
    info.uname, info.gname = node.user or "", node.group or ""
    mtime = node.mtime or 0
    info.mtime = mtime // 1_000_000_000
    pax = _xattrs(node, shown, warnings)
    if mtime % 1_000_000_000 or not 0 <= info.mtime < 8**11:
        pax["mtime"] = pax_time(mtime)
    info.pax_headers = pax
    if node.type is NodeType.FILE:
        info.size = node.size or 0
    elif node.type is NodeType.SYMLINK:
        info.linkname = _text(node.target or b"")
    elif node.type in (NodeType.CHARDEV, NodeType.BLOCKDEV):
        info.devmajor, info.devminor = os.major(node.rdev or 0), os.minor(node.rdev or 0)
    return info


def write_tar(
    repo: Repository, entries: Iterable[tuple[bytes, TreeNode]], sink: Sink
) -> DumpResult:
    """Write ``entries`` (archive name, node), parents before children, as a tar to ``sink``."""
    out = Counted(sink)
    result = DumpResult()
    first_name: dict[tuple[int, int], str] = {}  # (dev, inode) of a hard-linked file
    for name, node in entries:
        shown = name.decode("utf-8", "backslashreplace")
        if node.type not in _TYPES:
            result.warnings.append(f"{shown}: a {node.type.value} cannot be archived; left out")
            continue
        info = header(name, node, result.warnings)
        link = _hard_link(node)
        if link is not None and link in first_name:
            info.type, info.size, info.linkname = tarfile.LNKTYPE, 0, first_name[link]
        elif link is not None:
            first_name[link] = info.name
        out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if info.type == tarfile.REGTYPE:
            for data in file_chunks(repo, node, shown):
                out.write(data)
            out.write(bytes(-info.size % BLOCK))
        result.entries += 1
    out.write(bytes(2 * BLOCK))  # the end of the archive
    out.write(bytes(-out.written % RECORD))  # a whole record, as tar(1) writes
    out.flush()
    result.bytes = out.written
    return result


def _hard_link(node: TreeNode) -> tuple[int, int] | None:
    if node.type is NodeType.FILE and (node.links or 1) > 1 and node.inode is not None:
        return (node.dev or 0, node.inode)
    return None
