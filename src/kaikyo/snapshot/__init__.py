"""Filesystem semantics on top of the repository: backup, restore, dump, copy, trees, retention,
diff.

Vocabulary: a *snapshot* is a sealed manifest naming a root *tree*; a tree is one directory's
*nodes* (see :mod:`kaikyo.core.format.tree` for the node keys).

The names below are imported on first use (PEP 562), as in :mod:`kaikyo.repo`: a command
imports the engine only once its repository key is open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaikyo.lazy import exports

if TYPE_CHECKING:
    from kaikyo.snapshot.backup import BackupOptions, BackupResult, normalise_paths, run_backup
    from kaikyo.snapshot.copy import CopyResult, SnapshotCopy, run_copy
    from kaikyo.snapshot.dirtags import CACHEDIR_TAG, TagFile, parse_tag_file
    from kaikyo.snapshot.dump import DumpResult, dump_archive, dump_file
    from kaikyo.snapshot.restore import RestoreOptions, RestoreResult, run_restore
    from kaikyo.snapshot.stream import StreamSource

_WHERE = {
    "BackupOptions": "backup",
    "BackupResult": "backup",
    "normalise_paths": "backup",
    "run_backup": "backup",
    "CACHEDIR_TAG": "dirtags",
    "TagFile": "dirtags",
    "parse_tag_file": "dirtags",
    "CopyResult": "copy",
    "SnapshotCopy": "copy",
    "run_copy": "copy",
    "DumpResult": "dump",
    "dump_archive": "dump",
    "dump_file": "dump",
    "RestoreOptions": "restore",
    "RestoreResult": "restore",
    "run_restore": "restore",
    "StreamSource": "stream",
}


__getattr__ = exports(__name__, _WHERE, globals())

__all__ = [
    "CACHEDIR_TAG",
    "BackupOptions",
    "BackupResult",
    "CopyResult",
    "DumpResult",
    "RestoreOptions",
    "RestoreResult",
    "SnapshotCopy",
    "StreamSource",
    "TagFile",
    "dump_archive",
    "dump_file",
    "normalise_paths",
    "parse_tag_file",
    "run_backup",
    "run_copy",
    "run_restore",
]
