"""backup's restic flags: --exclude-caches, --exclude-if-present, --exclude-larger-than,
--skip-if-unchanged, --read-concurrency, --compression, --pack-size, --dry-run with -v/-vv,
--tag a,b; each with its bad input (one line, exit 64; 23 for a bad environment variable)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import Kaikyo

SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"
FORKS: list[int] = []
os.register_at_fork(after_in_parent=lambda: FORKS.append(1))


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _paths(k: Kaikyo, ref: str = "latest") -> set[str]:
    return {e["path"] for e in k("ls", "--json", ref).json()}


def _every_file(repo: Path) -> set[tuple[str, int]]:
    """Every file under the repository, temporary ones and locks included."""
    return {(str(p.relative_to(repo)), p.stat().st_size) for p in repo.rglob("*") if p.is_file()}


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def _one_error(run: Any, *words: str) -> None:
    [line] = run.err.splitlines()
    assert line.startswith("kaikyo: error:"), run.err
    assert all(w in line for w in words), line
    assert run.out == ""


# ---- what the walk leaves out ---------------------------------------------------------------


def test_tag_files_exclude_a_directorys_contents(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = _write(
        tmp_path / "src",
        {
            "keep/a.txt": b"a",
            "cache/CACHEDIR.TAG": SIGNATURE + b"\n# made by a browser\n",
            "cache/blob": b"x" * 1000,
            "cache/sub/deep": b"y",
            "fake/CACHEDIR.TAG": b"Signature: not the right one",
            "fake/f": b"kept",
            "nob/.nobackup": b"",
            "nob/f": b"gone",
            "hdr/.tag": b"skip me\n",
            "hdr/f": b"gone",
            "hdr2/.tag": b"other content",
            "hdr2/f": b"kept",
            "キャッシュ/.除外": b"",
            "キャッシュ/f": b"gone",
        },
    )
    odd = os.fsencode(src) + b"/\xff"
    os.mkdir(odd)
    with open(odd + b"/CACHEDIR.TAG", "wb") as fh:
        fh.write(b"Signature: short")
    flags = ["--exclude-caches", "--exclude-if-present", ".nobackup"]
    flags += ["--exclude-if-present", ".tag:skip", "--exclude-if-present", ".除外"]
    doc = kaikyo("backup", "--json", *flags, src).json()
    paths = {p.removeprefix(str(src)) for p in _paths(kaikyo, doc["snapshot_id"])}
    kept = {"/keep/a.txt", "/cache", "/cache/CACHEDIR.TAG", "/fake/f", "/fake/CACHEDIR.TAG"}
    kept |= {"/nob", "/nob/.nobackup", "/hdr/.tag", "/hdr2/f", "/キャッシュ/.除外"}
    gone = {"/cache/blob", "/cache/sub", "/nob/f", "/hdr/f", "/キャッシュ/f"}
    assert kept <= paths and not gone & paths, paths
    # A tag file that is there but does not start with its header: a warning, as restic.
    warned = {w["path"]: w["warning"] for w in doc["warnings"]}
    assert set(warned) == {
        f"{src}/fake/CACHEDIR.TAG",
        f"{src}/hdr2/.tag",
        f"{src}/\\xff/CACHEDIR.TAG",  # as ls --json shows a name that is not UTF-8
    }
    assert all("signature" in w for w in warned.values())
    run = kaikyo("backup", "--dry-run", *flags, src)  # in text: a warning line, exit 0
    [line] = [ln for ln in run.err.splitlines() if "fake/CACHEDIR.TAG" in ln]
    assert line.startswith(f"kaikyo: warning: {src}/fake/CACHEDIR.TAG: ")


def test_exclude_larger_than(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = _write(
        tmp_path / "src",
        {
            "small": b"s" * 1000,
            "exact": b"e" * 1024,  # not larger than 1K: kept
            "big": b"b" * 1025,
            "dir/huge": os.urandom(3 * 1024 * 1024),
            "dir/tiny": b"t",
        },
    )
    doc = local_kaikyo("backup", "--json", "--exclude-larger-than", "1K", src).json()
    paths = {p.removeprefix(str(src)) for p in _paths(local_kaikyo, doc["snapshot_id"])}
    assert paths >= {"/small", "/exact", "/dir", "/dir/tiny"}
    assert not {"/big", "/dir/huge"} & paths
    assert doc["summary"]["bytes_total"] == 1000 + 1024 + 1
    doc = local_kaikyo("backup", "--json", "--exclude-larger-than", "4m", src).json()
    assert "/dir/huge" in {p.removeprefix(str(src)) for p in _paths(local_kaikyo)}


@pytest.mark.parametrize("size", ["-1", "5X", "ten", ""])
def test_a_bad_size_is_one_line_and_saves_nothing(
    local_kaikyo: Kaikyo, tmp_path: Path, size: str
) -> None:
    src = _write(tmp_path / "src", {"f": b"x"})
    run = local_kaikyo("backup", "--exclude-larger-than", size, src, expect=64)
    _one_error(run, "--exclude-larger-than", repr(size))
    assert local_kaikyo("snapshots", "--json").json() == []


@pytest.mark.parametrize("spec", ["", ":Signature", "a/b"])
def test_a_bad_tag_file_is_one_line(local_kaikyo: Kaikyo, tmp_path: Path, spec: str) -> None:
    src = _write(tmp_path / "src", {"f": b"x"})
    run = local_kaikyo("backup", "--exclude-if-present", spec, src, expect=64)
    _one_error(run, "--exclude-if-present")


# ---- --skip-if-unchanged ------------------------------------------------------------------


def test_skip_if_unchanged_saves_no_snapshot_when_nothing_changed(
    kaikyo: Kaikyo, tmp_path: Path
) -> None:
    src = _write(tmp_path / "src", {"a": b"1", "sub/b": b"2"})
    first = kaikyo.backup(src)["snapshot_id"]
    doc = kaikyo("backup", "--json", "--skip-if-unchanged", src).json()
    assert doc["snapshot_id"] is None and doc["skipped"] is True and doc["dry_run"] is False
    assert doc["summary"]["files_unmodified"] == 2
    run = kaikyo("backup", "--skip-if-unchanged", src)
    assert f"skipped creating snapshot: nothing changed since snapshot {first[:8]}" in run.out
    assert [s["id"] for s in kaikyo("snapshots", "--json").json()] == [first]
    # Without the flag an unchanged backup is saved; with it, a change or other paths are.
    assert kaikyo.backup(src)["snapshot_id"]
    (src / "sub" / "b").write_bytes(b"changed")
    changed = kaikyo("backup", "--json", "--skip-if-unchanged", src).json()
    assert changed["snapshot_id"] and changed["skipped"] is False
    other = kaikyo("backup", "--json", "--skip-if-unchanged", src / "sub").json()
    assert other["snapshot_id"]
    assert len(kaikyo("snapshots", "--json").json()) == 4


# ---- how the session reads and writes ----------------------------------------------------


def test_read_concurrency_takes_precedence_over_kaikyo_workers(
    local_kaikyo: Kaikyo, tmp_path: Path
) -> None:
    """Seen by the forks themselves: one reader is the main process alone."""
    src = _write(tmp_path / "src", {f"f{i}": os.urandom(50_000) for i in range(40)})
    before = len(FORKS)
    one = local_kaikyo(
        "backup", "--json", "--no-cache", "--read-concurrency", "1", src,
        env={"KAIKYO_WORKERS": "4"},
    ).json()  # fmt: skip
    assert len(FORKS) == before and one["summary"]["files_new"] == 40
    (src / "f0").write_bytes(os.urandom(50_000))
    two = local_kaikyo(
        "backup", "--json", "--no-cache", "--read-concurrency", "2", src,
        env={"KAIKYO_WORKERS": "1"},
    ).json()  # fmt: skip
    assert len(FORKS) > before and two["summary"]["files_new"] == 40


@pytest.mark.parametrize("n", ["0", "65", "x", "2.5"])
def test_read_concurrency_out_of_range(local_kaikyo: Kaikyo, tmp_path: Path, n: str) -> None:
    run = local_kaikyo("backup", "--read-concurrency", n, tmp_path, expect=64)
    _one_error(run, "--read-concurrency", "1 to 64")


def _data_bytes(k: Kaikyo) -> int:
    return sum(p.stat().st_size for p in (k.repo / "data").rglob("*") if p.is_file())


def test_compression_modes(tmp_path: Path) -> None:
    """off stores the text raw, max smaller than auto; each restores to the same bytes, and
    KAIKYO_COMPRESSION means what the flag means."""
    text = b"".join(b"line %d of a log that repeats itself\n" % (i % 5000) for i in range(40_000))
    src = _write(tmp_path / "src", {"log.txt": text})
    stored = {}
    for how, flags, env in [
        ("auto", [], {}),
        ("off", ["--compression", "off"], {}),
        ("max", ["--compression", "max"], {}),
        ("env-off", [], {"KAIKYO_COMPRESSION": "off"}),
        ("flag-over-env", ["--compression", "auto"], {"KAIKYO_COMPRESSION": "off"}),
    ]:
        k = Kaikyo(tmp_path / f"repo-{how}", tmp_path / f"cache-{how}").init()
        k("backup", *flags, src, env=env)
        stored[how] = _data_bytes(k)
        k("check", "--read-data")
        k.restore("latest", tmp_path / f"out-{how}")
        assert (tmp_path / f"out-{how}" / src.relative_to("/") / "log.txt").read_bytes() == text
    assert stored["off"] > len(text) > 10 * stored["auto"]
    assert stored["max"] < stored["auto"]
    assert stored["env-off"] == pytest.approx(stored["off"], rel=0.01)
    assert stored["flag-over-env"] == pytest.approx(stored["auto"], rel=0.01)


def test_pack_size(tmp_path: Path) -> None:
    src = _write(tmp_path / "src", {"big.bin": os.urandom(10 * 1024 * 1024)})
    counts = {}
    for how, flags, env in [
        ("default", [], {}),
        ("flag", ["--pack-size", "4"], {}),
        ("env", [], {"KAIKYO_PACK_SIZE": "4"}),
    ]:
        k = Kaikyo(tmp_path / f"repo-{how}", tmp_path / f"cache-{how}").init()
        k("backup", *flags, src, env=env)
        sizes = [p.stat().st_size for p in (k.repo / "data").rglob("*") if p.is_file()]
        counts[how] = len(sizes)
        if how != "default":  # a pack is cut once it reaches 4 MiB: at most one chunk more
            assert max(sizes) < 8 * 1024 * 1024
        k("check", "--read-data")
    assert counts["default"] == 2  # one data pack, one tree pack
    assert counts["flag"] == counts["env"] >= 4


@pytest.mark.parametrize(
    ("flags", "env", "code", "words"),
    [
        (["--pack-size", "3"], {}, 64, ["--pack-size", "4 to 128"]),
        (["--pack-size", "129"], {}, 64, ["--pack-size"]),
        (["--pack-size", "16M"], {}, 64, ["--pack-size"]),
        ([], {"KAIKYO_PACK_SIZE": "big"}, 23, ["KAIKYO_PACK_SIZE"]),
        (["--compression", "fastest"], {}, 64, ["--compression", "auto, off and max"]),
        ([], {"KAIKYO_COMPRESSION": "zstd"}, 23, ["KAIKYO_COMPRESSION"]),
        (["--tag", "a,,b"], {}, 64, ["empty tag"]),
        (["--tag", ""], {}, 64, ["empty tag"]),
    ],
)
def test_bad_tuning_is_one_line_and_saves_nothing(
    local_kaikyo: Kaikyo,
    tmp_path: Path,
    flags: list[str],
    env: dict[str, str],
    code: int,
    words: list[str],
) -> None:
    src = _write(tmp_path / "src", {"f": b"x"})
    before = _every_file(local_kaikyo.repo)
    run = local_kaikyo("backup", *flags, src, env=env, expect=code)
    _one_error(run, *words)
    assert _every_file(local_kaikyo.repo) == before


def test_tags_split_on_commas(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = _write(tmp_path / "src", {"f": b"x"})
    local_kaikyo("backup", "--tag", "daily,夜間", "--tag", "db,daily", src)
    [snap] = local_kaikyo("snapshots", "--json", "--tag", "db").json()
    assert snap["tags"] == ["daily", "夜間", "db"]


# ---- --dry-run with -v ---------------------------------------------------------------------


def test_a_dry_run_stores_nothing_and_lists_what_it_would(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = _write(tmp_path / "src", {"a.txt": b"a" * 5000, "d/b.bin": os.urandom(70_000)})
    odd = os.fsencode(src) + b"/\xff\xfe.dat"
    with open(odd, "wb") as fh:
        fh.write(b"odd")
    before = _every_file(kaikyo.repo)
    run = kaikyo("backup", "-n", "-v", src)
    listed = {ln for ln in run.out.splitlines() if ln.startswith("new ")}  # as files finish
    assert listed == {
        f"new       {src}/\\xff\\xfe.dat",
        f"new       {src}/a.txt",
        f"new       {src}/d/b.bin",
    }
    assert "would add" in run.out and "dry run: nothing was stored" in run.out
    assert _every_file(kaikyo.repo) == before  # no pack, index, snapshot, nor a lock
    assert kaikyo("snapshots", "--json").json() == []

    kaikyo.backup(src)
    (src / "a.txt").write_bytes(b"changed")
    (src / "new.txt").write_bytes(b"new")
    before = _every_file(kaikyo.repo)
    once = kaikyo("backup", "--dry-run", "-v", src).out.splitlines()
    assert f"modified  {src}/a.txt" in once and f"new       {src}/new.txt" in once
    assert not any(ln.startswith("unchanged") for ln in once)
    twice = kaikyo("backup", "--dry-run", "-vv", src).out.splitlines()
    assert f"unchanged {src}/d/b.bin" in twice and f"modified  {src}/a.txt" in twice
    lines = _lines(kaikyo("backup", "--dry-run", "-v", "--json", src).out)
    *progress, summary = lines
    verbose = [v for v in progress if v["message_type"] == "verbose_status"]
    assert all(v["message_type"] in ("verbose_status", "status") for v in progress)
    actions = {v["item"]: v["action"] for v in verbose}
    assert actions == {
        f"{src}/a.txt": "modified",
        f"{src}/new.txt": "new",
        f"{src}/d/b.bin": "unchanged",
        f"{src}/\\xff\\xfe.dat": "unchanged",
    }
    assert summary["message_type"] == "summary" and summary["dry_run"] is True
    assert summary["snapshot_id"] is None and summary["summary"]["files_changed"] == 1
    assert _every_file(kaikyo.repo) == before
    # Without -v: status lines (at least the last one), then the summary.
    plain = _lines(kaikyo("backup", "-n", "--json", src).out)
    assert [d["message_type"] for d in plain][-2:] == ["status", "summary"]


def test_verbose_lists_what_a_real_backup_saves(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = _write(tmp_path / "src", {"x": b"1", "y": b"2"})
    run = local_kaikyo("backup", "-v", src)
    assert set(run.out.splitlines()[:2]) == {f"new       {src}/x", f"new       {src}/y"}
    assert "snapshot " in run.out.splitlines()[-1]
