"""The trash survives a haven killed at every step of a move, a purge and an undelete
(issue 10, B8), and the hourly purge survives a failure (B9)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import pytest

from kaikyo.clock import SYSTEM_CLOCK
from kaikyo.server import Haven, HavenSettings
from kaikyo.server.app import _purge_forever
from kaikyo.server.trash import PurgeResult
from kaikyo.testing.cli import KAIKYO
from kaikyo.testing.haven import HavenProcess

TENANT = "crashy"


def name_of(data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()
    return f"data/{h[:2]}/{h}"


def start(data: Path, crash_at: str | None = None) -> tuple[HavenProcess, str]:
    env = {"KAIKYO_TEST_CRASH_AT": crash_at} if crash_at else {}
    proc = HavenProcess(data, env=env)
    if not (data / "haven.db").exists():
        proc.tenant(TENANT)
    token = proc.token(TENANT, "admin")
    proc.start()
    return proc, token


def request(
    proc: HavenProcess, token: str, method: str, name: str, data: bytes = b""
) -> int | None:
    """Status of one request, or None when the server died answering it."""
    try:
        return httpx.request(
            method,
            f"{proc.url(TENANT, 'r')}/o/{name}",
            content=data or None,
            headers={"authorization": f"Bearer {token}"},
            timeout=20,
        ).status_code
    except httpx.TransportError:
        return None


def trash_rows(proc: HavenProcess) -> list[dict[str, Any]]:
    return cast(list[dict[str, Any]], proc.op("tenant", "trash", TENANT)["rows"])


@pytest.mark.parametrize("point", ["trash.moving", "trash.renamed"])
def test_a_delete_cut_at_any_step_loses_nothing(tmp_path: Path, point: str) -> None:
    data = tmp_path / "haven"
    proc, token = start(data)
    blob = os.urandom(3000)
    assert request(proc, token, "PUT", name_of(blob), blob) == 201
    proc.stop()
    proc, token = start(data, crash_at=point)
    assert request(proc, token, "DELETE", name_of(blob)) is None  # killed mid-delete
    proc.wait_dead()
    proc, token = start(data)  # start-up settles what the crash left
    try:
        here = request(proc, token, "HEAD", name_of(blob)) == 200
        rows = trash_rows(proc)
        assert all(r["state"] == "trashed" for r in rows)
        # Exactly one place holds the object: where it was, or the trash.
        assert here != bool(rows), (here, rows)
        if rows:
            proc.op("tenant", "undelete", TENANT)
        assert (
            httpx.get(
                f"{proc.url(TENANT, 'r')}/o/{name_of(blob)}",
                headers={"authorization": f"Bearer {token}"},
            ).content
            == blob
        )
        # A second object deleted now gets a trash file of its own: nothing is overwritten.
        other = os.urandom(3000)
        assert request(proc, token, "PUT", name_of(other), other) == 201
        assert request(proc, token, "DELETE", name_of(other)) == 204
        assert request(proc, token, "DELETE", name_of(blob)) == 204
        assert {r["name"] for r in trash_rows(proc)} == {name_of(blob), name_of(other)}
        restored = proc.op("tenant", "undelete", TENANT)
        assert sorted(cast(list[str], restored["restored"])) == sorted(
            [f"r/{name_of(blob)}", f"r/{name_of(other)}"]
        )
    finally:
        proc.stop()


def _trashed_blob(data: Path) -> bytes:
    """A haven (stopped again) holding one object in its trash; returns the object's bytes."""
    proc, token = start(data)
    blob = os.urandom(2000)
    assert request(proc, token, "PUT", name_of(blob), blob) == 201
    assert request(proc, token, "DELETE", name_of(blob)) == 204
    proc.stop()
    return blob


def _killed_at(point: str, data: Path, *argv: str) -> None:
    """Run an operator command on ``data`` as its own process, killed at ``point``."""
    cut = subprocess.run(
        [*KAIKYO, *argv, "--data", str(data)],
        env={**os.environ, "KAIKYO_TEST_CRASH_AT": point},
        capture_output=True,
        check=False,
    )
    assert cut.returncode == -9, cut.stderr


def test_purge_killed_between_file_and_row(tmp_path: Path) -> None:
    """The trashed file is gone but its row stayed: undelete says "purged", not "exists"."""
    data = tmp_path / "haven"
    blob = _trashed_blob(data)
    _killed_at("purge.removed", data, "haven", "purge", "--older-than", "0s")
    proc, token = start(data)
    try:
        undone = proc.op("tenant", "undelete", TENANT)
        assert undone["purged"] == [f"r/{name_of(blob)}"] and undone["skipped"] == []
        assert trash_rows(proc) == []
        assert proc.op("tenant", "show", TENANT)["used_bytes"] == 0
    finally:
        proc.stop()


def test_undelete_killed_after_the_link(tmp_path: Path) -> None:
    data = tmp_path / "haven"
    blob = _trashed_blob(data)
    _killed_at("undelete.linked", data, "tenant", "undelete", TENANT)
    proc, token = start(data)
    try:
        undone = proc.op("tenant", "undelete", TENANT)
        assert undone["restored"] == [f"r/{name_of(blob)}"], undone
        assert trash_rows(proc) == []
        assert request(proc, token, "HEAD", name_of(blob)) == 200
    finally:
        proc.stop()


def test_the_purge_loop_outlives_a_failure(tmp_path: Path) -> None:
    haven = Haven(HavenSettings(tmp_path / "h"), SYSTEM_CLOCK, create=True)
    calls: list[int] = []

    def flaky(older: float | None = None) -> PurgeResult:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk hiccup")
        return PurgeResult(0, [])

    haven.purge = flaky  # type: ignore[method-assign]

    async def run() -> None:
        with anyio.move_on_after(1.0):
            await _purge_forever(haven, 0.05)

    try:
        anyio.run(run)
    finally:
        haven.close()
    assert len(calls) >= 3


def test_serve_stops_quietly_on_sigterm(tmp_path: Path) -> None:
    """systemd stops the haven with SIGTERM: a graceful stop, exit 0 (not the CLI's 143)."""
    import signal

    proc, _ = start(tmp_path / "haven")
    assert proc.proc is not None
    popen = proc.proc
    popen.send_signal(signal.SIGTERM)
    assert popen.wait(timeout=20) == 0
    assert "terminated" not in proc.log.read_text()
