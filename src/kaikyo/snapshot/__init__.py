"""Filesystem semantics on top of the repository: backup, restore, trees, retention, diff.

Vocabulary: a *snapshot* is a sealed manifest naming a root *tree*; a tree is one directory's
*nodes* (see :mod:`kaikyo.core.format.tree` for the node keys).
"""

from kaikyo.snapshot.backup import BackupOptions, BackupResult, run_backup
from kaikyo.snapshot.restore import RestoreOptions, RestoreResult, run_restore

__all__ = [
    "BackupOptions",
    "BackupResult",
    "RestoreOptions",
    "RestoreResult",
    "run_backup",
    "run_restore",
]
