"""Everything a restore creates besides file data: directories (made before any file, given
their metadata after everything else, deepest first, so writing into them does not disturb
their times), hard links, symlinks, fifos and devices."""

from __future__ import annotations

import os
import stat

from kaikyo.core.format.tree import NodeType
from kaikyo.errors import AlreadyExistsError
from kaikyo.snapshot.restore.metadata import Inodes, apply_meta
from kaikyo.snapshot.restore.paths import map_oserror, real_dir, replace
from kaikyo.snapshot.restore.plan import Dirs, Plan, Special


def make_dirs(dirs: Dirs, replacing: bool) -> None:
    # Walk order puts parents first, so plain mkdir suffices; makedirs only as a fallback.
    for out in dirs.paths:
        try:
            os.mkdir(out, 0o700)
        except FileExistsError:
            if not real_dir(out):
                # A file, or a symlink (to a directory too): never written through.
                if not replacing:
                    raise AlreadyExistsError(f"{os.fsdecode(out)} exists") from None
                try:
                    os.unlink(out)
                    os.mkdir(out, 0o700)
                except OSError as exc:
                    raise map_oserror(exc, os.fsdecode(out)) from None
        except FileNotFoundError:
            os.makedirs(out, 0o700, exist_ok=True)
        except OSError as exc:
            raise map_oserror(exc, os.fsdecode(out)) from None


def finish_dirs(dirs: Dirs, inodes: Inodes, warnings: list[str], replacing: bool) -> None:
    """Directories' metadata, deepest first; ``replacing`` (onto a tree, or resuming): a
    directory may have been there, with xattrs the snapshot does not give it."""
    depth = [d.count(b"/") for d in dirs.paths]
    m = dirs.meta
    for i in sorted(range(len(dirs.paths)), key=depth.__getitem__, reverse=True):
        out = dirs.paths[i]
        meta = (m[4 * i], m[4 * i + 1], m[4 * i + 2], m[4 * i + 3])
        xattrs, chown = dirs.xattrs.get(i), inodes.chown(meta)
        apply_meta(out, meta, xattrs, chown, True, warnings, out, existing=replacing)


def link_hardlinks(plan: Plan, replacing: bool) -> int:
    """Each hard link to the file restored first of its inode. Returns how many."""
    for first, dst in plan.hardlinks:
        replace(dst, replacing)
        try:
            os.link(first, dst)
        except OSError as exc:
            raise map_oserror(exc, os.fsdecode(dst)) from None
    return len(plan.hardlinks)


def make_special(entry: Special, replacing: bool, inodes: Inodes, warnings: list[str]) -> int:
    """A symlink, fifo or device with its metadata. Returns 1 if made, 0 if not (warned)."""
    out, kind, payload, meta, xattrs = entry
    replace(out, replacing)
    try:
        if kind is NodeType.SYMLINK:
            assert isinstance(payload, bytes)
            os.symlink(payload, out)
        elif kind is NodeType.FIFO:
            os.mkfifo(out, 0o600)
        elif kind is NodeType.CHARDEV or kind is NodeType.BLOCKDEV:
            flag = stat.S_IFCHR if kind is NodeType.CHARDEV else stat.S_IFBLK
            os.mknod(out, flag | 0o600, int(payload))
        else:
            warnings.append(f"{os.fsdecode(out)}: {kind} not restored")
            return 0
    except PermissionError:
        warnings.append(f"{os.fsdecode(out)}: no permission to create {kind}")
        return 0
    except OSError as exc:
        raise map_oserror(exc, os.fsdecode(out)) from None
    symlink = kind is NodeType.SYMLINK
    apply_meta(out, meta, xattrs, inodes.chown(meta), True, warnings, out, symlink=symlink)
    return 1
