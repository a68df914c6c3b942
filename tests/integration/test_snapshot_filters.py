"""snapshots --latest/--group-by and forget's filters and reasons, as a restic user runs
them."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Kaikyo
from .test_errors import assert_error

DAY = 86400.0


@pytest.fixture
def fleet(local_kaikyo: Kaikyo, tmp_path: Path) -> tuple[Kaikyo, Path, Path]:
    """Three backups of /etc-like and two of /srv-like data, from two hosts."""
    etc, srv = tmp_path / "etc", tmp_path / "srv"
    for d in (etc, srv):
        d.mkdir()
        (d / "f").write_text(d.name)
    for i in range(3):
        local_kaikyo("backup", etc, "--host", "web1", "--tag", "nightly", env={})
        (etc / "f").write_text(f"etc {i}")
    for _ in range(2):
        local_kaikyo("backup", srv, "--host", "db1")
    return local_kaikyo, etc, srv


def test_latest_keeps_the_newest_of_each_host_and_paths(fleet: tuple[Kaikyo, Path, Path]) -> None:
    k, etc, srv = fleet
    all_ = k("snapshots", "--json").json()
    latest = k("snapshots", "--latest", "1", "--json").json()
    assert len(all_) == 5 and len(latest) == 2
    newest = {
        h: max((s for s in all_ if s["hostname"] == h), key=lambda s: s["time"])
        for h in ("web1", "db1")
    }
    assert {s["id"] for s in latest} == {s["id"] for s in newest.values()}
    assert len(k("snapshots", "--latest", "2", "--host", "web1", "--json").json()) == 2


def test_group_by_lists_groups(fleet: tuple[Kaikyo, Path, Path]) -> None:
    k, etc, srv = fleet
    groups = k("snapshots", "--group-by", "host", "--json").json()
    assert [g["group_key"] for g in groups] == [{"hostname": "web1"}, {"hostname": "db1"}]
    assert [len(g["snapshots"]) for g in groups] == [3, 2]
    human = k("snapshots", "--group-by", "host,tags").out
    assert "snapshots for host web1, tags nightly:" in human
    assert "snapshots for host db1, tags -:" in human


def test_path_filter(fleet: tuple[Kaikyo, Path, Path]) -> None:
    k, etc, srv = fleet
    assert len(k("snapshots", "--path", str(srv), "--json").json()) == 2
    assert k("snapshots", "--path", str(srv) + "/", "--json").json()  # normalised


def test_forget_sees_only_what_the_filters_select_and_says_why(
    fleet: tuple[Kaikyo, Path, Path],
) -> None:
    k, etc, srv = fleet
    run = k("forget", "--keep-last", "1", "--host", "web1", "--dry-run")
    lines = run.out.splitlines()
    assert lines[0] == "keep 1 snapshot(s):"
    kept_row = lines[2]
    assert kept_row.endswith("last") and "web1" in kept_row
    assert "would remove 2 snapshot(s), keeping 1" in run.out
    assert "db1" not in run.out  # not selected: neither kept by the policy nor removed
    doc = k("forget", "--keep-last", "1", "--host", "web1", "--json").json()
    assert len(doc["remove"]) == 2 and all(r == ["last"] for r in doc["reasons"].values())
    hosts = {s["hostname"] for s in k("snapshots", "--json").json()}
    assert hosts == {"web1", "db1"} and len(k("snapshots", "--json").json()) == 3


def test_forget_reasons_name_every_rule(fleet: tuple[Kaikyo, Path, Path]) -> None:
    k, *_ = fleet
    out = k("forget", "--keep-last", "1", "--keep-tag", "nightly", "--dry-run").out
    assert "last, tag" in out or "tag, last" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("snapshots", "--latest", "0"), "--latest 0"),
        (("snapshots", "--group-by", "colour"), "is not a field"),
        (("forget", "--keep-last", "1", "--group-by", "host,size"), "is not a field"),
    ],
)
def test_bad_filters_are_one_line(
    fleet: tuple[Kaikyo, Path, Path], argv: tuple[str, ...], needle: str
) -> None:
    k, *_ = fleet
    assert_error(k(*argv, expect=None), 64, needle)
