"""The mount's filesystem without FUSE: the catalog of snapshots (pure), the caches, and
:class:`SnapshotFS`'s operations called directly on a real repository (what libfuse would
call), including a refresh that picks up a backup made while mounted and a corrupt blob."""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaikyo.repo import Repository, SnapshotRecord
from kaikyo.snapshot.mount import Blobs, MountOptions, SnapshotFS, build_catalog, time_name
from kaikyo.snapshot.mount.blobs import Lru
from kaikyo.snapshot.mount.catalog import SnapshotDir, VirtualDir, VirtualLink
from kaikyo.snapshot.mount.ops import InTree
from kaikyo.store.local import LocalStore
from kaikyo.testing.cli import kaikyo
from kaikyo.testing.clock import FakeClock
from kaikyo.testing.trees import JAPANESE_NAME, NON_UTF8_NAME

MIB = 1024 * 1024
TREE = "ab" * 32


def _record(sid: str, t: float, host: str = "h", tags: list[str] | None = None) -> SnapshotRecord:
    doc = {"tree": TREE, "time": t, "hostname": host, "tags": tags or [], "paths": ["/x"]}
    return SnapshotRecord(sid, doc, None)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# ---- the catalog -----------------------------------------------------------------------


def test_time_names(utc: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert time_name(1_796_349_600.75) == "2026-12-04T02:00:00Z"
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    assert time_name(1_796_349_600.75) == "2026-12-04T11:00:00+09:00"


def test_catalog_names_latest_ids_hosts_tags(utc: None) -> None:
    a, b, c = "a" * 64, "ab" + "0" * 62, "c" * 64
    records = [
        _record(c, 1_796_349_700, host="web", tags=["weekly", "a/b", "..", ""]),
        _record(a, 1_796_349_600.1, tags=["nightly"]),
        _record(b, 1_796_349_600.9, host="", tags=["nightly", "nightly"]),
    ]
    root = build_catalog(records, 5)
    assert list(root.children) == [b"snapshots", b"ids", b"hosts", b"tags"]
    snaps = root.children[b"snapshots"]
    assert isinstance(snaps, VirtualDir)
    assert list(snaps.children) == [
        b"2026-12-04T02:00:00Z",
        b"2026-12-04T02:00:00Z-1",  # the same second: the later one gets -1, as restic
        b"2026-12-04T02:01:40Z",
        b"latest",
    ]
    latest = snaps.children[b"latest"]
    assert isinstance(latest, VirtualLink) and latest.target == b"2026-12-04T02:01:40Z"
    assert snaps.mtime_ns == root.mtime_ns == 1_796_349_700 * 10**9
    first = snaps.children[b"2026-12-04T02:00:00Z"]
    assert isinstance(first, SnapshotDir) and first.snapshot_id == a
    assert first.mtime_ns == 1_796_349_600_100_000_000 and first.tree == bytes.fromhex(TREE)
    ids = root.children[b"ids"]
    assert isinstance(ids, VirtualDir)
    assert sorted(ids.children) == [b"a" * 8, b"ab000000", b"c" * 8]
    assert ids.lookup(b"c" * 64) is ids.lookup(b"C" * 12) is ids.children[b"c" * 8]
    assert ids.lookup(b"a" * 9) is first
    assert ids.lookup(b"a" * 65) is None and ids.lookup(b"\xff" * 10) is None
    hosts, tags = root.children[b"hosts"], root.children[b"tags"]
    assert isinstance(hosts, VirtualDir) and isinstance(tags, VirtualDir)
    assert list(hosts.children) == [b"h", b"web"]  # an empty hostname has no directory
    assert list(tags.children) == [b"nightly", b"weekly"]
    nightly = tags.children[b"nightly"]
    assert isinstance(nightly, VirtualDir) and len(nightly.children) == 3  # two and latest


def test_empty_catalog() -> None:
    root = build_catalog([], 42)
    assert root.mtime_ns == 42
    for name in (b"snapshots", b"ids", b"hosts", b"tags"):
        d = root.children[name]
        assert isinstance(d, VirtualDir) and d.children == {} and d.mtime_ns == 42


# ---- the cache ---------------------------------------------------------------------------


def test_lru_loads_a_key_once_and_evicts_by_weight() -> None:
    cache: Lru[str, bytes] = Lru(100, len)
    calls: list[str] = []
    gate = threading.Event()

    def slow() -> bytes:
        calls.append("x")
        gate.wait(5)
        return b"x" * 10

    got: list[bytes] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("x", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join()
    assert calls == ["x"] and got == [b"x" * 10] * 8
    for i in range(20):
        cache.get(str(i), lambda: b"y" * 20)
    assert cache.held <= 100
    cache.get("big", lambda: b"z" * 30)  # over a quarter of the limit: not kept
    assert cache.held <= 100 and "big" not in cache._items

    def fails() -> bytes:
        raise ValueError("bad")

    with pytest.raises(ValueError):
        cache.get("f", fails)
    assert cache.get("f", lambda: b"ok") == b"ok"  # a failed load is not remembered


# ---- the operations on a real repository --------------------------------------------------


class Repo:
    def __init__(self, base: Path) -> None:
        self.path = base / "repo"
        self.env = {
            "KAIKYO_REPOSITORY": str(self.path),
            "KAIKYO_PASSWORD": "pw",
            "KAIKYO_CACHE_DIR": str(base / "cache"),
            "KAIKYO_WORKERS": "1",
        }
        assert kaikyo("init", env=self.env).code == 0

    def backup(self, src: Path) -> str:
        run = kaikyo("backup", "--json", src, env=self.env)
        assert run.code == 0, run.err
        return str(run.json()["snapshot_id"])

    def open(self) -> Repository:
        repo = Repository.open(LocalStore(self.path), "pw")
        repo.load_index()
        return repo


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Repo, Path, str]:
    src = tmp_path / "src"
    (src / "dir").mkdir(parents=True)
    (src / JAPANESE_NAME).write_text("こんにちは\n")
    (src / "big").write_bytes(os.urandom(5 * MIB))
    with open(os.fsencode(src / "dir") + b"/" + NON_UTF8_NAME, "wb") as fh:
        fh.write(b"odd")
    os.symlink(JAPANESE_NAME, src / "link")
    os.setxattr(src / "big", "user.k", b"v\xff")
    os.chmod(src / "big", 0o640)
    os.utime(src / "big", ns=(1, 1_600_000_000_123_456_789))
    repo = Repo(tmp_path)
    return repo, src, repo.backup(src)


def _fs(
    repo: Repository, clock: FakeClock, warnings: list[str], owner_root: bool = False
) -> SnapshotFS:
    options = MountOptions(uid=1234, gid=5678, owner_root=owner_root)
    return SnapshotFS(Blobs(repo), repo.list_snapshots, clock, options, warnings.append)


def _read(fs: SnapshotFS, path: str, size: int = 64 * MIB, offset: int = 0) -> bytes:
    fh = fs.open(path, os.O_RDONLY)
    try:
        return fs.read(path, size, offset, fh)
    finally:
        fs.release(path, fh)


def test_operations(setup: tuple[Repo, Path, str]) -> None:
    r, src, sid = setup
    warnings: list[str] = []
    fs = _fs(r.open(), FakeClock(2_000_000_000), warnings)
    top = f"/ids/{sid[:8]}{src}"
    names = [e if isinstance(e, str) else e[0] for e in fs.readdir(top, 0)]
    assert sorted(names) == sorted([".", "..", "big", "dir", "link", JAPANESE_NAME])
    odd = NON_UTF8_NAME.decode("utf-8", "surrogateescape")
    assert odd in [e if isinstance(e, str) else e[0] for e in fs.readdir(f"{top}/dir", 0)]
    assert _read(fs, f"{top}/dir/{odd}") == b"odd"
    big = (src / "big").read_bytes()
    assert _read(fs, f"{top}/big") == big
    assert _read(fs, f"{top}/big", 3 * MIB, MIB + 3) == big[MIB + 3 : 4 * MIB + 3]
    assert _read(fs, f"{top}/big", 10, 5 * MIB) == b""
    attrs = fs.getattr(f"{top}/big")
    assert attrs["st_mode"] == stat.S_IFREG | 0o640 and attrs["st_size"] == 5 * MIB
    assert attrs["st_mtime"] == 1_600_000_000_123_456_789
    assert (attrs["st_uid"], attrs["st_gid"]) == (os.getuid(), os.getgid())
    assert fs.getattr("/")["st_uid"] == 1234  # made-up directories: the mounting user's
    assert fs.readlink(f"{top}/link") == JAPANESE_NAME
    assert fs.readlink("/snapshots/latest") == fs.readdir("/snapshots", 0)[2][0]
    assert fs.getxattr(f"{top}/big", "user.k") == b"v\xff"
    assert fs.listxattr(f"{top}/big") == ["user.k"] and fs.listxattr("/ids") == []
    for path, flags, code in (
        (f"{top}/nothing", os.O_RDONLY, errno.ENOENT),
        (f"{top}/big/below", os.O_RDONLY, errno.ENOTDIR),
        (f"{top}/big", os.O_WRONLY, errno.EROFS),
        (top, os.O_RDONLY, errno.EISDIR),
        ("/ids", os.O_RDONLY, errno.EISDIR),
    ):
        with pytest.raises(OSError) as info:
            fs.open(path, flags)
        assert info.value.errno == code, path
    for call in (lambda: fs.getxattr(f"{top}/big", "user.none"), lambda: fs.readlink(top)):
        with pytest.raises(OSError):
            call()
    with pytest.raises(OSError) as info:
        fs.readdir(f"{top}/big", 0)
    assert info.value.errno == errno.ENOTDIR
    assert warnings == []
    root_fs = _fs(r.open(), FakeClock(0), warnings, owner_root=True)
    assert root_fs.getattr(f"{top}/big")["st_uid"] == root_fs.getattr("/")["st_gid"] == 0


def test_refresh_shows_a_backup_made_while_mounted(setup: tuple[Repo, Path, str]) -> None:
    r, src, first = setup
    clock = FakeClock(2_000_000_000)
    fs = _fs(r.open(), clock, [])
    (src / "new").write_bytes(os.urandom(MIB))
    second = r.backup(src)
    assert fs.readdir("/ids", 0)[2:] == [(first[:8], {"st_mode": stat.S_IFDIR}, 0)]
    clock.advance(61)  # restic's interval: the list is read again when a directory is listed
    ids = sorted(e[0] for e in fs.readdir("/ids", 0)[2:])
    assert ids == sorted([first[:8], second[:8]])
    assert _read(fs, f"/ids/{second[:8]}{src}/new") == (src / "new").read_bytes()


def test_corrupt_blob_fails_the_read_only(setup: tuple[Repo, Path, str]) -> None:
    r, src, sid = setup
    repo = r.open()
    warnings: list[str] = []
    fs = _fs(repo, FakeClock(0), warnings)
    path = f"/ids/{sid}{src}/big"
    node = fs.resolve(path.encode())
    assert isinstance(node, InTree) and node.node is not None
    loc = repo.blob_location(node.node.blob_ids()[-1])
    pack = r.path / "data" / loc.pack_id.hex()[:2] / loc.pack_id.hex()
    raw = bytearray(pack.read_bytes())
    raw[loc.offset + 50] ^= 0x01
    pack.write_bytes(bytes(raw))
    fh = fs.open(path, os.O_RDONLY)
    assert fs.read(path, 4096, 0, fh) == (src / "big").read_bytes()[:4096]  # first chunk
    for _ in range(3):
        with pytest.raises(OSError) as info:
            fs.read(path, 64 * MIB, 0, fh)
        assert info.value.errno == errno.EIO
    fs.release(path, fh)
    assert _read(fs, f"/ids/{sid}{src}/{JAPANESE_NAME}") == "こんにちは\n".encode()
    [warning] = warnings  # once, however often it is read
    assert f"{src}/big" in warning and "I/O error" in warning
