"""Restore: recreate a snapshot (or part of it) under a target directory, exactly.

The names callers use; the restore itself is in :mod:`.restorer`.
"""

from __future__ import annotations

import sys
import types

from kaikyo.snapshot.restore import reads
from kaikyo.snapshot.restore.options import RestoreOptions, RestoreResult
from kaikyo.snapshot.restore.reads import GAP, SPAN
from kaikyo.snapshot.restore.reads import _spans as _spans
from kaikyo.snapshot.restore.restorer import Restorer, run_restore

__all__ = ["GAP", "SPAN", "RestoreOptions", "RestoreResult", "Restorer", "run_restore"]


class _Package(types.ModuleType):
    """Setting ``SPAN`` or ``GAP`` here (tests shrink them) sets them where reads are cut."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("SPAN", "GAP"):
            setattr(reads, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
