"""The engine's own commands through a real haven: init, backup, restore, quota, load."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
import pytest
from enginecli import backup_json, run_kaikyo, same_tree

from kaikyo.testing.haven import HavenProcess


def make_tree(root: Path, seed: int, size: int) -> Path:
    root.mkdir(parents=True)
    rng = __import__("random").Random(seed)
    (root / "big.bin").write_bytes(rng.randbytes(size))
    (root / "sub").mkdir()
    for i in range(5):
        (root / "sub" / f"note-{i}.txt").write_text(f"tenant file {seed}/{i}\n" * (i + 1))
    return root


def test_backup_and_restore_through_the_haven(haven: HavenProcess, tmp_path: Path) -> None:
    backup, restore = haven.token("acme", "backup"), haven.token("acme", "restore")
    url = haven.url("acme", "engine")
    source = make_tree(tmp_path / "src", 1, 3 * 1024 * 1024)
    run_kaikyo(url, backup, "init")
    summary = backup_json(url, backup, source)
    assert summary["summary"]["errors"] == 0
    # The restore token can read everything back but cannot write.
    run_kaikyo(url, restore, "restore", "latest", "--target", str(tmp_path / "out"))
    assert same_tree(source, tmp_path / "out" / source.relative_to("/"))
    refused = run_kaikyo(url, restore, "backup", str(source), check=False)
    assert refused.returncode == 17, refused.stderr  # PermissionDenied


def test_quota_exceeded_is_one_clear_line(haven: HavenProcess, tmp_path: Path) -> None:
    haven.tenant("small", "--quota-bytes", "1Mi")
    token = haven.token("small", "backup")
    url = haven.url("small", "main")
    run_kaikyo(url, token, "init")
    source = make_tree(tmp_path / "src", 2, 3 * 1024 * 1024)
    result = run_kaikyo(url, token, "backup", str(source), check=False)
    assert result.returncode == 19, result.stderr  # QuotaExceeded
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("kaikyo: error:")]
    assert len(lines) == 1 and "quota exceeded" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_sixteen_clients_of_four_tenants_at_once(tmp_path: Path) -> None:
    haven = HavenProcess(tmp_path / "data")
    tenants = [f"t{i}" for i in range(4)]
    for t in tenants:
        haven.tenant(t)
    tokens = {t: (haven.token(t, "backup"), haven.token(t, "restore")) for t in tenants}
    haven.start()
    assert haven.proc is not None
    server = psutil.Process(haven.proc.pid)
    peak = [server.memory_info().rss]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], server.memory_info().rss)

    clients = [
        (tenants[i % 4], f"host{i}", make_tree(tmp_path / f"src{i}", 100 + i, 6 << 20))
        for i in range(16)
    ]
    errors: list[BaseException] = []

    def client(tenant: str, host: str, source: Path) -> None:
        try:  # each client its own repository; four per tenant
            run_kaikyo(haven.url(tenant, host), tokens[tenant][0], "init")
            backup_json(haven.url(tenant, host), tokens[tenant][0], source)
        except BaseException as exc:
            errors.append(exc)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=client, args=c) for c in clients]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=600)
        assert not errors, errors
        for i, (tenant, host, source) in enumerate(clients):
            target = tmp_path / f"out{i}"
            run_kaikyo(
                haven.url(tenant, host),
                tokens[tenant][1],
                "restore",
                "latest",
                "--target",
                str(target),
            )
            assert same_tree(source, target / source.relative_to("/")), source
    finally:
        stop.set()
        watcher.join()
        haven.stop()
    assert peak[0] < 400 * 1024 * 1024, f"server RSS peaked at {peak[0] >> 20} MiB"
