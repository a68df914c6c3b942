"""Exclude patterns with restic's meaning (restic's doc/040_backup.rst, "Excluding files")."""

from __future__ import annotations

import fnmatch
import os

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kaikyo.snapshot.filters import ExcludeMatcher, PathFilter


@pytest.mark.parametrize(
    ("pattern", "path", "excluded"),
    [
        ("*.tmp", "/a/b/c.tmp", True),  # a relative pattern matches at any depth
        ("*.tmp", "/c.tmp", True),
        ("*.tmp", "/a/c.tmp.keep", False),
        ("etc/ssl", "/srv/etc/ssl", True),  # today's fnmatch matched nothing here
        ("etc/ssl", "/etc/ssl", True),
        ("etc/ssl", "/srv/etc/ssl2", False),
        ("/etc/ssl", "/srv/etc/ssl", False),  # a leading / anchors at the root
        ("/etc/ssl", "/etc/ssl", True),
        ("/home/*/.cache", "/home/alice/.cache", True),
        ("/home/*/.cache", "/home/alice/x/.cache", False),  # * stays within one name
        ("/home/**/.cache", "/home/alice/x/.cache", True),  # ** spans directories
        ("foo", "/a/foo", True),
        ("foo", "/a/foobar", False),
        ("foo/", "/a/foo", True),  # a trailing / is a directory's name
        (".*", "/home/a/.bashrc", True),  # dot files are names like any other
        ("キャッシュ", "/data/キャッシュ", True),
        ("/home/**", "/home", True),  # a trailing ** may be no directory: restic's
        ("alice/**", "/home/alice", True),
        ("alice/**", "/home/alice/x", True),
        ("alice/**", "/home/alicex", False),
    ],
)
def test_restic_meaning(pattern: str, path: str, excluded: bool) -> None:
    assert ExcludeMatcher([pattern]).matches(path) is excluded


def test_a_negated_pattern_takes_back() -> None:
    m = ExcludeMatcher(["*.log", "!keep.log"])
    assert m.matches("/var/a.log") and not m.matches("/var/keep.log")


def test_ignore_case_only_where_asked() -> None:
    m = ExcludeMatcher(["*.TMP"], ignore_case=["*.bak"])
    assert not m.matches("/a/x.tmp") and m.matches("/a/x.TMP")
    assert m.matches("/a/x.BAK") and m.matches("/a/x.bak")


def test_names_that_are_not_utf8_match() -> None:
    assert ExcludeMatcher(["*.tmp"]).matches(b"/a/\xff\xfe.tmp")
    assert not ExcludeMatcher(["*.tmp"]).matches(b"/a/\xff\xfe.txt")


def test_no_patterns_match_nothing() -> None:
    m = ExcludeMatcher(["", "  "])
    assert not m and not m.matches("/anything")


@given(st.lists(st.text("ab/", min_size=1, max_size=6), min_size=1, max_size=4))
def test_a_relative_pattern_matches_wherever_its_anchored_form_does(parts: list[str]) -> None:
    name = "/".join(p.strip("/") or "x" for p in parts)
    relative, anchored = ExcludeMatcher([name]), ExcludeMatcher(["/" + name])
    for prefix in ("", "/deep/er"):
        path = f"{prefix}/{name}"
        assert relative.matches(path) == (anchored.matches(path) or prefix != "")


def test_restore_excludes_what_is_below_an_excluded_directory() -> None:
    f = PathFilter((), ("cache",))
    assert not f.wanted(b"/home/a/cache/x/y", False)
    assert f.wanted(b"/home/a/cached", False)


# ---- restore's filters: restic's filter.List / ListWithChild over snapshot paths ----------


def _restic_parts(path: str) -> list[str]:
    parts = path.split("/")
    if parts[0] == "":
        parts[0] = "/"
    return parts


def _restic_match(pattern: list[str], strs: list[str]) -> bool:
    """restic's internal/filter.match (v0.17), written out: ``**`` ("" here) stands for any
    number of ``*`` components; an absolute pattern starts at the root, a relative one at any
    component; either may end before the path does (so it matches what lies below)."""
    if "" in pattern:
        pos = pattern.index("")
        return any(
            _restic_match(pattern[:pos] + ["*"] * i + pattern[pos + 1 :], strs)
            for i in range(len(strs) - len(pattern) + 2)
        )
    if not pattern:
        return not strs
    if len(pattern) > len(strs):
        return False
    low, high = 0, len(strs) - len(pattern)
    if pattern[0] == "/":
        high = 0
    elif strs[0] == "/":
        low = 1
    return any(
        all(fnmatch.fnmatchcase(strs[off + i], p) for i, p in enumerate(pattern))
        for off in range(high, low - 1, -1)
    )


def restic_matches(pattern: str, path: str) -> bool:
    parts = _restic_parts(os.path.normpath(pattern) if pattern.startswith("/") else pattern)
    return _restic_match(["" if p == "**" else p for p in parts if p != "."], _restic_parts(path))


_PATTERN_PARTS = st.sampled_from(["a", "b", "ab", "*", "?", "a*", "**", "b?"])
_NAMES = st.sampled_from(["a", "b", "ab", "ba", "bb"])


@given(
    st.lists(_PATTERN_PARTS, min_size=1, max_size=4),
    st.booleans(),
    st.lists(_NAMES, min_size=1, max_size=5),
)
def test_a_restore_pattern_matches_what_restics_matches(
    parts: list[str], absolute: bool, names: list[str]
) -> None:
    """A pattern matches a path or anything below a path it matches, exactly where restic's
    filter does (its matcher ported above, checked on random patterns and paths). One ``**``
    at most: with several, restic's bound on the first one's expansion counts the others as
    one component each, so ``**/**/a`` misses ``/a`` there (a quirk kaikyo does not copy)."""
    assume(parts.count("**") <= 1)
    pattern = ("/" if absolute else "") + "/".join(parts)
    path = "/" + "/".join(names)
    ours = ExcludeMatcher([pattern], below=True).matches(path)
    assert ours == restic_matches(pattern, path), (pattern, path)
    include = PathFilter((pattern,), ())
    exclude = PathFilter((), (pattern,))
    assert include.wanted(path.encode(), False) is ours
    assert exclude.wanted(path.encode(), True) is not ours


def test_an_include_takes_everything_below_a_matched_directory() -> None:
    f = PathFilter(("/home/alice",), ())
    assert f.wanted(b"/home/alice", True) and f.wanted(b"/home/alice/a/b/c", False)
    assert not f.wanted(b"/home/alicex", False) and not f.wanted(b"/home/bob/alice2", False)
    # The directories on the way are not wanted themselves: the walk creates them when it
    # restores something inside (restic's parents of a match).
    assert not f.wanted(b"/home", True)


def test_a_relative_include_matches_at_any_depth_and_below() -> None:
    f = PathFilter(("etc/ssl",), ())
    assert f.wanted(b"/srv/etc/ssl", True) and f.wanted(b"/srv/etc/ssl/deep.pem", False)
    assert not f.wanted(b"/srv/etc/ssl2/x", False)
    assert PathFilter(("*.pem",), ()).wanted(b"/a/b/c.pem", False)


def test_restore_ignores_case_only_where_asked() -> None:
    f = PathFilter((), (), iinclude=("/HOME/Bob",))
    assert f.wanted(b"/home/bob/x", False) and f.wanted(b"/HOME/BOB", True)
    assert not f.wanted(b"/home/alice", True)
    g = PathFilter((), ("*.TMP",), iexclude=("*.bak",))
    assert g.wanted(b"/a/x.tmp", False) and not g.wanted(b"/a/x.TMP", False)
    assert not g.wanted(b"/a/x.BAK", False) and not g.wanted(b"/a/x.Bak/y", False)
    assert not PathFilter((), ()) and PathFilter((), (), iexclude=("x",))


def test_an_exclude_wins_over_an_include() -> None:
    """restic refuses both at once; kaikyo takes both, and an exclude wins."""
    f = PathFilter(("/home",), ("*.log",))
    assert f.wanted(b"/home/a.txt", False) and not f.wanted(b"/home/a.log", False)
    assert not f.wanted(b"/home/logs.log/inner", False)


def test_a_negated_include_takes_back_below_too() -> None:
    f = PathFilter(("/data", "!/data/private"), ())
    assert f.wanted(b"/data/x", False)
    assert not f.wanted(b"/data/private", True) and not f.wanted(b"/data/private/k", False)


def test_restore_filters_match_names_that_are_not_utf8() -> None:
    f = PathFilter(("*.bin",), ())
    assert f.wanted(b"/a/\xff\xfe.bin", False) and f.wanted(b"/\xe9.bin/x", False)
    assert not f.wanted(b"/a/\xff.txt", False)
