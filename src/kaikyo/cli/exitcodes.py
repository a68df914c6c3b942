"""The one table from error kinds to process exit codes (documented in README.md).

Scripts and DR runbooks depend on these numbers: never renumber, only add.
"""

from __future__ import annotations

from kaikyo import errors

OK = 0
INTERNAL = 1  # a bug: kaikyo prints the traceback
PLAN_INFEASIBLE = 2  # the planner's target cannot be met (best plan still printed)
INCOMPLETE = 3  # snapshot saved, but some files could not be read (as restic)
USAGE = 64

# Most specific first: the first matching class wins.
TABLE: list[tuple[type[BaseException], int]] = [
    (errors.RepositoryNotFoundError, 10),
    (errors.RepositoryExistsError, 11),
    (errors.WrongPasswordError, 12),
    (errors.LockedError, 13),
    (errors.UnsupportedVersionError, 14),
    (errors.IntegrityError, 15),
    (errors.NoSpaceError, 16),
    (errors.PermissionDeniedError, 17),
    (errors.ConnectionFailedError, 18),
    (errors.QuotaExceededError, 19),
    (errors.AuthenticationError, 20),
    (errors.NotFoundError, 21),
    (errors.AlreadyExistsError, 22),
    (errors.ConfigError, 23),
    (errors.InputFailedError, 24),  # a backed-up command failed: no snapshot saved
    (errors.UnavailableError, 25),  # mount: FUSE missing (or the mount refused)
    (errors.MissingExtraError, 26),  # the command's extra is not installed (kaikyo[haven]...)
    (errors.PlanError, PLAN_INFEASIBLE),
    (errors.IncompleteError, INCOMPLETE),
    (errors.UsageError, USAGE),
    (errors.KaikyoError, 1),
]

INTERRUPTED = 130  # Ctrl-C (SIGINT)
TERMINATED = 143  # SIGTERM, handled as Ctrl-C: finished work kept, workers stopped


def exit_code_for(exc: BaseException) -> int:
    for kind, code in TABLE:
        if isinstance(exc, kind):
            return code
    return INTERNAL
