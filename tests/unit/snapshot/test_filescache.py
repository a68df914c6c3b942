from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaikyo.snapshot import filescache
from kaikyo.testing.trees import JAPANESE_NAME, KOREAN_NAME, NON_UTF8_NAME

NAMED = [NON_UTF8_NAME, JAPANESE_NAME.encode(), KOREAN_NAME.encode(), b"x" * 255,
         ("\u00e9" * 127 + "x").encode(), b"\xff" * 255, b"."]  # up to 255 bytes (NAME_MAX)

names = st.one_of(
    st.sampled_from(NAMED),
    st.binary(min_size=1, max_size=255),  # any bytes: the format does not care
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/\0"),
            min_size=1, max_size=63).map(str.encode),  # at most 4 bytes a character
)
entries = st.builds(
    filescache.make_entry,
    st.integers(0, 2**64 - 1), st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**64 - 1),
    st.lists(st.binary(min_size=32, max_size=32), max_size=4).map(b"".join))


def encode(files: dict[bytes, bytes]) -> bytes:
    return b"".join(filescache.record(n, e) for n, e in files.items())


@given(st.dictionaries(names, entries, max_size=20))
def test_directory_records_round_trip(files: dict[bytes, bytes]) -> None:
    assert filescache.decode_dir(encode(files)) == files


@given(names, entries)
def test_names_up_to_255_bytes_round_trip(name: bytes, entry: bytes) -> None:
    raw = filescache.record(name, entry)
    assert len(raw) == filescache.HEAD.size + len(name) + len(entry)
    assert filescache.decode_dir(raw) == {name: entry}


@given(st.binary(max_size=200))
def test_garbage_never_raises(raw: bytes) -> None:
    files = filescache.decode_dir(raw)
    assert encode(files) == raw or files == {}


def test_damaged_values_decode_empty() -> None:
    first = filescache.record(b"a", filescache.make_entry(1, 2, 3, 4, b"\1" * 32))
    good = first + filescache.record(b"b", b"x" * 40)
    for cut in range(1, len(good)):
        if cut != len(first):  # truncated within a record: nothing is trusted
            assert filescache.decode_dir(good[:cut]) == {}
    assert filescache.decode_dir(b"") == {}
    assert filescache.decode_dir(123) == {}  # type: ignore[arg-type]
    assert filescache.decode_dir("text") == {}  # type: ignore[arg-type]


def test_entry_matches_all_four_stat_fields() -> None:
    ids = os.urandom(64)
    e = filescache.make_entry(10, 20, 30, 40, ids)
    assert filescache.blob_ids(e) == ids
    assert filescache.matches(e, 10, 20, 30, 40)
    for other in [(11, 20, 30, 40), (10, 21, 30, 40), (10, 20, 31, 40), (10, 20, 30, 41)]:
        assert not filescache.matches(e, *other)
    assert not filescache.matches(b"short", 10, 20, 30, 40)


def test_save_load_round_trip_in_parts(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "files"
    dirs = {f"/d/{i}".encode(): encode({b"f": filescache.make_entry(i, i, i, i, b"")})
            for i in range(2 * filescache.SAVE_DIRS + 5)}
    filescache.save(path, dirs)
    assert filescache.load(path) == dirs
    assert os.listdir(path.parent) == ["files"]  # no temporary file left
    filescache.save(path, {})
    assert filescache.load(path) == {}


@pytest.mark.parametrize("content", [
    b"",
    b"not marshal at all",
    marshal.dumps((2, {b"/old/layout": b"x" * 40})),  # the previous version
    marshal.dumps(filescache.CACHE_VERSION) + marshal.dumps({b"/d": b""}),  # no end mark
    marshal.dumps(filescache.CACHE_VERSION) + marshal.dumps([1, 2]) + marshal.dumps(None),
])
def test_unusable_cache_loads_empty(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "files"
    path.write_bytes(content)
    assert filescache.load(path) == {}
    assert filescache.load(tmp_path / "missing") == {}
    assert filescache.load(None) == {}


def test_truncated_cache_loads_empty(tmp_path: Path) -> None:
    path = tmp_path / "files"
    filescache.save(path, {b"/d": encode({b"f": b"e" * 32})})
    full = path.read_bytes()
    for cut in range(len(full)):
        path.write_bytes(full[:cut])
        assert filescache.load(path) == {}


def test_save_failure_is_silent(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    filescache.save(blocker / "files", {b"/d": b""})  # parent is a file: no cache, no error
    filescache.save(None, {b"/d": b""})


def test_unvisited_directories_are_carried_over_until_max_age(tmp_path: Path) -> None:
    path = tmp_path / "files"
    visited = {b"/etc": encode({b"hosts": filescache.make_entry(1, 2, 3, 4, b"")})}
    unvisited = {b"/home": encode({b"a": filescache.make_entry(5, 6, 7, 8, b"")}),
                 b"/gone": b"", b"/etc": b"stale value of a visited directory"}
    ages = filescache.carry_over(visited, unvisited, {b"/gone": filescache.MAX_AGE})
    assert ages == {b"/home": 1}  # /gone aged out; /etc keeps this backup's records
    assert set(visited) == {b"/etc", b"/home"} and visited[b"/etc"] != unvisited[b"/etc"]
    filescache.save(path, visited, ages)
    assert filescache.load_with_ages(path) == (visited, ages)
    # Seen again: its age starts over (a saved directory without an age is age 0).
    again = filescache.carry_over({}, visited, ages)
    assert again == {b"/etc": 1, b"/home": 2}


def test_cache_without_ages_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "files"
    filescache.save(path, {b"/d": b""})
    assert filescache.load_with_ages(path) == ({b"/d": b""}, {})
