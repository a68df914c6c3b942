from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaikyo.snapshot import filescache
from kaikyo.testing.trees import JAPANESE_NAME, KOREAN_NAME, NON_UTF8_NAME

NAMED = [
    NON_UTF8_NAME,
    JAPANESE_NAME.encode(),
    KOREAN_NAME.encode(),
    b"x" * 255,
    ("\u00e9" * 127 + "x").encode(),
    b"\xff" * 255,
    b".",
]  # up to 255 bytes (NAME_MAX)

names = st.one_of(
    st.sampled_from(NAMED),
    st.binary(min_size=1, max_size=255),  # any bytes: the format does not care
    st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="/\0"),
        min_size=1,
        max_size=63,
    ).map(str.encode),  # at most 4 bytes a character
)
entries = st.builds(
    filescache.make_entry,
    st.integers(0, 2**64 - 1),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 2**64 - 1),
    st.lists(st.binary(min_size=32, max_size=32), max_size=4).map(b"".join),
)


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


def save(path: Path | None, dirs: dict[bytes, bytes]) -> None:
    new = filescache.NewCache(path)
    for dir_path, value in dirs.items():
        new.add(dir_path, value)
    new.commit()


def load(path: Path | None) -> dict[bytes, bytes]:
    """Every directory of the cache at ``path``, decoded and re-encoded."""
    old = filescache.OldCache.open(path)
    keys = {k for k, *_ in old.leftovers()}
    out = {k: old.read_value(off, n) for k, off, n, _age in old.leftovers()}
    old.close()
    assert set(out) == keys
    return out


def keyed(dirs: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return {filescache.path_key(p): v for p, v in dirs.items()}


def test_save_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "files"
    dirs = {
        f"/d/{i}".encode(): encode({b"f": filescache.make_entry(i, i, i, i, b"")})
        for i in range(3000)
    }  # more than one write buffer
    dirs[NON_UTF8_NAME] = encode(
        {JAPANESE_NAME.encode(): filescache.make_entry(1, 2, 3, 4, b"i" * 64)}
    )
    save(path, dirs)
    assert load(path) == keyed(dirs)
    assert os.listdir(path.parent) == ["files"]  # no temporary file left
    old = filescache.OldCache.open(path)
    assert old.take(NON_UTF8_NAME) == {
        JAPANESE_NAME.encode(): filescache.make_entry(1, 2, 3, 4, b"i" * 64)
    }
    assert old.take(NON_UTF8_NAME) == {}  # taken: now counted as visited
    assert old.take(b"/never/seen") == {}
    assert len(old) == 3000
    old.close()
    save(path, {})
    assert load(path) == {}


def test_values_stay_on_disk(tmp_path: Path) -> None:
    """Memory holds the table, not the values: a directory is read when it is taken."""
    path = tmp_path / "files"
    save(
        path,
        {
            b"/big": encode(
                {b"f%d" % i: filescache.make_entry(i, 0, 0, 0, b"\1" * 32) for i in range(1000)}
            )
        },
    )
    old = filescache.OldCache.open(path)
    with open(path, "r+b") as fh:  # same file, same length: only the value changes
        raw = fh.read()
        fh.seek(raw.index(b"f999"))
        fh.write(b"g999")
    files = old.take(b"/big")
    old.close()
    assert b"g999" in files and b"f999" not in files and len(files) == 1000


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a cache at all",
        struct.pack("<4sI", b"KKFC", 3) + b"\0" * 40,  # another version
        struct.pack("<4sI", b"KKFC", filescache.CACHE_VERSION),  # no table
    ],
)
def test_unusable_cache_loads_empty(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "files"
    path.write_bytes(content)
    assert load(path) == {}
    assert load(tmp_path / "missing") == {}
    assert load(None) == {}


def test_truncated_or_damaged_cache_loads_empty(tmp_path: Path) -> None:
    path = tmp_path / "files"
    save(path, {b"/d": encode({b"f": b"e" * 32}), b"/e": b""})
    full = path.read_bytes()
    for cut in range(len(full)):
        path.write_bytes(full[:cut])
        assert load(path) == {}
    table_at = len(full) - filescache.FOOT.size - 2 * filescache.ROW.size
    for where in range(table_at, len(full)):  # any flipped bit of the table or footer
        path.write_bytes(full[:where] + bytes([full[where] ^ 1]) + full[where + 1 :])
        assert load(path) == {}


def test_write_failure_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    new = filescache.NewCache(blocker / "files")  # parent is a file: no cache, no exception
    new.add(b"/d", b"")
    new.commit()
    assert new.problem is not None and str(blocker) in new.problem
    assert blocker.read_bytes() == b""
    none = filescache.NewCache(None)  # no cache asked for: nothing to report
    none.commit()
    assert none.problem is None


def test_discarded_cache_leaves_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "files"
    save(path, {b"/d": b"old"})
    new = filescache.NewCache(path)
    new.add(b"/d", b"new")
    new.discard()
    assert load(path) == keyed({b"/d": b"old"})
    assert os.listdir(tmp_path) == ["files"]


def test_temporaries_of_dead_backups_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    path = tmp_path / "files"
    (tmp_path / f"files.tmp{dead}").write_bytes(b"left by a killed backup")
    (tmp_path / "files.tmp1").write_bytes(b"pid 1 is alive: kept")
    (tmp_path / "other").write_bytes(b"not ours")
    save(path, {b"/d": b""})
    assert sorted(os.listdir(tmp_path)) == ["files", "files.tmp1", "other"]


def test_unvisited_directories_are_carried_over_until_max_age(tmp_path: Path) -> None:
    path = tmp_path / "files"
    etc = encode({b"hosts": filescache.make_entry(1, 2, 3, 4, b"")})
    home = encode({b"a": filescache.make_entry(5, 6, 7, 8, b"")})
    save(path, {b"/etc": b"stale value of a visited directory", b"/home": home, b"/gone": b""})

    def backup(visit: list[bytes], records: dict[bytes, bytes]) -> dict[bytes, int]:
        old = filescache.OldCache.open(path)
        for d in visit:
            old.take(d)
        new = filescache.NewCache(path)
        for d, v in records.items():
            new.add(d, v)
        new.carry_over(old)
        new.commit()
        old.close()
        again = filescache.OldCache.open(path)
        ages = {k: age for k, _off, _n, age in again.leftovers()}
        again.close()
        return ages

    k = filescache.path_key
    assert backup([b"/etc"], {b"/etc": etc}) == {k(b"/etc"): 0, k(b"/home"): 1, k(b"/gone"): 1}
    assert load(path)[k(b"/etc")] == etc  # this backup's records, not the stale ones
    for age in range(2, filescache.MAX_AGE + 1):
        assert backup([b"/etc"], {b"/etc": etc})[k(b"/home")] == age
    assert backup([b"/etc"], {b"/etc": etc}) == {k(b"/etc"): 0}  # aged out
    # Seen again: its age starts over.
    assert backup([], {b"/home": home}) == {k(b"/home"): 0, k(b"/etc"): 1}


@given(st.dictionaries(st.binary(min_size=1, max_size=300), st.binary(max_size=300), max_size=30))
def test_any_directories_round_trip(dirs: dict[bytes, bytes]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "files"
        save(path, dirs)
        assert load(path) == keyed(dirs)
