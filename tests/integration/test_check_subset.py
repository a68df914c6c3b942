"""check --read-data-subset as a user runs it: each form reads its packs, and a damaged pack
is found by exactly the group that holds it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import Kaikyo
from .test_errors import assert_error


@pytest.fixture
def packed(local_kaikyo: Kaikyo, tmp_path: Path) -> Kaikyo:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):  # one backup per file: six data packs, and their tree packs
        (src / f"f{i}").write_bytes(os.urandom(300_000))
        local_kaikyo("backup", src)
    return local_kaikyo


def _packs(k: Kaikyo) -> list[Path]:
    return sorted(p for p in (k.repo / "data").rglob("*") if p.is_file())


def test_the_groups_together_read_every_pack_once(packed: Kaikyo) -> None:
    total = len(_packs(packed))
    read = [packed("check", "--read-data-subset", f"{n}/3", "--json").json() for n in (1, 2, 3)]
    assert sum(r["packs_read"] for r in read) == total
    assert all(r["ok"] for r in read)


def test_a_damaged_pack_is_found_by_its_group_only(packed: Kaikyo) -> None:
    victim = max(_packs(packed), key=lambda p: p.stat().st_size)  # data, not trees
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    found = []
    for n in (1, 2, 3, 4):
        run = packed("check", "--read-data-subset", f"{n}/4", "--json", expect=None)
        found.append(run.code != 0)
    assert found.count(True) == 1
    assert packed("check", "--read-data-subset", "100%", expect=None).code == 15


def test_a_share_and_a_size(packed: Kaikyo) -> None:
    total = len(_packs(packed))
    assert packed("check", "--read-data-subset", "50%", "--json").json()["packs_read"] == round(
        total / 2
    )
    one = packed("check", "--read-data-subset", "1", "--json").json()  # one byte: one pack
    assert one["packs_read"] == 1
    human = packed("check", "--read-data-subset", "10M").out
    assert f"{total} packs ({total} read)" in human


@pytest.mark.parametrize("bad", ["0/3", "4/3", "0%", "150%", "lots", "2/"])
def test_a_bad_subset_is_one_line(packed: Kaikyo, bad: str) -> None:
    assert_error(packed("check", "--read-data-subset", bad, expect=None), 64, "--read-data-subset")


def test_read_data_and_a_subset_together_are_refused(packed: Kaikyo) -> None:
    run = packed("check", "--read-data", "--read-data-subset", "1/2", expect=None)
    assert_error(run, 64, "together")
