"""Why worker processes: cold backup of one tree with 1 and 2 worker processes.

On many small files the per-file work is Python and holds the GIL, so threads cannot use the
second core; processes can. This runs `kaikyo backup` (fresh repository each time) on the same
tree with KAIKYO_WORKERS=1 and =2 and prints wall time, CPU time and the speed-up.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

KAIKYO = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kaikyo")


def run(tree: str, workers: int, work: Path) -> tuple[float, float]:
    repo = work / f"repo-{workers}"
    env = dict(
        os.environ,
        KAIKYO_PASSWORD="bench",
        KAIKYO_REPOSITORY=str(repo),
        KAIKYO_CACHE_DIR=str(work / f"cache-{workers}"),
        KAIKYO_WORKERS=str(workers),
    )
    subprocess.run([KAIKYO, "init", "--json"], env=env, check=True, capture_output=True)
    subprocess.run(["tar", "cf", "/dev/null", tree], check=False, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([KAIKYO, "backup", tree, "--json"], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shutil.rmtree(repo)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--tree",
        default="/var/tmp/kaikyo-bench/data-s1/tree",
        help="a directory of many files (bench/run.py builds one)",
    )
    args = ap.parse_args()
    if not Path(args.tree).is_dir():
        raise SystemExit(f"{args.tree} does not exist: run bench/run.py first")
    work = Path(tempfile.mkdtemp(prefix="kaikyo-pipeline-"))
    try:
        results = {w: run(args.tree, w, work) for w in (1, 2)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'workers':>8} {'wall s':>8} {'cpu s':>8} {'speed-up':>9}")
    for w, (wall, cpu) in results.items():
        print(f"{w:>8} {wall:>8.2f} {cpu:>8.2f} {results[1][0] / wall:>9.2f}")


if __name__ == "__main__":
    main()
