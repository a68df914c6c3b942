"""Objects that do not authenticate: skipped, reported by name, never fatal.

A store may hand back anything: garbage planted with a token that needs no passphrase, a
truncated or rotted file, an old object replayed after it was deleted. No single such object
may block a command or cost data, so every reader of an object kind catches what makes that
object unusable, records a :class:`BadObject` (its name, why, and the command that removes
it) and goes on with the others. The CLI prints each one once, as a warning; ``check`` turns
them into findings.

Only the failures that belong to the object count: it does not authenticate, does not parse,
is larger than any object of its kind, or is named by an index but not stored. A store that
cannot be reached or refuses the token is not an object's fault and still stops the command.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kaikyo.core.constants import (
    DATA_PREFIX,
    INDEX_PREFIX,
    KEY_PREFIX,
    LOCK_PREFIX,
    SNAPSHOT_PREFIX,
)
from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError, KaikyoError, UnsupportedVersionError

# The errors that say "this object is unusable", as opposed to "the store is unusable".
OBJECT_ERRORS: tuple[type[BaseException], ...] = (
    IntegrityError,
    UnsupportedVersionError,
    ValueError,
    KeyError,
    TypeError,
)

_REMEDIES = (
    (SNAPSHOT_PREFIX, "kaikyo repair snapshots"),
    (INDEX_PREFIX, "kaikyo repair index"),
    (LOCK_PREFIX, "kaikyo unlock"),
    (DATA_PREFIX, "kaikyo prune"),
)


def remedy_for(name: str) -> str:
    """The command that removes the bad object ``name``."""
    if name.startswith(KEY_PREFIX):
        return f"kaikyo key remove {short(name[len(KEY_PREFIX) :])}"
    for prefix, command in _REMEDIES:
        if name.startswith(prefix):
            return command
    return "kaikyo check"


def reason_of(exc: BaseException) -> str:
    """One line for why an object was refused."""
    if isinstance(exc, KaikyoError):
        return exc.message
    if isinstance(exc, KeyError):
        return f"field {exc} is missing"
    return f"malformed ({exc})"


@dataclass(frozen=True, slots=True)
class BadObject:
    name: str
    reason: str
    action: str = ""  # what to do, where it is not "remove it" (a damaged pack is kept)

    @property
    def remedy(self) -> str:
        return remedy_for(self.name)

    @property
    def kind(self) -> str:
        return self.name.split("/", 1)[0]

    def describe(self) -> str:
        what = self.action or f"remove it with '{self.remedy}'"
        reason = self.reason.removeprefix(self.name).lstrip(": ")
        return f"{self.name}: {reason}; skipped ({what})"


class BadObjects:
    """The bad objects one command has met, each reported once; thread-safe."""

    def __init__(self, on_report: Callable[[BadObject], None] | None = None) -> None:
        self.on_report = on_report
        self._seen: dict[str, BadObject] = {}
        self._lock = threading.Lock()

    def report(self, name: str, reason: str, action: str = "") -> None:
        bad = BadObject(name, reason, action)
        with self._lock:
            if name in self._seen:
                return
            self._seen[name] = bad
        if self.on_report is not None:
            self.on_report(bad)

    def forget(self, name: str) -> None:
        """``name`` was removed (by repair): it is no longer a finding."""
        with self._lock:
            self._seen.pop(name, None)

    def __contains__(self, name: str) -> bool:
        return name in self._seen

    def __iter__(self) -> Iterator[BadObject]:
        with self._lock:
            return iter(list(self._seen.values()))

    def __len__(self) -> int:
        return len(self._seen)

    def of_kind(self, prefix: str) -> list[BadObject]:
        return [b for b in self if b.name.startswith(prefix)]
