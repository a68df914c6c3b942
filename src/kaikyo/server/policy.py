"""What each token scope may do, decided before any protocol handling.

- ``backup``: append-only. Read, list, create new objects; never overwrite; delete only
  ``locks/`` (its own lock objects, which a backup must remove when it ends).
- ``restore``: read-only, except that it may create and remove ``locks/`` so a restore can hold
  the shared lock the engine takes for reading.
- ``admin``: everything; deletions of anything but locks are delayed (see
  :mod:`kaikyo.server.trash`), so even an admin token cannot destroy data at once.
"""

from __future__ import annotations

from enum import StrEnum

from kaikyo.server.tokens import Scope
from kaikyo.store.errors import StorePermissionDenied

LOCK_PREFIX = "locks/"


class Action(StrEnum):
    READ = "read"
    LIST = "list"
    CREATE = "put"
    OVERWRITE = "overwrite"
    DELETE = "delete"


def is_lock(name: str) -> bool:
    return name.startswith(LOCK_PREFIX)


def check(scope: Scope, action: Action, name: str = "") -> None:
    """Raise :class:`StorePermissionDenied` unless ``scope`` allows ``action`` on ``name``."""
    if scope is Scope.ADMIN or action in (Action.READ, Action.LIST):
        return
    if action is Action.CREATE and (scope is Scope.BACKUP or is_lock(name)):
        return
    if action is Action.DELETE and is_lock(name):
        return
    raise StorePermissionDenied(
        f"a {scope.value} token may not {action.value} {name or 'objects'}",
        "backup tokens are append-only and restore tokens read-only; use an admin token",
    )


def delete_is_delayed(name: str) -> bool:
    """Locks are coordination state, not data: deleting one is immediate."""
    return not is_lock(name)
