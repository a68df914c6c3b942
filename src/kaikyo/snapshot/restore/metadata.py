"""Metadata of restored inodes: owner, xattrs, mode and times, applied in the one order that
keeps them all; and the probe of the target that lets a restore skip the chown and chmod
calls that would change nothing (:class:`Inodes`)."""

from __future__ import annotations

import base64
import contextlib
import errno
import grp
import os
import pwd
import stat
from dataclasses import dataclass
from functools import lru_cache

from kaikyo.core.format.tree import TreeNode

# What is applied to an inode after its data: mode, uid, gid, mtime (ns); xattrs apart.
Meta = tuple[int, int, int, int]
Xattrs = list[list[str]]


def node_meta(node: TreeNode, numeric_owner: bool) -> Meta:
    mode = 0o644 if node.mode is None else node.mode
    mtime = node.mtime or 0
    uid = -1 if node.uid is None else node.uid
    gid = -1 if node.gid is None else node.gid
    if not numeric_owner:
        uid = _uid(node.user, uid)
        gid = _gid(node.group, gid)
    return mode, uid, gid, mtime


@lru_cache(maxsize=4096)
def _uid(user: str | None, default: int) -> int:
    if user:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(user).pw_uid
    return default


@lru_cache(maxsize=4096)
def _gid(group: str | None, default: int) -> int:
    if group:
        with contextlib.suppress(KeyError):
            return grp.getgrnam(group).gr_gid
    return default


def apply_meta(
    target: bytes | int,
    meta: Meta,
    xattrs: Xattrs | None,
    chown: bool,
    chmod: bool,
    warnings: list[str],
    shown: bytes,
    symlink: bool = False,
    existing: bool = False,
) -> None:
    """Owner (if ``chown``), xattrs, mode (if ``chmod``), then times: chown clears set-id
    bits, and any later change would move the times. On an ``existing`` inode (kept in
    place by a restore onto a tree) the xattrs the snapshot does not have are removed first
    (see :func:`drop_other_xattrs`)."""
    mode, uid, gid, mtime = meta
    follow = not symlink
    if chown:
        try:
            os.chown(target, uid, gid, follow_symlinks=follow)
        except OSError as exc:
            warnings.append(f"{os.fsdecode(shown)}: cannot set owner: {exc.strerror}")
    if existing:
        drop_other_xattrs(target, xattrs, warnings, shown)
    for name, value in xattrs or ():
        try:
            os.setxattr(target, name, base64.b64decode(value), follow_symlinks=follow)
        except OSError as exc:
            warnings.append(f"{os.fsdecode(shown)}: cannot set xattr {name}: {exc.strerror}")
    if chmod and not symlink:
        try:
            os.chmod(target, mode)
        except OSError as exc:
            warnings.append(f"{os.fsdecode(shown)}: cannot set mode: {exc.strerror}")
    with contextlib.suppress(OSError, NotImplementedError):
        os.utime(target, ns=(mtime, mtime), follow_symlinks=follow)


# What a restore onto an existing tree removes when the snapshot lacks it: names a backup
# records and a user or an administrator sets. security.* belongs to the security modules
# (SELinux labels a file itself) and the other system.* names are the kernel's views.
_OWN_XATTRS = ("user.", "trusted.", "system.posix_acl_access", "system.posix_acl_default")


def drop_other_xattrs(
    target: bytes | int, keep: Xattrs | None, warnings: list[str], shown: bytes
) -> None:
    """Remove from an inode that was already there the extended attributes (user, trusted,
    ACLs) the snapshot does not give it, so the restored file ends as the snapshot's."""
    follow = isinstance(target, int)  # an open descriptor; a path is never followed
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError:
        return  # no xattrs here (the filesystem has none): nothing to remove
    wanted = {name for name, _ in keep or ()}
    for name in names:
        if name in wanted or not name.startswith(_OWN_XATTRS):
            continue
        try:
            os.removexattr(target, name, follow_symlinks=follow)
        except OSError as exc:
            warnings.append(f"{os.fsdecode(shown)}: cannot remove xattr {name}: {exc.strerror}")


@dataclass(frozen=True, slots=True)
class Inodes:
    """Who the restore runs as, and what a new inode in the target gets by itself: with
    ``plain``, our uid and gid and exactly the mode asked for less ``umask``."""

    euid: int
    egid: int
    is_root: bool
    plain: bool = False
    umask: int = 0o777

    def chown(self, meta: Meta) -> bool:
        """Whether to set the owner of an inode this restore created: permitted (running as
        root or as the owner) and not already right."""
        uid, gid = meta[1], meta[2]
        if not (self.is_root or uid == self.euid):
            return False
        return not (self.plain and uid == self.euid and gid == self.egid)

    def create_mode(self, mode: int) -> int:
        """A file a worker creates and finishes gets its final mode at once where it can."""
        return mode if self.plain and not mode & ~0o777 else 0o600

    def chmod(self, mode: int) -> bool:
        """Whether a file created with :meth:`create_mode` still needs its mode set."""
        return not self.plain or bool(mode & (self.umask | ~0o777))


def probe(target: bytes, replacing: bool) -> Inodes:
    """Does an inode created in the target get our uid and gid, the mode asked for less
    the umask, and no ACL? Then chown and chmod that would change nothing are skipped.
    (An unnamed O_TMPFILE inode: nothing appears in the target. Not with --overwrite:
    directories already there may differ from the target.)"""
    euid, egid = os.geteuid(), os.getegid()
    usual = Inodes(euid, egid, euid == 0)
    if replacing or not hasattr(os, "O_TMPFILE"):
        return usual
    umask = _umask()
    try:
        fd = os.open(target, os.O_TMPFILE | os.O_WRONLY, 0o777)
    except OSError:
        return usual
    try:
        st = os.fstat(fd)
        try:
            os.getxattr(fd, "system.posix_acl_access")
            return usual
        except OSError as exc:
            if exc.errno not in (errno.ENODATA, errno.ENOTSUP):
                return usual
    except OSError:
        return usual
    finally:
        os.close(fd)
    if (st.st_uid, st.st_gid) == (euid, egid) and stat.S_IMODE(st.st_mode) == 0o777 & ~umask:
        return Inodes(euid, egid, euid == 0, True, umask)
    return usual


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o22)
    os.umask(mask)
    return mask
