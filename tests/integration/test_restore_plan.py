"""Restore's compact plan, bounded pack reads, worker threads and skipped no-op calls.

Files spread over many small packs, chunks wanted at several places, needed chunks far apart
in one pack, hardlink groups (also cut by an include), restrictive umasks, a setgid target and
a failing worker: every restore must still be byte- and metadata-exact, or fail in one line.
"""

from __future__ import annotations

import os
import random
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaikyo.core.chunking import ChunkerParams
from kaikyo.errors import IntegrityError
from kaikyo.repo import packs as pack_reads
from kaikyo.snapshot import restore
from kaikyo.store.local import LocalStore
from kaikyo.testing.compare import assert_trees_equal
from kaikyo.testing.repos import new_repository

from .conftest import PASSWORD, Kaikyo
from .test_errors import assert_error

KIB = 1024
MIB = 1024 * KIB


def small_repo(
    base: Path, pack_size: int = 64 * KIB, chunker: ChunkerParams | None = None
) -> Kaikyo:
    """A local repository with small packs (and small chunks unless given), cheap to open."""
    repo = base / "repo"
    new_repository(
        LocalStore(repo, create=True),
        PASSWORD,
        pack_size=pack_size,
        chunker=chunker or ChunkerParams(min_size=4 * KIB, avg_size=16 * KIB, max_size=64 * KIB),
        kdf_cost=(1, 8 * 1024),
    )
    return Kaikyo(repo, base / "cache")


def rand(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n)


@pytest.fixture
def spread(tmp_path: Path) -> Iterator[tuple[Kaikyo, Path, str]]:
    """Files over dozens of 64 KiB packs, with chunks repeated inside a file and across files."""
    rng = random.Random(7)
    src = tmp_path / "src"
    (src / "d" / "e").mkdir(parents=True)
    (src / "big").write_bytes(rand(rng, 1536 * KIB))
    block = rand(rng, 64 * KIB)
    (src / "repeated").write_bytes(block * 8 + rand(rng, 5000) + block * 3)
    (src / "d" / "copy-1").write_bytes((src / "repeated").read_bytes())
    (src / "d" / "e" / "copy-2").write_bytes((src / "repeated").read_bytes())
    (src / "zeros").write_bytes(bytes(300 * KIB))
    (src / "empty").write_bytes(b"")
    for i in range(40):
        (src / "d" / f"small-{i}").write_bytes(rand(rng, rng.randrange(1, 40 * KIB)))
    os.chmod(src / "big", 0o640)
    os.chmod(src / "d" / "small-3", 0o604)
    k = small_repo(tmp_path)
    sid = k.backup(src)["snapshot_id"]
    yield k, src, sid


@pytest.mark.parametrize("workers", ["1", "2", "3"])
def test_many_packs_and_small_spans_restore_exactly(
    spread: tuple[Kaikyo, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    k, src, sid = spread
    packs = list((k.repo / "data").rglob("*"))
    assert len([p for p in packs if p.is_file()]) > 20
    # Reads of 40 KiB at most and a new read after any gap over 2 KiB: many spans per pack.
    monkeypatch.setattr(pack_reads, "READ_SPAN", 40 * KIB)
    monkeypatch.setattr(pack_reads, "READ_GAP", 2 * KIB)
    out = tmp_path / f"out-{workers}"
    doc = k(
        "restore",
        f"{sid}:{src}",
        "--target",
        out,
        "--verify",
        "--json",
        env={"KAIKYO_WORKERS": workers},
    ).json()
    assert_trees_equal(src, out)
    assert doc["verified"] == doc["files"] == 46
    assert doc["bytes"] == sum(p.stat().st_size for p in src.rglob("*") if p.is_file())


def test_reads_skip_what_the_restore_does_not_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks needed from one pack with a wide gap between them are read apart, not as one
    range from the first to the last."""
    rng = random.Random(3)
    src = tmp_path / "src"
    src.mkdir()
    for name, size in (("a", 300 * KIB), ("b", 3 * MIB), ("c", 300 * KIB)):
        (src / name).write_bytes(rand(rng, size))
    k = small_repo(tmp_path, pack_size=16 * MIB, chunker=ChunkerParams())
    sid = k("backup", "--json", src, env={"KAIKYO_WORKERS": "1"}).json()["snapshot_id"]
    assert len([p for p in (k.repo / "data").rglob("*") if p.is_file()]) <= 2  # one data pack
    reads: list[int] = []
    get = LocalStore.get

    def recording(self: LocalStore, name: str, offset: int = 0, length: int | None = None) -> bytes:
        data = get(self, name, offset, length)
        if name.startswith("data/") and len(data) > 64 * KIB:  # chunks, not trees
            reads.append(len(data))
        return data

    monkeypatch.setattr(LocalStore, "get", recording)
    out = tmp_path / "out"
    k("restore", f"{sid}:{src}", "--target", out, "--include", "/a", "--include", "/c")
    assert sorted(os.listdir(out)) == ["a", "c"]
    for name in ("a", "c"):
        assert (out / name).read_bytes() == (src / name).read_bytes()
    assert 0 < sum(reads) < 700 * KIB and max(reads) <= pack_reads.READ_SPAN, reads


def test_hardlink_groups(tmp_path: Path) -> None:
    rng = random.Random(5)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (src / "f1").write_bytes(rand(rng, 70 * KIB))
    os.link(src / "f1", src / "sub" / "f1-link")
    (src / "g1").write_bytes(rand(rng, 20 * KIB))
    os.link(src / "g1", src / "g2")
    os.link(src / "g1", src / "sub" / "g3")
    (src / "h").write_bytes(b"linked from outside the backup\n")
    os.link(src / "h", outside / "h")  # two links, one of them in the snapshot
    (src / "plain").write_bytes(rand(rng, 9 * KIB))
    k = small_repo(tmp_path)
    sid = k.backup(src)["snapshot_id"]
    out = tmp_path / "out"
    doc = k("restore", f"{sid}:{src}", "--target", out, "--json", "--verify").json()
    assert_trees_equal(src, out)
    assert (doc["files"], doc["links"], doc["verified"]) == (4, 3, 4)
    assert os.stat(out / "h").st_nlink == 1
    # Without the first of a group, the first one restored is the one linked to.
    part = tmp_path / "part"
    doc = k(
        "restore",
        f"{sid}:{src}",
        "--target",
        part,
        "--json",
        "--include",
        "/g2",
        "--include",
        "/sub",
    ).json()
    assert sorted(os.listdir(part)) == ["g2", "sub"]
    assert os.stat(part / "g2").st_ino == os.stat(part / "sub" / "g3").st_ino
    assert (part / "sub" / "g3").read_bytes() == (src / "g1").read_bytes()
    assert (part / "sub" / "f1-link").read_bytes() == (src / "f1").read_bytes()
    assert (doc["files"], doc["links"]) == (2, 1)


@pytest.mark.parametrize("mask", [0o077, 0o000, 0o027])
def test_modes_exact_under_any_umask(tmp_path: Path, mask: int) -> None:
    """New files get the final mode at creation where the umask allows; chmod otherwise."""
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    modes = {
        "a": 0o644,
        "b": 0o755,
        "c": 0o600,
        "d/e": 0o666,
        "d/f": 0o4755,
        "g": 0o640,
        "h": 0o444,
        "empty": 0o664,
    }
    for name, mode in modes.items():
        (src / name).write_bytes(b"" if name == "empty" else name.encode() * 100)
        os.chmod(src / name, mode)
    os.chmod(src / "d", 0o750)
    k = small_repo(tmp_path)
    sid = k.backup(src)["snapshot_id"]
    out = tmp_path / "out"
    old = os.umask(mask)
    try:
        k.restore(f"{sid}:{src}", out)
    finally:
        os.umask(old)
    assert_trees_equal(src, out)
    assert stat.S_IMODE(os.stat(out / "d" / "f").st_mode) == 0o4755


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the target another group")
def test_setgid_target_of_another_group(tmp_path: Path) -> None:
    """New inodes in a setgid directory take its group: owners must still be set."""
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "a").write_bytes(b"a" * 5000)
    (src / "d" / "b").write_bytes(b"")
    os.symlink("a", src / "link")
    k = small_repo(tmp_path)
    sid = k.backup(src)["snapshot_id"]
    out = tmp_path / "out"
    out.mkdir()
    os.chown(out, 0, 4242)
    os.chmod(out, 0o2775)
    k.restore(f"{sid}:{src}", out)
    assert_trees_equal(src, out)
    assert os.lstat(out / "link").st_gid == os.lstat(src / "link").st_gid


def test_a_failing_worker_stops_the_restore(
    spread: tuple[Kaikyo, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k, src, sid = spread
    write_pack = restore.Restorer._write_pack
    calls: list[int] = []

    def failing(self: restore.Restorer, g: int, me: int, *rest: object) -> int:
        calls.append(me)
        if me == 2:
            raise IntegrityError(f"blob {g:08x} does not authenticate (corrupt or tampered)")
        return write_pack(self, g, me, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(restore.Restorer, "_write_pack", failing)
    run = k(
        "restore",
        f"{sid}:{src}",
        "--target",
        tmp_path / "out",
        expect=None,
        env={"KAIKYO_WORKERS": "2"},
    )
    assert_error(run, 15, "does not authenticate")
    assert calls.count(2) == 1  # the thread stopped at its first failure
