"""restore's --include/--exclude with restic's meaning, and --iinclude/--iexclude (restic 0.17),
on the metadata zoo (names that are not UTF-8, Japanese and Korean names). The same flags
against restic itself: tests/integration/test_restic_compat.py."""

from __future__ import annotations

import stat
from pathlib import Path

from kaikyo.testing.compare import scan
from kaikyo.testing.trees import JAPANESE_NAME, NON_UTF8_NAME

from .conftest import ZooRepo


def _parents(paths: set[bytes]) -> set[bytes]:
    return {p[:i] for p in paths for i in range(1, len(p)) if p[i : i + 1] == b"/"}


def test_iinclude_is_include_ignoring_case(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    exact, upper = tmp_path / "exact", tmp_path / "upper"
    zoo_repo.k.restore(zoo_repo.ref(), exact, "--include", "*.bin")
    zoo_repo.k.restore(zoo_repo.ref(), upper, "--iinclude", "*.BIN")
    got = set(scan(upper))
    assert got == set(scan(exact))
    assert b"/names/" + NON_UTF8_NAME in got
    nothing = tmp_path / "nothing"
    zoo_repo.k.restore(zoo_repo.ref(), nothing, "--include", "*.BIN")  # case matters here
    assert b"/names/" + NON_UTF8_NAME not in set(scan(nothing))


def test_iexclude_is_exclude_ignoring_case(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    zoo_repo.k.restore(zoo_repo.ref(), out, "--iexclude", "*.BIN", "--iexclude", "/NAMES")
    source = scan(zoo_repo.zoo.root)
    kept = {rel for rel in source if not rel.endswith(b".bin") and not rel.startswith(b"/names")}
    assert set(scan(out)) == kept


def test_an_included_directory_comes_whole_with_its_parents(
    zoo_repo: ZooRepo, tmp_path: Path
) -> None:
    """restic's include: a matched directory brings everything below it, and the directories
    above it are created with their metadata; nothing else."""
    source = scan(zoo_repo.zoo.root)
    [sub] = sorted(
        rel
        for rel, e in source.items()
        if stat.S_ISDIR(e.st.st_mode) and rel.count(b"/") == 2 and b"/names/" in rel
    )[:1]
    out = tmp_path / "out"
    zoo_repo.k.restore(zoo_repo.ref(), out, "--include", sub.decode("utf-8", "surrogateescape"))
    below = {rel for rel in source if rel == sub or rel.startswith(sub + b"/")}
    restored = scan(out)
    assert set(restored) == below | _parents(below) | {b""}
    assert restored[b"/names"].st.st_mode == source[b"/names"].st.st_mode


def test_a_japanese_pattern_matches_its_name(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    zoo_repo.k.restore(zoo_repo.ref(), out, "--include", JAPANESE_NAME)
    files = {rel for rel, e in scan(out).items() if not stat.S_ISDIR(e.st.st_mode)}
    assert files and all(rel.endswith(JAPANESE_NAME.encode()) for rel in files)
