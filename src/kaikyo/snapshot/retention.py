"""Which snapshots to keep: a pure function of snapshot times and a policy (restic's rules).

Snapshots are grouped (by host and paths by default) and each group is judged alone. Within a
group, newest first: ``last`` keeps the n newest; ``hourly``..``yearly`` keep the newest snapshot
of each of the n most recent periods that have one; ``within`` keeps everything younger than the
given seconds measured from the newest snapshot; ``tags`` keeps snapshots with any of the tags.
Periods are in UTC so the decision does not depend on the machine's time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Policy:
    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: float = 0.0
    tags: tuple[str, ...] = ()

    def empty(self) -> bool:
        return not (
            self.last
            or self.hourly
            or self.daily
            or self.weekly
            or self.monthly
            or self.yearly
            or self.within
            or self.tags
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    snapshot_id: str
    time: float
    tags: tuple[str, ...] = ()
    group: str = ""


@dataclass
class Decision:
    keep: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)


def _bucket(fmt: str) -> Callable[[float], str]:
    def key(t: float) -> str:
        d = datetime.fromtimestamp(t, UTC)
        if fmt == "week":
            y, w, _ = d.isocalendar()
            return f"{y}-W{w:02d}"
        return d.strftime(fmt)

    return key


_RULES: list[tuple[str, Callable[[float], str]]] = [
    ("hourly", _bucket("%Y-%m-%d %H")),
    ("daily", _bucket("%Y-%m-%d")),
    ("weekly", _bucket("week")),
    ("monthly", _bucket("%Y-%m")),
    ("yearly", _bucket("%Y")),
]


def _reasons(ordered: list[Candidate], policy: Policy) -> dict[str, list[str]]:
    """Why each snapshot of one group (newest first) is kept; an empty list: it is not."""
    reasons: dict[str, list[str]] = {s.snapshot_id: [] for s in ordered}
    for i, s in enumerate(ordered):
        if i < policy.last:
            reasons[s.snapshot_id].append("last")
        if policy.tags and set(s.tags) & set(policy.tags):
            reasons[s.snapshot_id].append("tag")
        if policy.within and ordered[0].time - s.time <= policy.within:
            reasons[s.snapshot_id].append("within")
    for name, key in _RULES:
        count = getattr(policy, name)
        last_bucket = None
        for s in ordered:
            if count <= 0:
                break
            b = key(s.time)
            if b != last_bucket:
                reasons[s.snapshot_id].append(name)
                last_bucket = b
                count -= 1
    return reasons


def apply_policy(snapshots: Sequence[Candidate], policy: Policy) -> Decision:
    decision = Decision()
    groups: dict[str, list[Candidate]] = {}
    for s in snapshots:
        groups.setdefault(s.group, []).append(s)
    for members in groups.values():
        ordered = sorted(members, key=lambda s: (s.time, s.snapshot_id), reverse=True)
        reasons = _reasons(ordered, policy)
        for s in ordered:
            if reasons[s.snapshot_id]:
                decision.keep.append(s.snapshot_id)
                decision.reasons[s.snapshot_id] = reasons[s.snapshot_id]
            else:
                decision.remove.append(s.snapshot_id)
    return decision
