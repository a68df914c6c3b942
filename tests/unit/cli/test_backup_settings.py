"""backup's settings from flags and environment: --exclude-larger-than reads every form of
restic's ui.ParseBytes (through kaikyo.units, the one size grammar), --read-concurrency over
KAIKYO_WORKERS, --compression and --pack-size over their variables."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.errors import ConfigError, UsageError
from kaikyo.units import parse_size

UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1024", 1024),
        ("100b", 100),
        ("1K", 1024),
        ("1k", 1024),
        ("5M", 5 * 1024 * 1024),
        ("2G", 2 << 30),
        ("1T", 1 << 40),
    ],
)
def test_restics_sizes_mean_the_same(text: str, size: int) -> None:
    assert parse_size(text, "size") == size


@pytest.mark.parametrize(
    "text",
    ["", "-1", "+5", "K", "5X", "1KX", "1 2", "ten"],
)
def test_bad_sizes_are_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_size(text, "--exclude-larger-than size")
    assert repr(text) in err.value.message and "\n" not in str(err.value)


@given(st.integers(min_value=0, max_value=1 << 22), st.sampled_from(sorted(UNITS)), st.booleans())
def test_a_number_and_a_unit_is_that_many_units(n: int, unit: str, upper: bool) -> None:
    text = f"{n}{unit.upper() if upper else unit}"
    assert parse_size(text, "size") == n * UNITS[unit]


@given(st.text(max_size=8))
def test_any_text_parses_or_is_refused_in_one_line(text: str) -> None:
    try:
        size = parse_size(text, "size")
    except UsageError as err:
        assert "\n" not in err.message
    else:
        assert size >= 0


def _ctx(**env: str) -> CliContext:
    return CliContext(env=env)


def _args(**given: object) -> argparse.Namespace:
    return argparse.Namespace(**given)


def test_read_concurrency_takes_precedence_over_kaikyo_workers() -> None:
    assert config.worker_count(_ctx(KAIKYO_WORKERS="3")) == 3
    assert config.worker_count(_ctx(KAIKYO_WORKERS="3"), config.read_concurrency("7")) == 7
    assert config.worker_count(_ctx(KAIKYO_WORKERS="bad"), 2) == 2  # never read


@pytest.mark.parametrize("text", ["0", "65", "-1", "two", "", "1.5", "1_0", " 7", "٣"])
def test_read_concurrency_out_of_range(text: str) -> None:
    with pytest.raises(UsageError, match="from 1 to 64"):
        config.read_concurrency(text)


def test_compression_flag_then_variable_then_auto() -> None:
    assert config.compression(_args(compression=None), _ctx()) == "auto"
    assert config.compression(_args(compression=None), _ctx(KAIKYO_COMPRESSION="max")) == "max"
    args = _args(compression="off")
    assert config.compression(args, _ctx(KAIKYO_COMPRESSION="max")) == "off"
    with pytest.raises(UsageError, match="--compression 'fast'"):
        config.compression(_args(compression="fast"), _ctx())
    with pytest.raises(ConfigError, match="KAIKYO_COMPRESSION 'MAX'"):
        config.compression(_args(compression=None), _ctx(KAIKYO_COMPRESSION="MAX"))


def test_pack_size_in_mib_within_restics_bounds() -> None:
    assert config.pack_size(_args(pack_size=None), _ctx()) is None
    assert config.pack_size(_args(pack_size="4"), _ctx()) == 4 << 20
    assert config.pack_size(_args(pack_size=None), _ctx(KAIKYO_PACK_SIZE="128")) == 128 << 20
    assert config.pack_size(_args(pack_size="64"), _ctx(KAIKYO_PACK_SIZE="x")) == 64 << 20
    for bad in ("3", "129", "16M", "0", "-4", "1_6", "１６"):
        with pytest.raises(UsageError, match="from 4 to 128"):
            config.pack_size(_args(pack_size=bad), _ctx())
    with pytest.raises(ConfigError, match="KAIKYO_PACK_SIZE '1000'"):
        config.pack_size(_args(pack_size=None), _ctx(KAIKYO_PACK_SIZE="1000"))
