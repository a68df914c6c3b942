"""The files cache: lets an incremental backup skip unchanged files without reading them.

Per repository, a local file maps absolute path bytes to one bytes value: ``size:u64 |
mtime_ns:i64 | ctime_ns:i64 | inode:u64 | blob id*`` (one object per file instead of a tuple of
five keeps a cache of millions of files small in memory). An entry is trusted only when all
four stat fields match and every blob is still in the repository index (a prune may have
removed it). Written atomically after a snapshot is
saved, so a crashed backup never leaves a cache that names unsaved data. ``marshal`` keeps it
fast to load and, unlike pickle, cannot run code.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import struct
from pathlib import Path

Entry = bytes
CACHE_VERSION = 2
STAT = struct.Struct("<QqqQ")


def make_entry(size: int, mtime_ns: int, ctime_ns: int, inode: int, ids: bytes) -> Entry:
    return STAT.pack(size, mtime_ns, ctime_ns, inode) + ids


def matches(entry: Entry, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> bool:
    return len(entry) >= STAT.size and STAT.unpack_from(entry) == (size, mtime_ns, ctime_ns,
                                                                     inode)


def blob_ids(entry: Entry) -> bytes:
    return entry[STAT.size :]


def load(path: Path | None) -> dict[bytes, Entry]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as fh:
            version, entries = marshal.load(fh)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if version != CACHE_VERSION or not isinstance(entries, dict):
        return {}
    return entries


def save(path: Path | None, entries: dict[bytes, Entry]) -> None:
    if path is None:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            marshal.dump((CACHE_VERSION, entries), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
