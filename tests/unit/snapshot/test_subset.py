"""check --read-data-subset: restic's n/t, x% and SIZE forms select the right packs."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaikyo.errors import UsageError
from kaikyo.snapshot.subset import ReadSubset

PACKS = {hashlib.sha256(b"%d" % i).digest(): 1000 + i for i in range(500)}


@given(st.integers(1, 40))
def test_the_groups_of_t_cover_every_pack_once(t: int) -> None:
    groups = [set(ReadSubset.parse(f"{n}/{t}").select(PACKS)) for n in range(1, t + 1)]
    assert set().union(*groups) == set(PACKS)
    assert sum(len(g) for g in groups) == len(PACKS)
    if t <= 10:  # ids are hashes: the groups are about even
        assert min(len(g) for g in groups) > len(PACKS) / t / 2


def test_a_group_is_stable_between_runs() -> None:
    assert ReadSubset.parse("3/7").select(PACKS) == ReadSubset.parse("3/7").select(dict(PACKS))


@pytest.mark.parametrize(
    ("pct", "count"), [("10%", 50), ("0.1%", 1), ("100%", 500), ("33.3%", 166)]
)
def test_a_share_reads_that_many_random_packs(pct: str, count: int) -> None:
    chosen = ReadSubset.parse(pct).select(PACKS, random.Random(1))
    assert len(chosen) == count and set(chosen) <= set(PACKS)
    assert chosen != ReadSubset.parse(pct).select(PACKS, random.Random(2)) or count == 500


def test_a_size_reads_random_packs_until_it_is_reached() -> None:
    chosen = ReadSubset.parse("10K").select(PACKS, random.Random(1))
    total = sum(PACKS[p] for p in chosen)
    assert total >= 10 * 1024 and total - PACKS[chosen[-1]] < 10 * 1024 + 2000
    assert ReadSubset.parse("1G").select(PACKS) == sorted(PACKS)  # more than there is: all


@pytest.mark.parametrize(
    "bad", ["0/5", "6/5", "1/0", "0%", "101%", "-1%", "x", "", "5/", "1/2/3", "0"]
)
def test_a_bad_subset_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError):
        ReadSubset.parse(bad)
