from __future__ import annotations

from kaikyo.snapshot.retention import Candidate, Policy, apply_policy

DAY = 86400.0
T0 = 1_309_478_400.0  # 2011-07-01 00:00 UTC


def snaps(times: list[float], group: str = "") -> list[Candidate]:
    return [Candidate(f"{i:02d}", t, group=group) for i, t in enumerate(times)]


def test_keep_last() -> None:
    d = apply_policy(snaps([T0 + i for i in range(5)]), Policy(last=2))
    assert sorted(d.keep) == ["03", "04"]
    assert sorted(d.remove) == ["00", "01", "02"]


def test_keep_daily_keeps_newest_of_each_day() -> None:
    times = [T0 + h * 3600 for h in range(0, 72, 6)]  # 4 per day over 3 days
    d = apply_policy(snaps(times), Policy(daily=2))
    kept_times = sorted(times[int(s)] for s in d.keep)
    assert kept_times == [T0 + DAY + 18 * 3600, T0 + 2 * DAY + 18 * 3600]


def test_keep_within_is_relative_to_newest_snapshot() -> None:
    times = [T0 - 10 * DAY, T0 - 3 * DAY, T0]
    d = apply_policy(snaps(times), Policy(within=5 * DAY))
    assert sorted(d.keep) == ["01", "02"]


def test_groups_are_judged_separately() -> None:
    cands = snaps([T0, T0 + 1], "a") + [Candidate("b0", T0 - DAY, group="b")]
    d = apply_policy(cands, Policy(last=1))
    assert sorted(d.keep) == ["01", "b0"]


def test_keep_tag_and_reasons() -> None:
    cands = [Candidate("x", T0, ("monthly",)), Candidate("y", T0 + 1)]
    d = apply_policy(cands, Policy(last=1, tags=("monthly",)))
    assert d.reasons["x"] == ["tag"] and d.reasons["y"] == ["last"]
