"""The scope rules of :mod:`kaikyo.server.policy`, without a server: which token scope may
read, list, create, overwrite and delete which kind of object, and what a refusal says.

The table below is the rule written out once more, by hand: a change to any cell of the
policy fails a test here before it reaches a haven.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaikyo.server.policy import LOCK_PREFIX, Action, check, delete_is_delayed, is_lock
from kaikyo.server.tokens import Scope
from kaikyo.store import wire
from kaikyo.store.errors import StorePermissionDenied

H = "ab" * 32
NAMES = {
    "lock": f"locks/{H}",
    "data": f"data/ab/{H}",
    "index": f"index/{H}",
    "snapshot": f"snapshots/{H}",
    "key": f"keys/{H}",
    "config": "config",
}
ALL = frozenset(NAMES)
LOCKS = frozenset({"lock"})
NONE: frozenset[str] = frozenset()

# scope -> action -> the kinds of object it may do that to.
ALLOWED: dict[Scope, dict[Action, frozenset[str]]] = {
    Scope.BACKUP: {
        Action.READ: ALL,
        Action.LIST: ALL,
        Action.CREATE: ALL,
        Action.OVERWRITE: NONE,
        Action.DELETE: LOCKS,
    },
    Scope.RESTORE: {
        Action.READ: ALL,
        Action.LIST: ALL,
        Action.CREATE: LOCKS,
        Action.OVERWRITE: NONE,
        Action.DELETE: LOCKS,
    },
    Scope.ADMIN: {action: ALL for action in Action},
}


def allowed(scope: Scope, action: Action, name: str) -> bool:
    try:
        check(scope, action, name)
    except StorePermissionDenied:
        return False
    return True


def test_the_table_covers_every_scope_and_action() -> None:
    """A new scope or action must be decided here too, not allowed or refused by accident."""
    assert set(ALLOWED) == set(Scope)
    for actions in ALLOWED.values():
        assert set(actions) == set(Action)


@pytest.mark.parametrize("kind", sorted(NAMES))
@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("scope", list(Scope))
def test_scope_table(scope: Scope, action: Action, kind: str) -> None:
    assert allowed(scope, action, NAMES[kind]) is (kind in ALLOWED[scope][action])


# Names on both sides of the lock prefix, and anything else.
near_locks = st.sampled_from(
    ["locks/", "locks", "Locks/", "locks\\", " locks/", "data/locks/", "locks//", "lock/", ""]
)
names = st.one_of(st.text(), st.builds(lambda p, s: p + s, near_locks, st.text()))


def model(scope: Scope, action: Action, name: str) -> bool:
    """The module docstring of kaikyo.server.policy, as a predicate."""
    lock = name.startswith("locks/")
    if scope is Scope.ADMIN or action in (Action.READ, Action.LIST):
        return True
    if action is Action.CREATE:
        return scope is Scope.BACKUP or lock
    if action is Action.DELETE:
        return lock
    return False  # OVERWRITE, for backup and restore alike, even of a lock


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(list(Scope)), st.sampled_from(list(Action)), names)
def test_any_name_is_judged_by_its_lock_prefix_only(
    scope: Scope, action: Action, name: str
) -> None:
    assert allowed(scope, action, name) is model(scope, action, name)


@settings(max_examples=300, deadline=None)
@given(names)
def test_only_locks_are_deleted_at_once(name: str) -> None:
    assert is_lock(name) is name.startswith(LOCK_PREFIX)
    assert delete_is_delayed(name) is not is_lock(name)


@pytest.mark.parametrize(
    ("name", "lock"),
    [
        ("locks/" + H, True),
        ("locks/x", True),
        ("locks", False),
        ("locks_/x", False),
        ("LOCKS/" + H, False),
        ("data/locks/" + H, False),
        ("snapshots/locks", False),
    ],
)
def test_what_counts_as_a_lock(name: str, lock: bool) -> None:
    assert is_lock(name) is lock
    assert allowed(Scope.RESTORE, Action.CREATE, name) is lock
    assert allowed(Scope.BACKUP, Action.DELETE, name) is lock


@pytest.mark.parametrize(
    ("scope", "action", "name", "message"),
    [
        (Scope.BACKUP, Action.OVERWRITE, "config", "a backup token may not overwrite config"),
        (Scope.BACKUP, Action.DELETE, NAMES["data"], f"a backup token may not delete data/ab/{H}"),
        (Scope.RESTORE, Action.CREATE, NAMES["index"], f"a restore token may not put index/{H}"),
        (
            Scope.RESTORE,
            Action.OVERWRITE,
            NAMES["lock"],
            f"a restore token may not overwrite locks/{H}",
        ),
        (Scope.RESTORE, Action.CREATE, "", "a restore token may not put objects"),
    ],
)
def test_a_refusal_says_who_may_not_do_what_and_is_a_403(
    scope: Scope, action: Action, name: str, message: str
) -> None:
    with pytest.raises(StorePermissionDenied) as info:
        check(scope, action, name)
    assert info.value.message == message
    assert "use an admin token" in info.value.hint
    assert wire.status_for(info.value) == 403
    assert wire.error_body(info.value) == {"error": "StorePermissionDenied", "message": message}
