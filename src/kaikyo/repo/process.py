"""Whether a process of this host is alive (for stale locks and left-over spool files)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True unless no process has this id (one we may not signal still exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
