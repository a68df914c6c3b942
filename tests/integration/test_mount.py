"""kaikyo mount: a real FUSE mount by a real ``kaikyo mount`` process, read with the ordinary
system calls, compared with the tree that was backed up, then stopped by a signal or by
``fusermount3 -u``: unmounted, exit 0, its lock gone.

The metadata zoo (names of any bytes, Japanese and Korean, modes with setuid and sticky
bits, owners, nanosecond mtimes, symlinks with odd targets, devices, xattrs, a 6 MiB file of
several chunks) is mounted from a local repository and through a real haven.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import errno
import hashlib
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kaikyo.testing.cli import KAIKYO, CliRun
from kaikyo.testing.compare import compare_scans, scan
from kaikyo.testing.trees import JAPANESE_NAME, KOREAN_NAME, NON_UTF8_NAME, NON_UTF8_TARGET

from .conftest import Kaikyo, ZooRepo
from .test_errors import _data_pack, assert_error

MIB = 1024 * 1024
READY_WITHIN = 120  # seconds for a mount to come up (a loaded machine, a haven)


def _fuse_missing() -> str:
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is not available (no FUSE in this kernel or container)"
    if shutil.which("fusermount3") is None or not ctypes.util.find_library("fuse3"):
        return "FUSE 3 is not installed (apt-get install fuse3; .ci/run installs it)"
    return ""


@pytest.fixture
def fuse() -> None:
    why = _fuse_missing()
    if why:
        pytest.skip(why)


@dataclass
class Mount:
    """A running ``kaikyo mount`` and what it said once mounted (its --json line)."""

    proc: subprocess.Popen[bytes]
    path: Path
    info: dict[str, object]

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig``; the exit code and stderr once the process has ended."""
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err.decode()

    def wait(self) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err.decode()


def _first_line(proc: subprocess.Popen[bytes]) -> bytes:
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_WITHIN
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, min(left, 1.0)))
        if ready:
            byte = os.read(proc.stdout.fileno(), 1)
            if byte:
                line += byte
                continue
        if proc.poll() is not None or left <= 0:
            err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
            raise AssertionError(f"kaikyo mount did not come up (exit {proc.poll()}): {err}")
    return line


@contextlib.contextmanager
def mounted(
    k: Kaikyo, mnt: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[Mount]:
    """``kaikyo mount MNT --json EXTRA...`` as a process, once it says it is mounted; ended
    and unmounted afterwards whatever the test did."""
    mnt.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [*KAIKYO, "mount", str(mnt), "--json", *extra],
        env={**os.environ, **k.env, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        info = json.loads(_first_line(proc))
        assert os.path.ismount(mnt)
        yield Mount(proc, mnt, info)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)], check=False)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _snapshots(k: Kaikyo) -> list[dict[str, object]]:
    docs: list[dict[str, object]] = k("snapshots", "--json").json()
    return sorted(docs, key=lambda d: (float(str(d["time"])), str(d["id"])))


def _names(docs: list[dict[str, object]], zone: ZoneInfo | None = None) -> list[str]:
    """restic's directory names for snapshots (oldest first): the time to the second, in the
    zone's time; ``-1``, ``-2`` after a repeated name."""
    out: list[str] = []
    for d in docs:
        when = datetime.fromtimestamp(int(float(str(d["time"]))), zone).astimezone(zone)
        base = when.isoformat(timespec="seconds").replace("+00:00", "Z")
        name, n = base, 0
        while name in out:
            n += 1
            name = f"{base}-{n}"
        out.append(name)
    return out


# ---- the zoo, mounted once per repository kind ------------------------------------------


@pytest.fixture(scope="module")
def zoo_mount(
    zoo_repo: ZooRepo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ZooRepo, Mount]]:
    if _fuse_missing():
        pytest.skip(_fuse_missing())
    with mounted(zoo_repo.k, tmp_path_factory.mktemp("mnt") / "m") as m:
        yield zoo_repo, m
        code, err = m.stop()
        assert code == 0, err
        assert not os.path.ismount(m.path)


def _in_snapshot(m: Mount, zoo: ZooRepo, top: str = "snapshots/latest") -> Path:
    return m.path / top / str(zoo.zoo.root).lstrip("/")


def test_layout(zoo_mount: tuple[ZooRepo, Mount]) -> None:
    zoo, m = zoo_mount
    [doc] = _snapshots(zoo.k)
    sid = str(doc["id"])
    [name] = _names([doc])
    assert m.info["snapshots"] == 1 and m.info["mounted"] == str(m.path)
    assert sorted(os.listdir(m.path)) == ["hosts", "ids", "snapshots", "tags"]
    assert sorted(os.listdir(m.path / "snapshots")) == [name, "latest"]
    assert os.readlink(m.path / "snapshots" / "latest") == name
    assert os.listdir(m.path / "ids") == [sid[:8]]
    # A longer prefix, up to the whole id, finds the snapshot too, though not listed.
    for ref in (sid, sid[:12]):
        assert os.listdir(m.path / "ids" / ref) == os.listdir(m.path / "snapshots" / name)
    assert not os.path.exists(m.path / "ids" / ("0" * 64))
    host = str(doc["hostname"])
    assert os.listdir(m.path / "hosts") == [host]
    assert sorted(os.listdir(m.path / "hosts" / host)) == [name, "latest"]
    assert os.listdir(m.path / "tags") == []
    top = m.path / "snapshots" / name
    assert top.stat().st_mtime_ns == int(round(float(str(doc["time"])) * 1e9))
    assert stat.S_IMODE(top.stat().st_mode) == 0o555


def test_tree_matches_the_source(zoo_mount: tuple[ZooRepo, Mount]) -> None:
    """Names as bytes, types, modes, owners, mtimes (ns), sizes, content digests, symlink
    targets, devices and xattrs, entry by entry. Hard links show as files with their link
    count (not one inode), and sparse files as dense: those are checked apart."""
    zoo, m = zoo_mount
    source, mount = scan(zoo.zoo.root), scan(_in_snapshot(m, zoo))
    apart = {b"/" + h.encode() for h in zoo.zoo.hardlinks} | {b"/" + zoo.zoo.sparse.encode()}
    for s in (source, mount):
        for rel in apart:
            s.pop(rel)
    assert compare_scans(source, mount) == []
    for rel in apart:
        src, seen = zoo.zoo.root / rel.decode()[1:], _in_snapshot(m, zoo) / rel.decode()[1:]
        assert seen.read_bytes() == src.read_bytes()
        assert seen.stat().st_nlink == src.stat().st_nlink
        assert seen.stat().st_size == src.stat().st_size


def test_files_read(zoo_mount: tuple[ZooRepo, Mount]) -> None:
    zoo, m = zoo_mount
    root, src = _in_snapshot(m, zoo), zoo.zoo.root
    for rel in (f"names/{JAPANESE_NAME}", f"names/{KOREAN_NAME}"):
        assert (root / rel).read_bytes() == (src / rel).read_bytes()
    odd = b"/names/" + NON_UTF8_NAME
    assert NON_UTF8_NAME in os.listdir(os.fsencode(root / "names"))
    with open(os.fsencode(root) + odd, "rb") as fh:
        assert fh.read() == b"latin-1 name\n"
    big, want = root / "random-big.bin", (src / "random-big.bin").read_bytes()
    data = big.read_bytes()
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(want).hexdigest()
    assert data == want and big.stat().st_size == len(want) == 6 * MIB
    assert big.stat().st_mtime_ns == (src / "random-big.bin").stat().st_mtime_ns
    # Reads at any offset, across chunk boundaries, and past the end.
    with open(big, "rb") as fh:
        for offset, size in ((0, 1), (MIB - 7, 3 * MIB + 11), (6 * MIB - 5, 100), (7 * MIB, 9)):
            fh.seek(offset)
            assert fh.read(size) == want[offset : offset + size], (offset, size)


def test_symlinks_and_special_files(zoo_mount: tuple[ZooRepo, Mount]) -> None:
    zoo, m = zoo_mount
    root = _in_snapshot(m, zoo)
    assert os.readlink(root / "link-to-file") == "one-byte"
    assert os.readlink(os.fsencode(root / "link-non-utf8")) == NON_UTF8_TARGET
    assert (root / "link-to-file").read_bytes() == (zoo.zoo.root / "one-byte").read_bytes()
    assert os.listdir(root / "link-to-dir") == os.listdir(root / "names")
    assert stat.S_ISFIFO(os.lstat(root / "fifo").st_mode)
    assert (root / zoo.zoo.deep).read_bytes() == b"at the bottom\n"
    with pytest.raises(OSError) as info:
        (root / "new-file").write_bytes(b"x")
    assert info.value.errno == errno.EROFS


# ---- signals, locks, filters, names -------------------------------------------------------


@pytest.fixture
def small(local_kaikyo: Kaikyo, tmp_path: Path) -> tuple[Kaikyo, Path]:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "file").write_bytes(b"first\n")
    (src / JAPANESE_NAME).write_text("日本語の中身\n")
    local_kaikyo("backup", src, "--host", "alpha", "--tag", "nightly")
    (src / "file").write_bytes(b"second\n")
    local_kaikyo("backup", src, "--host", "beta", "--tag", "weekly", "--tag", "a/b")
    return local_kaikyo, src


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_unmounts_and_releases_the_lock(
    fuse: None, small: tuple[Kaikyo, Path], tmp_path: Path, sig: int
) -> None:
    k, _ = small
    with mounted(k, tmp_path / "mnt") as m:
        [lock] = os.listdir(k.repo / "locks")  # shared, as restic's
        assert lock
        run = k("prune", expect=None)
        assert_error(run, 13, "locked")
        code, err = m.stop(sig)
    assert code == 0, err
    assert "Traceback" not in err and f"unmounted {m.path}" in err
    assert not os.path.ismount(m.path) and os.listdir(m.path) == []
    assert os.listdir(k.repo / "locks") == []


def test_fusermount_from_outside_ends_it(
    fuse: None, small: tuple[Kaikyo, Path], tmp_path: Path
) -> None:
    k, _ = small
    with mounted(k, tmp_path / "mnt", "--no-lock") as m:
        assert os.listdir(k.repo / "locks") == []
        subprocess.run(["fusermount3", "-u", str(m.path)], check=True)
        code, err = m.wait()
    assert code == 0, err
    assert not os.path.ismount(m.path)


def test_a_busy_mount_is_detached_and_served_until_let_go(
    fuse: None, small: tuple[Kaikyo, Path], tmp_path: Path
) -> None:
    k, src = small
    with mounted(k, tmp_path / "mnt") as m:
        fh = open(m.path / "snapshots" / "latest" / str(src).lstrip("/") / "file", "rb")  # noqa: SIM115
        try:
            m.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 30
            while os.path.ismount(m.path) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not os.path.ismount(m.path)  # detached at once
            assert m.proc.poll() is None  # still serving the open file
            assert fh.read() == b"second\n"
        finally:
            fh.close()
        code, err = m.wait()
    assert code == 0, err
    assert "is busy: detached" in err


def test_names_in_local_time_hosts_tags_and_filters(
    fuse: None, small: tuple[Kaikyo, Path], tmp_path: Path
) -> None:
    k, src = small
    docs = _snapshots(k)
    tokyo = ZoneInfo("Asia/Tokyo")
    names = _names(docs, tokyo)
    assert all("+09:00" in n for n in names)
    rel = str(src).lstrip("/")
    with mounted(k, tmp_path / "mnt", env={"TZ": "Asia/Tokyo"}) as m:
        assert sorted(os.listdir(m.path / "snapshots")) == sorted([*names, "latest"])
        assert os.readlink(m.path / "snapshots" / "latest") == names[1]
        assert (m.path / "snapshots" / names[0] / rel / "file").read_bytes() == b"first\n"
        assert (m.path / "snapshots" / "latest" / rel / "file").read_bytes() == b"second\n"
        assert sorted(os.listdir(m.path / "hosts")) == ["alpha", "beta"]
        assert sorted(os.listdir(m.path / "hosts" / "alpha")) == [names[0], "latest"]
        # A tag that cannot be a file name ("a/b") is left out of tags/.
        assert sorted(os.listdir(m.path / "tags")) == ["nightly", "weekly"]
        weekly = m.path / "tags" / "weekly" / "latest" / rel
        assert (weekly / JAPANESE_NAME).read_text() == "日本語の中身\n"
        code, err = m.stop()
        assert code == 0, err
    for flags, shown in (
        (("--tag", "nightly"), [0]),
        (("--host", "beta"), [1]),
        (("--path", str(src)), [0, 1]),
        (("--path", "/elsewhere"), []),
    ):
        with mounted(k, tmp_path / "mnt", *flags, env={"TZ": "Asia/Tokyo"}) as m:
            assert m.info["snapshots"] == len(shown), flags
            expected = _names([docs[i] for i in shown], tokyo) + (["latest"] if shown else [])
            assert sorted(os.listdir(m.path / "snapshots")) == sorted(expected), flags
            assert m.stop()[0] == 0


def test_corrupt_blob_is_an_io_error_for_that_file_only(
    fuse: None, local_kaikyo: Kaikyo, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    big = os.urandom(3 * MIB)
    (src / "big").write_bytes(big)
    (src / "small").write_bytes(b"still readable\n")
    local_kaikyo.backup(src)
    pack, offset = _data_pack(local_kaikyo)
    raw = bytearray(pack.read_bytes())
    raw[offset + 100] ^= 0x01
    pack.write_bytes(bytes(raw))
    root = tmp_path / "mnt" / "snapshots" / "latest" / str(src).lstrip("/")
    with mounted(local_kaikyo, tmp_path / "mnt") as m:
        for _ in range(2):
            with pytest.raises(OSError) as info:
                (root / "big").read_bytes()
            assert info.value.errno == errno.EIO
        assert (root / "small").read_bytes() == b"still readable\n"
        assert sorted(os.listdir(root)) == ["big", "small"]
        assert (root / "big").stat().st_size == len(big)
        code, err = m.stop()
    assert code == 0, err
    assert "Traceback" not in err
    [warning] = [line for line in err.splitlines() if "warning" in line]
    assert f"{src}/big" in warning and "I/O error" in warning


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "file", "not-empty"])
def test_bad_mountpoint(local_kaikyo: Kaikyo, tmp_path: Path, kind: str) -> None:
    where = tmp_path / "mnt"
    if kind == "file":
        where.write_bytes(b"x")
    elif kind == "not-empty":
        where.mkdir()
        (where / "something").write_bytes(b"x")
    run = local_kaikyo("mount", where, expect=None)
    needle = {"missing": "does not exist", "file": "not a directory", "not-empty": "not empty"}
    assert_error(run, 64, f"mount point {where}", needle[kind])
    assert run.out == ""


def test_fuse_library_missing(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    (tmp_path / "mnt").mkdir()
    env = {**os.environ, **local_kaikyo.env, "FUSE_LIBRARY_PATH": str(tmp_path / "libfuse3.so.3")}
    proc = subprocess.run(
        [*KAIKYO, "mount", str(tmp_path / "mnt")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        assert_error(proc_run(proc), 25, "FUSE is not available")
        return
    assert_error(proc_run(proc), 25, "FUSE is not available", "libfuse 3", "apt-get install fuse3")
    assert not os.path.ismount(tmp_path / "mnt")


def proc_run(proc: subprocess.CompletedProcess[str]) -> CliRun:
    return CliRun(proc.returncode, proc.stdout, proc.stderr)
