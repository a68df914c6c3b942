"""Timing, peak memory of a whole process tree, repository size, cache warming, ceilings."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import numpy as np
import psutil

SAMPLE_INTERVAL = 0.05  # seconds between RSS samples
READ_BLOCK = 1 << 20


@dataclass
class Measurement:
    """One timed command. ``error`` is None when the command succeeded."""

    seconds: float
    peak_rss: int  # bytes, max over samples of the summed RSS of the process tree
    peak_pss: int  # same with PSS (shared pages split between the processes sharing them)
    peak_unique: int | None  # bytes, max over samples of the tree's resident pages counted once
    # (see resident_frames); None where the kernel hides page frame numbers (not root)
    cpu_user: float
    cpu_sys: float
    returncode: int
    error: str | None = None
    warning: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_PRESENT = np.uint64(1 << 63)
_PFN = np.uint64((1 << 55) - 1)


def resident_frames(pid: int) -> Any:
    """The physical page frames resident in ``pid``'s address space (a NumPy array; empty if
    the process is gone), or None if the kernel hides frame numbers.

    Why: summed RSS counts a page shared by forked workers once per process, and PSS divides
    pages shared with processes outside the tree too. The union of the frames of a process
    tree is exactly the memory it holds, each page once; for one process it equals its RSS.
    Reading frame numbers from /proc/PID/pagemap needs CAP_SYS_ADMIN; without it the kernel
    reports them as 0 and this returns None.
    """
    parts = []
    try:
        with (
            open(f"/proc/{pid}/maps") as maps,
            open(f"/proc/{pid}/pagemap", "rb", buffering=0) as pagemap,
        ):
            for line in maps:
                span, perms = line.split(None, 2)[:2]
                if perms[0] != "r":
                    continue  # reserved, never-accessible address space
                start, end = (int(x, 16) for x in span.split("-"))
                if start >= 1 << 47:
                    continue  # [vsyscall]: not in pagemap
                pagemap.seek(start // PAGE_SIZE * 8)
                words = np.frombuffer(pagemap.read((end - start) // PAGE_SIZE * 8), dtype=np.uint64)
                parts.append(words[(words & _PRESENT) != 0] & _PFN)
    except (OSError, ValueError):
        return np.zeros(0, dtype=np.uint64)  # exited meanwhile
    frames = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
    if len(frames) and not frames.any():
        return None  # frame numbers hidden from this user
    return frames


def _tree_memory(proc: psutil.Process) -> tuple[int, int, int | None]:
    """Summed RSS, summed PSS and resident pages counted once (or None), in bytes, of
    ``proc`` and all its descendants."""
    rss = pss = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0, None
    frames: list[Any] | None = []
    for p in procs:
        try:
            full = p.memory_full_info()
        except psutil.Error:
            continue
        rss += full.rss
        pss += getattr(full, "pss", full.rss)
        mine = resident_frames(p.pid) if frames is not None else None
        if mine is None:
            frames = None
        elif frames is not None:
            frames.append(mine)
    unique = len(np.unique(np.concatenate(frames))) * PAGE_SIZE if frames else None
    return rss, pss, unique


class _RssSampler(threading.Thread):
    """Samples the memory of a process and all its descendants every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak = 0
        self.peak_pss = 0
        self.peak_unique: int | None = 0
        try:
            self._proc: psutil.Process | None = psutil.Process(pid)
        except psutil.Error:
            self._proc = None

    def run(self) -> None:
        if self._proc is None:
            return
        while True:
            rss, pss, unique = _tree_memory(self._proc)
            self.peak = max(self.peak, rss)
            self.peak_pss = max(self.peak_pss, pss)
            if unique is None and rss:
                self.peak_unique = None  # unreadable once: no figure rather than a low one
            elif self.peak_unique is not None and unique is not None:
                self.peak_unique = max(self.peak_unique, unique)
            if self.stop.wait(SAMPLE_INTERVAL):
                return


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())[:300]


def run_measured(
    argv: list[str],
    *,
    env: dict[str, str],
    log_prefix: Path,
    cwd: Path | None = None,
    timeout: float = 3600.0,
    ok_codes: tuple[int, ...] = (0,),
    warn_codes: tuple[int, ...] = (),
) -> Measurement:
    """Run one command, timing it with perf_counter and sampling its tree's RSS."""
    out_path = log_prefix.with_suffix(".out")
    err_path = log_prefix.with_suffix(".err")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except OSError as exc:
            return Measurement(0.0, 0, 0, None, 0.0, 0.0, -1, error=str(exc))
        sampler = _RssSampler(proc.pid)
        sampler.start()
        timed_out = False
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        seconds = time.perf_counter() - start
        sampler.stop.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = Measurement(
        seconds=seconds,
        peak_rss=sampler.peak,
        peak_pss=sampler.peak_pss,
        peak_unique=sampler.peak_unique or None,
        cpu_user=after.ru_utime - before.ru_utime,
        cpu_sys=after.ru_stime - before.ru_stime,
        returncode=rc,
    )
    if timed_out:
        m.error = f"timeout after {timeout:.0f} s"
    elif rc in warn_codes:
        m.warning = f"exit {rc}: {_tail(err_path)}"
    elif rc not in ok_codes:
        m.error = f"exit {rc}: {_tail(err_path) or _tail(out_path)}"
    return m


def dir_bytes(path: Path) -> int:
    """Apparent size of everything under ``path`` (like ``du -sb``), 0 if missing."""
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def tar_read(path: Path) -> float:
    """``tar cf - path | cat >/dev/null``: reads every byte (GNU tar skips reads into /dev/null,
    hence the cat). Used both as the read ceiling and to warm the page cache."""
    start = time.perf_counter()
    subprocess.run(
        f"tar cf - -C {_q(path.parent)} {_q(path.name)} | cat >/dev/null",
        shell=True,  # noqa: S602 - fixed command, quoted paths
        check=True,
    )
    return time.perf_counter() - start


def tar_copy(src: Path, dest: Path) -> float:
    """``tar cf - | tar xf -`` into a fresh empty directory: the restore (write) ceiling."""
    dest.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run(
        f"tar cf - -C {_q(src)} . | tar xf - -C {_q(dest)}",
        shell=True,  # noqa: S602
        check=True,
    )
    return time.perf_counter() - start


def hash_pass(path: Path, zstd_level: int | None = None) -> tuple[float, int, int]:
    """Python, one thread: walk, read every file, BLAKE3 it (and, given a level, zstd-compress
    every block of up to 1 MiB as a backup compresses its chunks). Returns (seconds, files,
    bytes)."""
    compress = None
    if zstd_level is not None:
        import zstandard

        compress = zstandard.ZstdCompressor(level=zstd_level).compress
    start = time.perf_counter()
    files = 0
    nbytes = 0
    buf = bytearray(READ_BLOCK)
    view = memoryview(buf)
    stack = [str(path)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    nbytes += _hash_file(entry.path, view, compress)
                    files += 1
    return time.perf_counter() - start, files, nbytes


def _hash_file(path: str, view: memoryview, compress: Any = None) -> int:
    h = blake3.blake3()
    total = 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(view):
            h.update(view[:n])
            if compress is not None:
                compress(view[:n])
            total += n
    return total


def _q(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))
