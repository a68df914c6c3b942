"""A directory of a snapshot as a zip stream, the way Info-ZIP writes one on Unix.

``zipfile`` writes it to a sink it cannot seek in, so every member is followed by a data
descriptor (its CRC and sizes): nothing is held but the central directory (one ``ZipInfo`` a
member, as any zip needs). Files are deflated, chunk by chunk as they are loaded; a member's
size is set before it is written, so files over 4 GiB get zip64 headers.

What a zip holds of a node: the permission bits and type in the Unix half of
``external_attr``; a symlink as its target, stored as the member's content with the symlink
type bits (Info-ZIP's convention); the mtime as a DOS time (local, 2-second steps, 1980-2107)
and, exactly to the second, in an extended-timestamp field (UTC), with the owner in a Unix
``ux`` field (uid and gid). Names are the snapshot's bytes: UTF-8 is flagged as such, a name
that is not UTF-8 is stored as its bytes, unflagged (as Info-ZIP does). Hard links become
regular files; fifos, devices and sockets have no zip form and are left out with a warning.
"""

from __future__ import annotations

import stat
import struct
import time
import zipfile
from collections.abc import Iterable

from kaikyo.core.format.tree import NodeType, TreeNode
from kaikyo.repo import Repository
from kaikyo.snapshot.dump.stream import Counted, DumpResult, Sink, file_chunks

_UTF8_FLAG = 0x800
_MSDOS_DIR = 0x10
EXTENDED_TIME = 0x5455  # "UT": mtime as signed 32-bit seconds since the epoch (UTC)
UNIX_OWNER = 0x7875  # "ux": version 1, uid and gid as 4-byte numbers
_DOS_FIRST = (1980, 1, 1, 0, 0, 0)
_DOS_LAST = (2107, 12, 31, 23, 59, 58)
_FORMATS = {
    NodeType.FILE: stat.S_IFREG,
    NodeType.DIR: stat.S_IFDIR,
    NodeType.SYMLINK: stat.S_IFLNK,
}


class RawNameInfo(zipfile.ZipInfo):
    """A member named by bytes: ``zipfile`` itself would refuse a name that is not UTF-8."""

    __slots__ = ("raw_name",)

    def __init__(self, raw_name: bytes, date_time: tuple[int, int, int, int, int, int]) -> None:
        super().__init__(raw_name.decode("utf-8", "surrogateescape"), date_time)
        self.raw_name = raw_name

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 - zipfile's name
        try:
            self.raw_name.decode("utf-8")
        except UnicodeDecodeError:
            return self.raw_name, self.flag_bits & ~_UTF8_FLAG
        if self.raw_name.isascii():
            return self.raw_name, self.flag_bits
        return self.raw_name, self.flag_bits | _UTF8_FLAG


def dos_time(seconds: int) -> tuple[int, int, int, int, int, int]:
    """The DOS date and time of ``seconds`` (local time, as unzip restores it), clamped to
    what a DOS time can say."""
    try:
        t = time.localtime(seconds)
    except (OverflowError, OSError, ValueError):
        return _DOS_FIRST if seconds < 0 else _DOS_LAST
    local = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, min(t.tm_sec, 59))
    return _DOS_FIRST if local < _DOS_FIRST else _DOS_LAST if local > _DOS_LAST else local


def _extra(node: TreeNode, seconds: int) -> bytes:
    clamped = max(-(2**31), min(2**31 - 1, seconds))
    extra = struct.pack("<HHBi", EXTENDED_TIME, 5, 1, clamped)
    uid, gid = node.uid or 0, node.gid or 0
    if 0 <= uid < 2**32 and 0 <= gid < 2**32:
        extra += struct.pack("<HHBBIBI", UNIX_OWNER, 11, 1, 4, uid, 4, gid)
    return extra


def member(name: bytes, node: TreeNode) -> RawNameInfo:
    """The member for ``node`` at ``name`` (without a leading '/')."""
    seconds = (node.mtime or 0) // 1_000_000_000
    is_dir = node.type is NodeType.DIR
    info = RawNameInfo(name + b"/" if is_dir else name, dos_time(seconds))
    perm = (node.mode or 0) & 0o7777
    if node.type is NodeType.SYMLINK and not perm:
        perm = 0o777
    info.external_attr = (_FORMATS[node.type] | perm) << 16 | (_MSDOS_DIR if is_dir else 0)
    info.extra = _extra(node, seconds)
    info.compress_type = zipfile.ZIP_DEFLATED if node.type is NodeType.FILE else zipfile.ZIP_STORED
    info.file_size = (node.size or 0) if node.type is NodeType.FILE else 0
    info.compress_size, info.CRC = 0, 0
    return info


def write_zip(
    repo: Repository, entries: Iterable[tuple[bytes, TreeNode]], sink: Sink
) -> DumpResult:
    """Write ``entries`` (archive name, node) as a zip to ``sink``."""
    out = Counted(sink)
    result = DumpResult()
    with zipfile.ZipFile(out, "w") as archive:
        for name, node in entries:
            shown = name.decode("utf-8", "backslashreplace")
            if node.type not in _FORMATS:
                result.warnings.append(f"{shown}: a zip cannot hold a {node.type.value}; left out")
                continue
            info = member(name, node)
            if node.type is NodeType.DIR:
                archive.mkdir(info)
            elif node.type is NodeType.SYMLINK:
                archive.writestr(info, node.target or b"")
            else:
                with archive.open(info, "w") as dest:
                    for data in file_chunks(repo, node, shown):
                        dest.write(data)
            result.entries += 1
    out.flush()
    result.bytes = out.written
    return result
