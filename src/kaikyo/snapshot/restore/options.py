"""What a restore is asked to do and what it reports: the two types its callers see."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RestoreOptions:
    target: bytes
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    iinclude: tuple[str, ...] = ()  # as include and exclude, ignoring case
    iexclude: tuple[str, ...] = ()
    overwrite: bool = False
    verify: bool = False
    workers: int = 2
    numeric_owner: bool = False


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
