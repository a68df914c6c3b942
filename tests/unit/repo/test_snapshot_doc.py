"""What a snapshot manifest may hold: the fields readers rely on are checked, others kept."""

from __future__ import annotations

from typing import Any

import pytest

from kaikyo.repo import Repository
from kaikyo.repo.badobjects import BadObject, BadObjects
from kaikyo.repo.snapshots import check_snapshot_doc
from kaikyo.store.memory import MemoryStore

TREE = "ab" * 32


def _doc(**extra: Any) -> dict[str, Any]:
    return {"tree": TREE, "time": 1.5, "tags": ["夜間", "야간"], **extra}


def test_original_and_unknown_keys_are_kept() -> None:
    doc = _doc(original="cd" * 32, written_by_a_newer_kaikyo={"x": 1})
    assert check_snapshot_doc(doc) is doc


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"original": "cd" * 31}, "'original' is not a snapshot id"),
        ({"original": "zz" * 32}, "'original' is not a snapshot id"),
        ({"original": None}, "'original' is not a snapshot id"),
        ({"tags": "nightly"}, "'tags' is not a list of strings"),
        ({"tags": ["a", 1]}, "'tags' is not a list of strings"),
    ],
)
def test_bad_fields_are_refused(extra: dict[str, Any], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_snapshot_doc(_doc(**extra))


def test_a_manifest_with_a_bad_original_is_reported_and_skipped() -> None:
    repo, _ = Repository.create(MemoryStore(), "pw", kdf_cost=(1, 64))
    seen: list[BadObject] = []
    repo.bad = BadObjects(seen.append)
    good = repo.save_snapshot(_doc(original="cd" * 32))
    bad = repo.save_snapshot(_doc(original="not an id"))
    records = repo.list_snapshots()
    assert [r.snapshot_id for r in records] == [good]
    assert records[0].doc["original"] == "cd" * 32
    assert [b.name for b in seen] == [f"snapshots/{bad}"]
    assert "'original' is not a snapshot id" in seen[0].reason
