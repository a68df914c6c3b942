"""Compare two directory trees exactly: what a restore must reproduce.

Checked for every entry (names as raw bytes, so non-UTF-8 names compare too): type, mode
(including setuid/setgid/sticky), uid/gid, mtime in ns, size and content bytes, symlink target,
device numbers, extended attributes, hardlink groups, and that sparse files stay sparse. Access
and change times are not compared (a restore cannot set ctime).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field

SPARSE_SLACK = 0.5  # a restored sparse file may allocate at most this fraction of its size


@dataclass
class Entry:
    st: os.stat_result
    digest: str = ""
    target: bytes = b""
    xattrs: dict[str, bytes] = field(default_factory=dict)


def _digest(path: bytes) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _xattrs(path: bytes) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in names:
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out


def scan(root: bytes | str | os.PathLike[str]) -> dict[bytes, Entry]:
    """Every entry below ``root`` keyed by its path relative to ``root`` (``b""`` = root)."""
    base = os.fsencode(root)
    out: dict[bytes, Entry] = {}
    stack = [b""]
    while stack:
        rel = stack.pop()
        full = base + rel if rel else base
        st = os.lstat(full)
        entry = Entry(st, xattrs=_xattrs(full))
        if stat.S_ISREG(st.st_mode):
            entry.digest = _digest(full)
        elif stat.S_ISLNK(st.st_mode):
            entry.target = os.readlink(full)
        elif stat.S_ISDIR(st.st_mode):
            stack.extend(rel + b"/" + name for name in os.listdir(full))
        out[rel] = entry
    return out


def _hardlink_groups(entries: dict[bytes, Entry]) -> set[tuple[bytes, ...]]:
    groups: dict[tuple[int, int], list[bytes]] = {}
    for rel, e in entries.items():
        if not stat.S_ISDIR(e.st.st_mode) and e.st.st_nlink > 1:
            groups.setdefault((e.st.st_dev, e.st.st_ino), []).append(rel)
    return {tuple(sorted(g)) for g in groups.values() if len(g) > 1}


def _compare_entry(rel: str, a: Entry, b: Entry, owners: bool, mtimes: bool) -> list[str]:
    diffs = []
    sa, sb = a.st, b.st
    if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
        return [f"{rel}: type {stat.filemode(sa.st_mode)} != {stat.filemode(sb.st_mode)}"]
    is_link = stat.S_ISLNK(sa.st_mode)
    if not is_link and stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
        diffs.append(
            f"{rel}: mode {oct(stat.S_IMODE(sa.st_mode))} != {oct(stat.S_IMODE(sb.st_mode))}"
        )
    if owners and (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
        diffs.append(f"{rel}: owner {sa.st_uid}:{sa.st_gid} != {sb.st_uid}:{sb.st_gid}")
    if mtimes and sa.st_mtime_ns != sb.st_mtime_ns:
        diffs.append(f"{rel}: mtime {sa.st_mtime_ns} != {sb.st_mtime_ns}")
    if stat.S_ISREG(sa.st_mode):
        if sa.st_size != sb.st_size:
            diffs.append(f"{rel}: size {sa.st_size} != {sb.st_size}")
        elif a.digest != b.digest:
            diffs.append(f"{rel}: content differs")
        if (
            sa.st_blocks * 512 < sa.st_size * SPARSE_SLACK
            and sb.st_blocks * 512 > sb.st_size * SPARSE_SLACK
        ):
            diffs.append(
                f"{rel}: sparse file restored dense ({sb.st_blocks} blocks, source {sa.st_blocks})"
            )
    if is_link and a.target != b.target:
        diffs.append(f"{rel}: symlink target {a.target!r} != {b.target!r}")
    if (stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode)) and sa.st_rdev != sb.st_rdev:
        diffs.append(f"{rel}: device {sa.st_rdev} != {sb.st_rdev}")
    if a.xattrs != b.xattrs:
        diffs.append(f"{rel}: xattrs {sorted(a.xattrs)} != {sorted(b.xattrs)}")
    return diffs


def compare_trees(
    a: bytes | str | os.PathLike[str],
    b: bytes | str | os.PathLike[str],
    *,
    owners: bool = True,
    mtimes: bool = True,
    root_meta: bool = False,
) -> list[str]:
    """Differences between the trees at ``a`` and ``b`` (empty when they match exactly).

    ``root_meta`` also compares the two roots' own metadata (off by default: a restore
    target's root is the caller's directory).
    """
    return compare_scans(scan(a), scan(b), owners=owners, mtimes=mtimes, root_meta=root_meta)


def compare_scans(
    ea: dict[bytes, Entry],
    eb: dict[bytes, Entry],
    *,
    owners: bool = True,
    mtimes: bool = True,
    root_meta: bool = False,
) -> list[str]:
    """As :func:`compare_trees`, on scans taken earlier (a tree that has since changed)."""
    diffs: list[str] = []
    for rel in sorted(ea.keys() - eb.keys()):
        diffs.append(f"{show(rel)}: missing")
    for rel in sorted(eb.keys() - ea.keys()):
        diffs.append(f"{show(rel)}: unexpected")
    for rel in sorted(ea.keys() & eb.keys()):
        if rel == b"" and not root_meta:
            continue
        diffs += _compare_entry(show(rel) or "/", ea[rel], eb[rel], owners, mtimes)
    ga, gb = _hardlink_groups(ea), _hardlink_groups(eb)
    if ga != gb:
        diffs.append(f"hardlink groups differ: {sorted(ga)} != {sorted(gb)}")
    return diffs


Tree = bytes | str | os.PathLike[str]


def assert_trees_equal(a: Tree | dict[bytes, Entry], b: Tree, **kwargs: bool) -> None:
    """Raise AssertionError listing the differences; ``a`` may be an earlier :func:`scan`."""
    ea = a if isinstance(a, dict) else scan(a)
    diffs = compare_scans(ea, scan(b), **kwargs)
    if diffs:
        shown = "\n  ".join(diffs[:30])
        where = "the scan" if isinstance(a, dict) else os.fsdecode(a)
        raise AssertionError(
            f"{len(diffs)} difference(s) between {where} and {os.fsdecode(b)}:\n  {shown}"
        )


def show(rel: bytes) -> str:
    return rel.decode("utf-8", "backslashreplace")
