"""The root of kaikyo's error tree and the bases every layer shares.

Errors carry a one-line message (what is wrong) and a hint (what to do). Exit codes and
HTTP statuses are assigned exactly once, at the edges: ``kaikyo.cli.exitcodes`` and
``kaikyo.store.wire``.

::

    KaikyoError
    ├── UsageError                  bad flag or argument value
    ├── ConfigError                 malformed input file or setting
    ├── NotFoundError               snapshot, object, repository or file missing
    │   └── RepositoryNotFoundError
    ├── AlreadyExistsError
    │   └── RepositoryExistsError
    ├── IntegrityError              bytes do not authenticate or do not match their name
    ├── UnsupportedVersionError     format written by a newer kaikyo
    ├── WrongPasswordError          no key slot opens with this passphrase
    ├── LockedError                 another process holds a conflicting lock
    ├── PermissionDeniedError       filesystem or credential refuses the action
    ├── AuthenticationError         token missing, unknown, revoked or expired
    ├── NoSpaceError                disk full at the destination
    ├── QuotaExceededError          the haven refused: tenant quota
    ├── ConnectionFailedError       haven or object store unreachable
    ├── IncompleteError             work finished but some inputs were skipped
    ├── InputFailedError            the data to back up failed at its source (a command)
    ├── UnavailableError            the system lacks what the command needs (FUSE for mount)
    ├── MissingExtraError           a command's optional dependencies are not installed
    └── PlanError                   the planner cannot satisfy the request
"""

from __future__ import annotations


class KaikyoError(Exception):
    """Base of every error kaikyo raises on purpose; anything else is a bug."""

    default_hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:
        return self.message


class UsageError(KaikyoError):
    default_hint = "see --help"


class ConfigError(KaikyoError):
    pass


class NotFoundError(KaikyoError):
    pass


class RepositoryNotFoundError(NotFoundError):
    default_hint = "check -r/--repo (or KAIKYO_REPOSITORY), or create it with 'kaikyo init'"


class AlreadyExistsError(KaikyoError):
    pass


class RepositoryExistsError(AlreadyExistsError):
    default_hint = "use the existing repository, or choose another location"


class IntegrityError(KaikyoError):
    default_hint = "run 'kaikyo check --read-data' to see what is affected, then 'kaikyo repair'"


class UnsupportedVersionError(KaikyoError):
    default_hint = "upgrade kaikyo to read this repository"


class WrongPasswordError(KaikyoError):
    default_hint = "check KAIKYO_PASSWORD / KAIKYO_PASSWORD_FILE, or use the recovery key"


class LockedError(KaikyoError):
    default_hint = (
        "wait for the other process; if it is gone, 'kaikyo unlock' removes stale "
        "locks and 'kaikyo unlock --remove-all' every lock"
    )


class PermissionDeniedError(KaikyoError):
    default_hint = "check file permissions or the token's scope"


class AuthenticationError(KaikyoError):
    default_hint = "check KAIKYO_TOKEN; ask the haven operator for a new token"


class NoSpaceError(KaikyoError):
    default_hint = "free space at the destination and run the command again; finished work is kept"


class QuotaExceededError(KaikyoError):
    default_hint = "ask the haven operator to raise the quota, or forget and prune old snapshots"


class ConnectionFailedError(KaikyoError):
    default_hint = "check the address and the network; the command can be re-run and resumes"


class IncompleteError(KaikyoError):
    pass


class InputFailedError(KaikyoError):
    """The stream a backup reads failed at its source (``--stdin-from-command``: the command
    exited non-zero or was killed): what was read may be partial, so nothing is saved."""

    default_hint = "nothing was saved; fix the command and run the backup again"


class UnavailableError(KaikyoError):
    """The system lacks a facility the command needs, or refused it: ``mount`` without
    ``/dev/fuse``, libfuse 3 or ``fusermount3``, or a mount that libfuse could not make."""


class PlanError(KaikyoError):
    pass


class MissingExtraError(KaikyoError):
    """A command needs an extra that is not installed (``kaikyo serve`` without
    ``kaikyo[haven]``): the message names the ``pip install`` that brings it."""
