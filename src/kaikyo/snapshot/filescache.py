"""The files cache: lets an incremental backup skip unchanged files without reading them.

Per repository, a local file maps each directory's absolute path bytes to ONE bytes value
holding the records of all its regular files, one after another::

    name_len:u16 | entry_len:u32 | name | entry

where an entry is ``size:u64 | mtime_ns:i64 | ctime_ns:i64 | inode:u64 | blob id*`` (32 bytes
each). One object per directory instead of ~3 per file keeps a cache of millions of files small
in memory; a backup decodes a directory's records into a small dict when it enters that
directory and drops it when it leaves. A file given as a backup path is filed under its parent
directory. An entry is trusted only when all four stat fields match and every blob is still in
the repository index (a prune may have removed it). Written atomically after a snapshot is
saved, so a crashed backup never leaves a cache that names unsaved data. ``marshal`` keeps it
fast to load and, unlike pickle, cannot run code. The file is ``marshal`` values one after
another: the version, dicts of up to SAVE_DIRS directories, then None (so saving never
serialises the whole cache at once), then optionally a dict of *ages*. A cache of another
version, truncated or damaged, is ignored: every file is read again, which is always correct.

Directories a backup did not visit (another set of paths backed up into the same repository)
are carried over with their age (backups since they were last seen) and dropped after
MAX_AGE, as Borg does: alternating ``backup /etc`` and ``backup /home`` does not read
everything every time, and the cache of deleted directories does not grow for ever.
"""

from __future__ import annotations

import contextlib
import itertools
import marshal
import os
import struct
from pathlib import Path

Entry = bytes
CACHE_VERSION = 3
STAT = struct.Struct("<QqqQ")
HEAD = struct.Struct("<HI")  # name length, entry length
SAVE_DIRS = 1024
MAX_AGE = 20


def make_entry(size: int, mtime_ns: int, ctime_ns: int, inode: int, ids: bytes) -> Entry:
    return STAT.pack(size, mtime_ns, ctime_ns, inode) + ids


def matches(entry: Entry, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> bool:
    return len(entry) >= STAT.size and STAT.unpack_from(entry) == (size, mtime_ns, ctime_ns,
                                                                     inode)


def blob_ids(entry: Entry) -> bytes:
    return entry[STAT.size :]


def record(name: bytes, entry: Entry) -> bytes:
    """One file's record in its directory's value (the values are these, concatenated)."""
    return HEAD.pack(len(name), len(entry)) + name + entry


def decode_dir(raw: bytes) -> dict[bytes, Entry]:
    """A directory's value as name -> entry; a damaged value (or not bytes) gives {}."""
    files: dict[bytes, Entry] = {}
    pos = end = 0
    unpack = HEAD.unpack_from
    try:
        end = len(raw)
        while pos < end:
            name_len, entry_len = unpack(raw, pos)
            pos += HEAD.size
            name = raw[pos : pos + name_len]
            pos += name_len
            files[name] = raw[pos : pos + entry_len]
            pos += entry_len
    except (struct.error, TypeError):
        return {}
    return files if pos == end else {}


def load(path: Path | None) -> dict[bytes, bytes]:
    """Directory path -> its encoded records; empty if there is no usable cache."""
    return load_with_ages(path)[0]


def load_with_ages(path: Path | None) -> tuple[dict[bytes, bytes], dict[bytes, int]]:
    """The directories and, for those carried over unvisited, how many backups ago they were
    last seen (absent: seen by the last backup)."""
    if path is None:
        return {}, {}
    dirs: dict[bytes, bytes] = {}
    ages: dict[bytes, int] = {}
    try:
        with open(path, "rb") as fh:
            if marshal.load(fh) != CACHE_VERSION:
                return {}, {}
            while (part := marshal.load(fh)) is not None:
                if not isinstance(part, dict):
                    return {}, {}
                dirs.update(part)
            with contextlib.suppress(EOFError):
                tail = marshal.load(fh)
                if isinstance(tail, dict):
                    ages = {k: v for k, v in tail.items() if isinstance(v, int)}
    except (OSError, EOFError, ValueError, TypeError, MemoryError):
        return {}, {}
    return dirs, ages


def carry_over(visited: dict[bytes, bytes], unvisited: dict[bytes, bytes],
               ages: dict[bytes, int]) -> dict[bytes, int]:
    """Add the unvisited directories younger than MAX_AGE to ``visited`` (in place); return
    the ages to save with it."""
    new_ages: dict[bytes, int] = {}
    for path, raw in unvisited.items():
        age = ages.get(path, 0) + 1
        if age <= MAX_AGE and path not in visited:
            visited[path] = raw
            new_ages[path] = age
    return new_ages


def save(path: Path | None, dirs: dict[bytes, bytes], ages: dict[bytes, int] | None = None
         ) -> None:
    if path is None:
        return
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        items = iter(dirs.items())
        with open(tmp, "wb") as fh:
            marshal.dump(CACHE_VERSION, fh)
            while part := dict(itertools.islice(items, SAVE_DIRS)):
                marshal.dump(part, fh)
            marshal.dump(None, fh)
            if ages:
                marshal.dump(ages, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:  # no cache is only slower: the next backup reads every file
        with contextlib.suppress(OSError):
            tmp.unlink()
