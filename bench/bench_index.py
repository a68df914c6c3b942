"""Memory of the master index at N chunks (default 5 million): bytes per chunk, load and lookup.

Builds real index files (the on-disk codec), loads them the way a backup does, and measures the
process's RSS growth and the index's own column bytes. Goal: at most 48 bytes per chunk.
"""

from __future__ import annotations

import argparse
import os
import time

import psutil

from kaikyo.core.format.index import encode_index
from kaikyo.core.format.pack import PackEntry
from kaikyo.repo import MasterIndex


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=5_000_000)
    args = ap.parse_args()
    per_pack = 16  # 16 MiB packs of ~1 MiB chunks
    files = []
    remaining = args.chunks
    while remaining:
        n_packs = min(remaining // per_pack or 1, 4096)
        packs = []
        for _ in range(n_packs):
            k = min(per_pack, remaining)
            ids = os.urandom(32 * k)
            packs.append(
                (
                    os.urandom(32),
                    [
                        PackEntry(0, ids[i * 32 : i * 32 + 32], i * 1000, 1000, 2000)
                        for i in range(k)
                    ],
                )
            )
            remaining -= k
            if not remaining:
                break
        files.append(encode_index(packs))
    proc = psutil.Process()
    before = proc.memory_info().rss
    t = time.perf_counter()
    idx = MasterIndex()
    for plain in files:
        idx.add_index_plain(plain)
    idx.freeze()
    load_s = time.perf_counter() - t
    del files
    after = proc.memory_info().rss
    probes = [os.urandom(32) for _ in range(100_000)]
    t = time.perf_counter()
    idx.contains_many(probes)
    batch_us = (time.perf_counter() - t) / len(probes) * 1e6
    t = time.perf_counter()
    for p in probes[:20_000]:
        _ = p in idx
    single_us = (time.perf_counter() - t) / 20_000 * 1e6
    print(
        f"{'chunks':>12} {'column B/chunk':>15} {'RSS B/chunk':>12} {'load s':>8} "
        f"{'batch µs':>9} {'single µs':>10}"
    )
    print(
        f"{len(idx):>12,} {idx.nbytes() / len(idx):>15.1f} "
        f"{(after - before) / len(idx):>12.1f} {load_s:>8.2f} {batch_us:>9.2f} "
        f"{single_us:>10.2f}"
    )
    print("goal: <= 48 bytes per chunk (restic ~60-90, BorgBackup 106-164)")


if __name__ == "__main__":
    main()
