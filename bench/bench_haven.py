"""Haven benchmark: ingest on loopback with 1, 4 and 16 clients, and backup/restore over the
emulated 35 ms link as a fraction of raw TCP over the same link, measured in the same run.

    .venv/bin/python bench/bench_haven.py [--mb-per-client 64] [--wan-mb 200] [--no-wan]

Loopback clients are separate processes, each with its own HttpStore (as the engine's forked
workers), putting 16 MiB content-addressed objects. Prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "server"))
sys.path.insert(0, str(HERE.parent / "tests" / "wan"))

from enginecli import run_kaikyo  # noqa: E402
from wanlink import ADDR_B, WanLink, wan_available  # noqa: E402

from kaikyo.store import StoreOptions  # noqa: E402
from kaikyo.store.http import HttpStore  # noqa: E402
from kaikyo.testing.haven import HavenProcess  # noqa: E402

OBJECT = 16 * 1024 * 1024


def _say(msg: str) -> None:
    print(f"[bench_haven] {msg}", file=sys.stderr, flush=True)


def _client(url: str, token: str, seed: int, count: int, threads: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = HttpStore(url, StoreOptions(token=token))
    base = hashlib.sha256(str(seed).encode()).digest() * (OBJECT // 32)

    def put(i: int) -> None:
        data = i.to_bytes(8, "big") + base[8:]
        h = hashlib.sha256(data).hexdigest()
        store.put(f"data/{h[:2]}/{h}", data)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(count)))
    store.close()


def loopback(workdir: Path, clients: int, mb_per_client: int) -> dict[str, Any]:
    haven = HavenProcess(workdir / f"loop{clients}")
    for t in range(min(clients, 4)):
        haven.tenant(f"t{t}")
    tokens = [haven.token(f"t{t}", "backup") for t in range(min(clients, 4))]
    haven.start()
    assert haven.proc is not None
    server = psutil.Process(haven.proc.pid)
    count = max(1, mb_per_client * 1024 * 1024 // OBJECT)
    cpu0 = server.cpu_times()
    ctx = multiprocessing.get_context("fork")
    started = time.monotonic()
    procs = [
        ctx.Process(
            target=_client, args=(haven.url(f"t{i % 4}", f"c{i}"), tokens[i % 4], i, count, 4)
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    peak = server.memory_info().rss
    while any(p.is_alive() for p in procs):
        peak = max(peak, server.memory_info().rss)
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    cpu1 = server.cpu_times()
    haven.stop()
    assert all(p.exitcode == 0 for p in procs)
    total = clients * count * OBJECT
    return {
        "clients": clients,
        "bytes": total,
        "seconds": round(elapsed, 2),
        "mb_s": round(total / elapsed / 1e6, 1),
        "server_cpu_s": round((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), 2),
        "server_peak_rss_mb": round(peak / 2**20, 1),
    }


def wan(workdir: Path, total_mb: int) -> dict[str, Any]:
    link = WanLink(workdir)
    link.up()
    haven = HavenProcess(
        workdir / "wan", host=ADDR_B, port=8720, extra=("--allow-plain-http",), netns=link.ns_b
    )
    try:
        raw = link.raw_tcp_mb_s(128 * 1024 * 1024)
        haven.tenant("acme")
        token = haven.token("acme", "admin")
        haven.start()
        source = workdir / "wan-src"
        source.mkdir()
        for i in range(max(1, total_mb // 50)):
            (source / f"f{i}").write_bytes(os.urandom(50 * 1000 * 1000))
        nbytes = sum(p.stat().st_size for p in source.iterdir())
        url = haven.url("acme", "wan")
        run_kaikyo(url, token, "init", netns=link.ns_a)
        t = time.monotonic()
        run_kaikyo(url, token, "backup", str(source), netns=link.ns_a)
        backup_s = time.monotonic() - t
        t = time.monotonic()
        run_kaikyo(
            url, token, "restore", "latest", "--target", str(workdir / "wan-out"), netns=link.ns_a
        )
        restore_s = time.monotonic() - t
    finally:
        haven.stop()
        link.down()
    backup_mb_s, restore_mb_s = nbytes / backup_s / 1e6, nbytes / restore_s / 1e6
    return {
        "raw_tcp_mb_s": round(raw, 1),
        "bytes": nbytes,
        "backup_mb_s": round(backup_mb_s, 1),
        "restore_mb_s": round(restore_mb_s, 1),
        "backup_fraction_of_raw": round(backup_mb_s / raw, 2),
        "restore_fraction_of_raw": round(restore_mb_s / raw, 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mb-per-client", type=int, default=64)
    p.add_argument("--clients", default="1,4,16")
    p.add_argument("--wan-mb", type=int, default=200)
    p.add_argument("--no-wan", action="store_true")
    args = p.parse_args()
    results: dict[str, Any] = {"loopback": []}
    with tempfile.TemporaryDirectory(prefix="kaikyo-bench-haven-") as tmp:
        for n in (int(x) for x in args.clients.split(",")):
            _say(f"loopback ingest, {n} clients")
            results["loopback"].append(loopback(Path(tmp), n, args.mb_per_client))
        reason = wan_available()
        if args.no_wan or reason:
            results["wan"] = {"skipped": reason or "--no-wan"}
        else:
            _say("WAN: raw TCP, then backup and restore through the haven")
            results["wan"] = wan(Path(tmp), args.wan_mb)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
