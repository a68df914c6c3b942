"""The one size and duration grammar (kaikyo.units): what each form means, what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaikyo.errors import UsageError
from kaikyo.units import DURATION_UNITS, parse_duration, parse_rate_kib, parse_size

DAY = 86400.0
KIB, MIB, GIB, TIB = 2**10, 2**20, 2**30, 2**40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("4096", 4096),
        ("100B", 100),
        ("1K", KIB),
        ("1k", KIB),
        ("1KB", KIB),
        ("1kib", KIB),
        ("1Ki", KIB),
        ("256M", 256 * MIB),
        ("256Mi", 256 * MIB),
        ("2GiB", 2 * GIB),
        ("1.5T", int(1.5 * TIB)),
        (" 10 G ", 10 * GIB),
    ],
)
def test_sizes_are_1024_based(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "G", "-1K", "1P", "1 MiBs", "ten", "1e3", "1KK", "1iB"])
def test_bad_sizes_are_one_line_naming_the_flag(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_size(text, "--max-object")
    assert info.value.message.startswith("invalid --max-object ")
    assert "1024" in info.value.hint and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("90s", 90.0),
        ("10min", 600.0),
        ("12h", 12 * 3600.0),
        ("7d", 7 * DAY),
        ("2w", 14 * DAY),
        ("6mo", 180 * DAY),
        ("1y", 365 * DAY),
        ("1y2mo3d", (365 + 60 + 3) * DAY),
        ("1h30min", 5400.0),
        ("1h 30min", 5400.0),
        ("1.5h", 5400.0),
        ("7D", 7 * DAY),
        ("6MO", 180 * DAY),
    ],
)
def test_durations(text: str, expected: float) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "number"), [("6m", "6"), ("6M", "6"), ("1y6m", "6"), ("1h30m", "30")]
)
def test_a_bare_m_is_refused_with_both_spellings(text: str, number: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_duration(text, "--expires")
    assert info.value.message == f"ambiguous --expires {text!r}: 'm' could be minutes or months"
    assert info.value.hint == f"write {number}min for minutes or {number}mo for months"


@pytest.mark.parametrize("text", ["7", "1.5"])
def test_a_number_without_unit_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="a number needs a unit") as info:
        parse_duration(text, "--keep-within")
    assert f"{text}s" in info.value.hint and f"{text}d" in info.value.hint


@pytest.mark.parametrize("text", ["", "soon", "7x", "d", "7dd3", "1 year", "-1d", "7d-", "P1D"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_duration(text, "--trash-grace")
    assert info.value.message.startswith("invalid --trash-grace ")


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(DURATION_UNITS))), min_size=1)
)
def test_combined_forms_add_up(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert parse_duration(text) == pytest.approx(sum(n * DURATION_UNITS[u] for n, u in parts))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0.0),
        ("1024", float(MIB)),
        ("1.5", 1536.0),
        ("10M", float(10 * MIB)),
        ("512KiB/s", 512.0 * KIB),
        ("2g/s", 2.0 * GIB),
        ("100B/s", 100.0),
    ],
)
def test_rates_plain_numbers_are_kib_per_second(text: str, expected: float) -> None:
    assert parse_rate_kib(text) == expected


def test_bad_rate() -> None:
    with pytest.raises(UsageError, match="invalid --limit-download 'fast'"):
        parse_rate_kib("fast", "--limit-download")
