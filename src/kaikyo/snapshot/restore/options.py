"""What a restore is asked to do and what it reports: the two types its callers see."""

from __future__ import annotations

from dataclasses import dataclass, field

from kaikyo.snapshot.progress import Meter

# (what happens, path) per entry: see .existing.
Listing = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class RestoreOptions:
    target: bytes
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    iinclude: tuple[str, ...] = ()  # as include and exclude, ignoring case
    iexclude: tuple[str, ...] = ()
    # None: the target must be empty (or hold an interrupted run of this restore); else one
    # of .existing.OVERWRITE_MODES, for a target that holds a tree.
    overwrite: str | None = None
    delete: bool = False  # remove what the snapshot does not have (with overwrite)
    dry_run: bool = False  # compare and report, write nothing
    verbose: bool = False  # list what happens to each entry
    verify: bool = False
    workers: int = 2
    numeric_owner: bool = False
    # Where the restore is (comparing, writing) and how far; the caller shows it. Not part
    # of what the restore is (see .resume.identity).
    meter: Meter = field(default_factory=Meter, compare=False)


@dataclass
class RestoreResult:
    files: int = 0
    dirs: int = 0
    links: int = 0
    other: int = 0
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)
    verified: int = 0
    resumed: bool = False  # an interrupted run of this restore was continued
    kept: int = 0  # files that run had finished, left as they were
    # Onto an existing tree (see .existing): files per fate, entries deleted.
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0
    bytes_downloaded: int = 0  # read from the repository for file data (planned, with --dry-run)
    bytes_to_write: int = 0  # file data the plan writes (what --dry-run would write)
    dry_run: bool = False
    listing: Listing = field(default_factory=list)  # with verbose
