"""Restore onto an existing tree: what a second restore reads and writes (``make bench``).

The bench tree (system files, see datasets.py) is backed up and restored; then the copy
lives on: 3% of its files change (a range rewritten in place, an append, or the whole file
rewritten), 1% are deleted and 1% are added. ``kaikyo restore --overwrite if-changed
--delete`` must make it the snapshot again, byte- and metadata-exact (checked), reading and
writing at most 1.25x the changed bytes plus metadata. The same for the 2 GiB image with
3% of it rewritten in 24 places (a database file's pages).

Measured per run: kaikyo's own counters (file data downloaded from the repository, file
data written) and the kernel's (``rchar``/``wchar`` of the process from /proc: every byte
read, the repository's packs, indexes and trees and the target's files compared, and
every byte written). The baseline is a restore into an empty directory.

Quick check:  .venv/bin/python bench/bench_restore_onto.py --scale 0.05
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import _ensure, build_image, build_tree, datasets_for  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
PY = str(REPO_ROOT / ".venv" / "bin" / "python")
PASSWORD = "bench-restore-onto"
MIB = 1 << 20

# Runs kaikyo in this process and leaves the kernel's I/O counters of it in a file.
_IO_WRAPPER = """
import atexit, shutil, sys
out = sys.argv[1]
atexit.register(lambda: shutil.copyfile("/proc/self/io", out))
from kaikyo.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def _say(msg: str) -> None:
    print(f"[restore-onto] {msg}", file=sys.stderr, flush=True)


def _kaikyo(
    env: dict[str, str], io_file: Path, *args: str
) -> tuple[dict[str, Any], dict[str, int], float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [PY, "-c", _IO_WRAPPER, str(io_file), *args],
        env=env,
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"kaikyo {' '.join(args)} failed: {proc.stderr.decode()[-400:]}")
    io = dict(line.split(": ") for line in io_file.read_text().splitlines())
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}, {k: int(v) for k, v in io.items()}, seconds


def _files(root: Path) -> list[Path]:
    out = []
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            if p.is_file() and not p.is_symlink():
                out.append(p)
    out.sort()
    return out


def live_on(root: Path, rng: np.random.Generator) -> dict[str, int]:
    """3% of the files changed, 1% deleted, 1% added. Returns the bytes each kind moved."""
    files = _files(root)
    n = len(files)
    pick = rng.permutation(n)
    n_changed, n_gone = max(1, n * 3 // 100), max(1, n // 100)
    changed, gone = pick[:n_changed], pick[n_changed : n_changed + n_gone]
    moved = {"changed_files": 0, "changed_file_bytes": 0, "changed_ranges": 0}
    for i in changed.tolist():
        path = files[i]
        size = path.stat().st_size
        kind = rng.integers(0, 10)
        moved["changed_files"] += 1
        moved["changed_file_bytes"] += size
        if kind < 6 and size > 0:  # a range rewritten in place
            length = int(min(size, rng.integers(1, 16 * 1024)))
            at = int(rng.integers(0, size - length + 1))
            with open(path, "r+b") as fh:
                fh.seek(at)
                fh.write(rng.bytes(length))
            moved["changed_ranges"] += length
        elif kind < 8:  # appended
            length = int(rng.integers(1, 16 * 1024))
            with open(path, "ab") as fh:
                fh.write(rng.bytes(length))
            moved["changed_ranges"] += length
        else:  # rewritten whole
            path.write_bytes(rng.bytes(size))
            moved["changed_ranges"] += size
    moved["deleted_files"] = len(gone)
    moved["deleted_bytes"] = 0
    for i in gone.tolist():
        moved["deleted_bytes"] += files[i].stat().st_size
        files[i].unlink()
    sizes = [files[i].stat().st_size for i in pick[-n_gone:].tolist() if files[i].exists()]
    moved["added_files"] = moved["added_bytes"] = 0
    for k, size in enumerate(sizes):
        extra = files[int(pick[k])].parent / f"added-{k}.bin"
        extra.write_bytes(rng.bytes(size))
        moved["added_files"] += 1
        moved["added_bytes"] += size
    return moved


def rewrite_image(image: Path, rng: np.random.Generator, share: float = 0.03) -> dict[str, int]:
    """``share`` of the image rewritten in 24 runs (pages of a database, say)."""
    size = image.stat().st_size
    run = int(size * share / 24)
    with open(image, "r+b") as fh:
        for _ in range(24):
            fh.seek(int(rng.integers(0, size - run)))
            fh.write(rng.bytes(run))
    return {"changed_files": 1, "changed_file_bytes": size, "changed_ranges": 24 * run}


def case(name: str, source: Path, work: Path, mutate: Any, seed: int) -> dict[str, Any]:
    from kaikyo.testing.compare import compare_trees

    work.mkdir(parents=True, exist_ok=True)
    repo, target = work / "repo", work / "target"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIKYO_")}
    env.update(
        KAIKYO_REPOSITORY=str(repo), KAIKYO_PASSWORD=PASSWORD, KAIKYO_CACHE_DIR=str(work / "cache")
    )
    io = work / "io.txt"
    _kaikyo(env, io, "init", "--json")
    _kaikyo(env, io, "backup", "--json", str(source))
    ref = f"latest:{source}"
    full, full_io, full_s = _kaikyo(env, io, "restore", ref, "--target", str(target), "--json")
    moved = mutate(target, np.random.default_rng(seed))
    if os.environ.get("BENCH_STOP"):
        raise SystemExit(f"stopped: {work}")
    onto, onto_io, onto_s = _kaikyo(
        env,
        io,
        "restore",
        ref,
        "--target",
        str(target),
        "--overwrite",
        "if-changed",
        "--delete",
        "--json",
    )
    diffs = compare_trees(source, target)
    must_move = moved["changed_ranges"] + moved.get("deleted_bytes", 0)
    file_bound = moved["changed_file_bytes"] + moved.get("deleted_bytes", 0)
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(repo, ignore_errors=True)
    return {
        "case": name,
        "moved": moved,
        "exact": not diffs,
        "differences": diffs[:5],
        "full": {
            "seconds": full_s,
            "bytes_downloaded": full["bytes_downloaded"],
            "bytes_written": full["bytes_written"],
            "rchar": full_io["rchar"],
            "wchar": full_io["wchar"],
        },
        "onto": {
            "seconds": onto_s,
            "bytes_downloaded": onto["bytes_downloaded"],
            "bytes_written": onto["bytes_written"],
            "rchar": onto_io["rchar"],
            "wchar": onto_io["wchar"],
            "files_updated": onto["files_updated"],
            "files_restored": onto["files_restored"],
            "files_deleted": onto["files_deleted"],
            "files_unchanged": onto["files_unchanged"],
        },
        "changed_bytes": must_move,
        "changed_file_bytes": file_bound,
    }


def _table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| case | changed bytes (ranges + deleted) | bytes of changed and deleted files | "
        "downloaded | written | downloaded / changed files | written / changed files | "
        "time (onto / full) | exact |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        o, f = r["onto"], r["full"]
        cf = max(1, r["changed_file_bytes"])
        rows.append(
            f"| {r['case']} | {r['changed_bytes'] / MIB:.1f} MiB | {cf / MIB:.1f} MiB | "
            f"{o['bytes_downloaded'] / MIB:.1f} MiB (full: {f['bytes_downloaded'] / MIB:.0f}) | "
            f"{o['bytes_written'] / MIB:.1f} MiB (full: {f['bytes_written'] / MIB:.0f}) | "
            f"{o['bytes_downloaded'] / cf:.2f} | {o['bytes_written'] / cf:.2f} | "
            f"{o['seconds']:.2f} / {f['seconds']:.2f} s | {'yes' if r['exact'] else 'NO'} |"
        )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", type=Path, default=Path("/var/tmp/kaikyo-bench"))
    p.add_argument("--scale", type=float, default=1.0, help="dataset scale (see bench/run.py)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = p.parse_args()
    ds = datasets_for(args.workdir, args.scale, args.seed)
    ds.root.mkdir(parents=True, exist_ok=True)
    _ensure(ds, "tree", lambda: build_tree(ds))
    _ensure(ds, "image", lambda: build_image(ds))
    work = args.workdir / "restore-onto"
    results = []
    _say("tree: 3% changed, 1% deleted, 1% added")
    results.append(case("tree", ds.tree, work, live_on, args.seed))
    _say("image: 3% rewritten in 24 runs")
    results.append(
        case(
            "image",
            ds.image_dir,
            work,
            lambda t, rng: rewrite_image(next(t.iterdir()), rng),
            args.seed,
        )
    )
    print(_table(results))
    if args.json:
        print(json.dumps(results, indent=1))
    if not all(r["exact"] for r in results):
        raise SystemExit("a restore onto the changed copy did not make it the snapshot")


if __name__ == "__main__":
    main()
