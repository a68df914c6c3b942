"""Store errors: each is also one of the cross-layer kinds in :mod:`kaikyo.errors`."""

from __future__ import annotations

import errno

from kaikyo import errors


class StoreError(errors.KaikyoError):
    """Base of errors raised by a :class:`~kaikyo.store.base.Store`."""


class ObjectNotFound(StoreError, errors.NotFoundError):
    pass


class ObjectExists(StoreError, errors.AlreadyExistsError):
    pass


class ObjectGone(StoreError, errors.PermissionDeniedError):
    """The haven refuses to store a name it deleted: only a replay of an old object can have
    it (every object but ``config`` is sealed with a random nonce)."""

    default_hint = (
        "an old object was put back; if this is your own, bring it back with "
        "'kaikyo tenant undelete' at the haven"
    )


class InvalidName(StoreError, errors.UsageError):
    default_hint = "object names are lowercase segments of [a-z0-9._-] separated by '/'"


class StorePermissionDenied(StoreError, errors.PermissionDeniedError):
    pass


class StoreAuthFailed(StoreError, errors.AuthenticationError):
    # (tenant, token id) when the token's secret matched but it is revoked or expired.
    holder: tuple[str, str] | None = None


class StoreNoSpace(StoreError, errors.NoSpaceError):
    pass


class StoreQuotaExceeded(StoreError, errors.QuotaExceededError):
    pass


class StoreUnavailable(StoreError, errors.ConnectionFailedError):
    """Transient: the store could not be reached or answered with a retryable failure."""


class StoreProtocolError(StoreError, errors.ConnectionFailedError):
    """The answer is not the protocol's: a redirect, an unexpected status, a malformed header
    or listing. Permanent: a proxy or another service is in the way, not a passing failure."""

    default_hint = "check the repository URL: it must reach a kaikyo haven directly"


class StoreCorrupt(StoreError, errors.IntegrityError):
    """The bytes received do not match what was asked for (short read, hash mismatch)."""


class InvalidRange(StoreError, errors.UsageError):
    pass


def map_os_error(exc: OSError, what: str) -> StoreError:
    """The store error for a local I/O failure on ``what`` (an object name or a path)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreNoSpace(f"no space left on the device while writing {what}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorePermissionDenied(f"permission denied: {what}")
    if exc.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
        # A directory in the way, or a path through a file: no object of that name.
        return ObjectNotFound(f"object not found: {what}")
    return StoreError(f"I/O error on {what}: {exc.strerror}")
