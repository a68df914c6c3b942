"""Tag files that exclude a directory's contents: restic's --exclude-if-present FILE[:HEADER]
and --exclude-caches (cmd/restic/exclude.go, isDirExcludedByFile), on real directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaikyo.errors import UsageError
from kaikyo.snapshot.dirtags import CACHEDIR_TAG, DirTags, TagFile, parse_tag_file

SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


def _dir(tmp_path: Path, files: dict[str, bytes]) -> tuple[bytes, list[bytes]]:
    d = tmp_path / "d"
    d.mkdir()
    for name, data in files.items():
        (d / name).write_bytes(data)
    return os.fsencode(d), sorted(os.fsencode(n) for n in files)


def _kept(tags: list[str], where: bytes, names: list[bytes]) -> tuple[list[bytes], list[str]]:
    warnings: list[str] = []
    kept = DirTags([parse_tag_file(t) for t in tags], lambda p, m: warnings.append(m))
    return sorted(kept.kept(where, list(names))), warnings


@pytest.mark.parametrize(
    ("spec", "tag"),
    [
        (".nobackup", TagFile(b".nobackup")),
        ("CACHEDIR.TAG:Signature: 8a47", TagFile(b"CACHEDIR.TAG", b"Signature: 8a47")),
        ("x:a:b", TagFile(b"x", b"a:b")),  # the first ':' splits, as restic's
        ("キャッシュ", TagFile("キャッシュ".encode())),
        ("x:", TagFile(b"x")),
    ],
)
def test_specs_parse_as_restic(spec: str, tag: TagFile) -> None:
    assert parse_tag_file(spec) == tag


@pytest.mark.parametrize("spec", ["", ":header", "a/b", "/abs"])
def test_bad_specs_are_one_usage_error(spec: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_tag_file(spec)
    assert "--exclude-if-present" in err.value.message and "\n" not in err.value.message


def test_presence_alone_keeps_only_the_tag(tmp_path: Path) -> None:
    where, names = _dir(tmp_path, {".nobackup": b"", "a": b"1", "b": b"2"})
    assert _kept([".nobackup"], where, names) == ([b".nobackup"], [])


def test_an_untagged_directory_keeps_everything(tmp_path: Path) -> None:
    where, names = _dir(tmp_path, {"a": b"1", "CACHEDIR.TAG.bak": SIGNATURE})
    assert _kept([CACHEDIR_TAG, ".nobackup"], where, names) == (names, [])


def test_a_cache_directory_needs_its_signature(tmp_path: Path) -> None:
    where, names = _dir(tmp_path, {"CACHEDIR.TAG": SIGNATURE + b"\n# a comment\n", "x": b""})
    assert _kept([CACHEDIR_TAG], where, names) == ([b"CACHEDIR.TAG"], [])


@pytest.mark.parametrize("content", [b"Signature: wrong", b"", SIGNATURE[:-1]])
def test_a_wrong_or_short_signature_excludes_nothing_and_warns(
    tmp_path: Path, content: bytes
) -> None:
    where, names = _dir(tmp_path, {"CACHEDIR.TAG": content, "x": b"1"})
    kept, warnings = _kept([CACHEDIR_TAG], where, names)
    assert kept == names
    assert warnings == ["the exclusion tag file does not start with its signature"]


def test_two_tags_in_one_directory_keep_neither(tmp_path: Path) -> None:
    """Each tag's rule excludes everything but its own file, so the other's goes too."""
    where, names = _dir(tmp_path, {".nobackup": b"", "CACHEDIR.TAG": SIGNATURE, "x": b""})
    assert _kept([".nobackup", CACHEDIR_TAG], where, names) == ([], [])
    # The same name twice (with and without a header) is one tag.
    assert _kept(["CACHEDIR.TAG", CACHEDIR_TAG], where, names) == ([b"CACHEDIR.TAG"], [])


def test_a_tag_that_is_not_a_readable_file_warns(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d / "CACHEDIR.TAG").mkdir(parents=True)  # a directory of that name
    os.mkfifo(d / "FIFO.TAG")  # must not hang the walk
    (d / "x").write_bytes(b"")
    names = sorted(os.listdir(os.fsencode(d)))
    kept, warnings = _kept([CACHEDIR_TAG, "FIFO.TAG:x"], os.fsencode(d), names)
    assert kept == names
    assert len(warnings) == 2 and all("cannot read" in w for w in warnings)


def test_a_symlinked_tag_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.tag").write_bytes(SIGNATURE)
    d = tmp_path / "d"
    d.mkdir()
    os.symlink(tmp_path / "real.tag", d / "CACHEDIR.TAG")
    (d / "x").write_bytes(b"")
    kept, _ = _kept([CACHEDIR_TAG], os.fsencode(d), [b"CACHEDIR.TAG", b"x"])
    assert kept == [b"CACHEDIR.TAG"]


def test_names_that_are_not_utf8(tmp_path: Path) -> None:
    d = os.fsencode(tmp_path) + b"/\xff\xfe"
    os.mkdir(d)
    for name in (b"\xfftag", b"\xe9"):
        with open(d + b"/" + name, "wb") as fh:
            fh.write(b"hdr")
    tags = DirTags([TagFile(b"\xfftag", b"hdr")], lambda p, m: None)
    assert tags.kept(d, [b"\xe9", b"\xfftag"]) == [b"\xfftag"]
