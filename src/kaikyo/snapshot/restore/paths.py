"""File system helpers every step of a restore shares: the error a failed call means to the
user, what counts as a real directory, and making room where something is in the way."""

from __future__ import annotations

import errno
import os
import stat

from kaikyo.errors import AlreadyExistsError, NoSpaceError, PermissionDeniedError


def map_oserror(exc: OSError, what: str) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpaceError(f"no space left on the device while restoring {what}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDeniedError(f"permission denied while restoring {what}")
    if exc.errno in (errno.EEXIST, errno.ENOTDIR, errno.ELOOP, errno.EISDIR):
        return AlreadyExistsError(
            f"cannot restore {what}: something else is in the way ({exc.strerror})",
            "restore into an empty directory, or remove what is there",
        )
    return exc


def real_dir(path: bytes) -> bool:
    """A directory itself, not a symlink to one: a restore never writes through a link."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def replace(path: bytes, replacing: bool) -> None:
    """Make room for a file, link or special at ``path`` (``replacing``: with --overwrite, or
    resuming): whatever is there that is not a real directory goes; a directory is refused."""
    if not replacing or not os.path.lexists(path):
        return
    if real_dir(path):
        raise AlreadyExistsError(
            f"{os.fsdecode(path)} is a directory where the snapshot has a file",
            "remove it, or restore elsewhere",
        )
    try:
        os.unlink(path)
    except OSError as exc:
        raise map_oserror(exc, os.fsdecode(path)) from None


def make_target(target: bytes) -> None:
    try:
        os.makedirs(target, exist_ok=True)
    except OSError as exc:
        raise map_oserror(exc, os.fsdecode(target)) from None
