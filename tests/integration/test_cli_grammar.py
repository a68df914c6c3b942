"""Sizes and durations as the flags read them (one grammar, kaikyo.units), end to end.

Each refused form is one line and exit 64, before anything is written; accepted forms reach
the haven's database and the engine with the meaning the docs give (1024-based, ``mo``/``min``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kaikyo.testing.cli import kaikyo
from kaikyo.testing.clock import FakeClock

from .conftest import Kaikyo
from .test_errors import assert_error

NOW = 1_790_000_000.0
DAY = 86400


@pytest.fixture
def data(tmp_path: Path) -> dict[str, str]:
    env = {"KAIKYO_HAVEN_DATA": str(tmp_path / "haven")}
    assert kaikyo("tenant", "add", "acme", "--quota-bytes", "1.5G", env=env).code == 0
    return env


def test_a_quota_is_1024_based(data: dict[str, str]) -> None:
    assert kaikyo("tenant", "show", "acme", "--json", env=data).json()["quota_bytes"] == 1.5 * 2**30
    run = kaikyo("tenant", "quota", "acme", "--bytes", "500GiB", "--json", env=data)
    assert run.json()["quota_bytes"] == 500 * 2**30
    refused = kaikyo("tenant", "quota", "acme", "--bytes", "500 gigs", env=data)
    assert_error(refused, 64, "invalid --bytes '500 gigs'", "powers of 1024")
    assert kaikyo("tenant", "show", "acme", "--json", env=data).json()["quota_bytes"] == 500 * 2**30


def test_a_token_for_six_months_is_not_a_token_for_six_minutes(data: dict[str, str]) -> None:
    clock = FakeClock(NOW)
    issue = ("token", "issue", "acme", "--scope", "backup", "--json", "--expires")
    line = assert_error(kaikyo(*issue, "6m", env=data, clock=clock), 64, "ambiguous --expires")
    assert "write 6min for minutes or 6mo for months" in line
    assert kaikyo("tenant", "show", "acme", "--json", env=data).json()["tokens"] == []
    months = kaikyo(*issue, "6mo", env=data, clock=clock).json()
    assert months["expires_at"] == NOW + 180 * DAY
    minutes = kaikyo(*issue, "6min", env=data, clock=clock).json()
    assert minutes["expires_at"] == NOW + 360
    combined = kaikyo(*issue, "1y2mo3d", env=data, clock=clock).json()
    assert combined["expires_at"] == NOW + (365 + 60 + 3) * DAY
    assert_error(kaikyo(*issue, "90", env=data, clock=clock), 64, "a number needs a unit")


def test_keep_within_refuses_a_bare_m(local_kaikyo: Kaikyo) -> None:
    line = assert_error(local_kaikyo("forget", "--keep-within", "1y6m", expect=None), 64)
    assert "write 6min for minutes or 6mo for months" in line
    assert local_kaikyo("forget", "--keep-within", "1y6mo", "--json").code == 0


@pytest.mark.parametrize(
    ("env", "argv", "needle"),
    [
        ({}, ("--retry-limit", "10m"), "ambiguous --retry-limit '10m'"),
        ({}, ("--retry-limit", "90"), "invalid --retry-limit '90': a number needs a unit"),
        ({"KAIKYO_RETRY_LIMIT": "5m"}, (), "ambiguous KAIKYO_RETRY_LIMIT '5m'"),
    ],
)
def test_the_retry_limit_reads_the_same_grammar(
    local_kaikyo: Kaikyo, env: dict[str, str], argv: tuple[str, ...], needle: str
) -> None:
    assert_error(local_kaikyo("snapshots", *argv, env=env, expect=None), 64, needle)
    assert local_kaikyo("snapshots", "--retry-limit", "10min", "--json").code == 0


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--trash-grace", "7m", "ambiguous --trash-grace '7m'"),
        ("--max-object", "0", "--max-object must be at least 1"),
        ("--max-object", "lots", "invalid --max-object 'lots'"),
        ("--purge-interval", "1", "invalid --purge-interval '1': a number needs a unit"),
    ],
)
def test_serve_refuses_before_it_listens(
    data: dict[str, str], flag: str, value: str, needle: str
) -> None:
    run = kaikyo("serve", "--listen", "127.0.0.1:0", flag, value, env=data)
    assert_error(run, 64, needle)
    assert "haven on" not in run.err


def test_the_planner_time_limit_is_a_duration() -> None:
    run = kaikyo(
        "plan", "--fleet", "x.csv", "--site", "x.yaml", "--start", "2011-05-01",
        "--deadline", "2011-07-01", "--time-limit", "60",
    )  # fmt: skip
    assert_error(run, 64, "invalid --time-limit '60'", "60s")
