"""Filesystem metadata <-> tree nodes (the local filesystem port)."""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import stat
from functools import lru_cache

from kaikyo.core.format.tree import Node, put_bytes

FILE, DIR, SYMLINK, FIFO, CHARDEV, BLOCKDEV, SOCKET = (
    "file",
    "dir",
    "symlink",
    "fifo",
    "chardev",
    "blockdev",
    "socket",
)


@lru_cache(maxsize=4096)
def user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


@lru_cache(maxsize=4096)
def group_name(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def node_type(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISFIFO(mode):
        return FIFO
    if stat.S_ISCHR(mode):
        return CHARDEV
    if stat.S_ISBLK(mode):
        return BLOCKDEV
    if stat.S_ISSOCK(mode):
        return SOCKET
    return None


def read_xattrs(path: bytes) -> list[list[str]] | None:
    """Extended attributes as ``[[name, base64 value], ...]`` sorted, or None."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return None
    if not names:
        return None
    import base64

    out = []
    for name in sorted(names):
        with contextlib.suppress(OSError):
            value = os.getxattr(path, name, follow_symlinks=False)
            out.append([name, base64.b64encode(value).decode("ascii")])
    return out or None


def make_node(name: bytes, path: bytes, st: os.stat_result, kind: str) -> Node:
    node: Node = {
        "type": kind,
        "mode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "mtime": st.st_mtime_ns,
    }
    # Inode and device only tell hardlinks apart; for a file with one link they would only
    # make unchanged trees differ (after a copy or restore) and cost space. ctime cannot be
    # restored and is not stored; the files cache compares it.
    if st.st_nlink > 1 and kind != DIR:
        node["inode"] = st.st_ino
        node["dev"] = st.st_dev
        node["links"] = st.st_nlink
    put_bytes(node, "name", name)
    user = user_name(st.st_uid)
    if user is not None:
        node["user"] = user
    group = group_name(st.st_gid)
    if group is not None:
        node["group"] = group
    if kind == FILE:
        node["size"] = st.st_size
        if st.st_blocks * 512 < st.st_size:
            node["sparse"] = True
    elif kind == SYMLINK:
        put_bytes(node, "target", os.readlink(path))
    elif kind in (CHARDEV, BLOCKDEV):
        node["rdev"] = st.st_rdev
    xattrs = read_xattrs(path)
    if xattrs:
        node["xattrs"] = xattrs
    return node


def open_for_read(path: bytes) -> int:
    """Open without following symlinks and, where allowed, without touching atime."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except OSError as exc:
            if exc.errno != errno.EPERM:
                raise
    return os.open(path, flags)
