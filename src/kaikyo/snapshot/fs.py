"""Filesystem metadata <-> tree nodes (the local filesystem port)."""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import stat
from functools import lru_cache

from kaikyo.core.format.tree import NodeType, TreeNode


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


def node_type(mode: int) -> NodeType | None:
    if stat.S_ISREG(mode):
        return NodeType.FILE
    if stat.S_ISDIR(mode):
        return NodeType.DIR
    if stat.S_ISLNK(mode):
        return NodeType.SYMLINK
    if stat.S_ISFIFO(mode):
        return NodeType.FIFO
    if stat.S_ISCHR(mode):
        return NodeType.CHARDEV
    if stat.S_ISBLK(mode):
        return NodeType.BLOCKDEV
    if stat.S_ISSOCK(mode):
        return NodeType.SOCKET
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


def make_node(name: bytes, path: bytes, st: os.stat_result, kind: NodeType) -> TreeNode:
    uid, gid = st.st_uid, st.st_gid
    # Positional (name, type, mode, uid, gid, user, group, mtime): this runs for every entry
    # a backup walks, and keywords cost twice as much.
    node = TreeNode(
        name,
        kind,
        stat.S_IMODE(st.st_mode),
        uid,
        gid,
        user_name(uid),
        group_name(gid),
        st.st_mtime_ns,
    )
    # Inode and device only tell hardlinks apart; for a file with one link they would only
    # make unchanged trees differ (after a copy or restore) and cost space. ctime cannot be
    # restored and is not stored; the files cache compares it.
    if st.st_nlink > 1 and kind is not NodeType.DIR:
        node.inode = st.st_ino
        node.dev = st.st_dev
        node.links = st.st_nlink
    if kind is NodeType.FILE:
        node.size = st.st_size
        node.sparse = st.st_blocks * 512 < st.st_size
    elif kind is NodeType.SYMLINK:
        node.target = os.readlink(path)
    elif kind is NodeType.CHARDEV or kind is NodeType.BLOCKDEV:
        node.rdev = st.st_rdev
    node.xattrs = read_xattrs(path)
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
