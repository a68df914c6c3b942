"""Restore: recreate a snapshot (or part of it) under a target directory, exactly.

The names callers use; the restore itself is in :mod:`.restorer`.
"""

from __future__ import annotations

import sys
import types

from kaikyo.snapshot.restore import restorer
from kaikyo.snapshot.restore.restorer import (
    GAP,
    SPAN,
    RestoreOptions,
    Restorer,
    RestoreResult,
    run_restore,
)
from kaikyo.snapshot.restore.restorer import _spans as _spans

__all__ = ["GAP", "SPAN", "RestoreOptions", "RestoreResult", "Restorer", "run_restore"]


class _Package(types.ModuleType):
    """Setting ``SPAN`` or ``GAP`` here (tests shrink them) sets them where reads are cut."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("SPAN", "GAP"):
            setattr(restorer, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
