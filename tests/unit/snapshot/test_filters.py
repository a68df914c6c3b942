"""Exclude patterns with restic's meaning (restic's doc/040_backup.rst, "Excluding files")."""

from __future__ import annotations

import pytest
from hypothesis import given
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
