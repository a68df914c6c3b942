"""Replacing a snapshot's manifest (tag, rewrite): the new one is saved first, the old one
removed after, so a crash never loses the snapshot (at worst both stay: two snapshots of one
tree, either of which forget removes). A haven refuses the removal to a backup token; the
command then stops with one line naming both and the command that finishes the job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaikyo.core.ids import short
from kaikyo.errors import PermissionDeniedError

if TYPE_CHECKING:
    from kaikyo.repo import Repository


class DeleteRefused(Exception):
    """The old manifest stays: ``error`` is what the command ends with (exit 17)."""

    def __init__(self, error: PermissionDeniedError) -> None:
        super().__init__(error.message)
        self.error = error


def remove_replaced(repo: Repository, old: str, new: str, what: str) -> None:
    """Remove manifest ``old`` now that ``new`` (saved ``what``, e.g. "with the new tags")
    holds the snapshot; raises :class:`DeleteRefused` when the store refuses."""
    try:
        repo.delete_snapshot(old)
    except PermissionDeniedError as exc:
        name = f"snapshots/{old}"
        why = exc.message if name in exc.message else f"{name}: {exc.message}"
        raise DeleteRefused(
            PermissionDeniedError(
                f"saved snapshot {short(new)} {what}, but could not remove the old manifest: {why}",
                f"both exist now; remove the old one with an admin token: "
                f"'kaikyo forget {short(old)}'",
            )
        ) from None
