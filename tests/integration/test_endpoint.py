"""``kaikyo endpoint``: a real forwarder process between real clients and two real services.

The services are small echo servers (each answers with its name), so a reply says where a
connection went. What a cut-over needs: a connection made while the endpoint holds is
accepted and waits, then reaches the service's new home when the endpoint is re-pointed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaikyo.endpoint import Forwarder
from kaikyo.endpoint.control import handle
from kaikyo.testing.cli import KAIKYO, kaikyo

ECHO = """
import asyncio, sys
async def h(r, w):
    while data := await r.read(1024):
        w.write(sys.argv[1].encode() + b":" + data)
        await w.drain()
    w.close()
async def main():
    s = await asyncio.start_server(h, "127.0.0.1", 0)
    print(s.sockets[0].getsockname()[1], flush=True)
    await s.serve_forever()
asyncio.run(main())
"""


@pytest.fixture
def services() -> Iterator[dict[str, str]]:
    """Two echo services, A and B: name -> HOST:PORT."""
    procs, where = [], {}
    for name in ("A", "B"):
        proc = subprocess.Popen([sys.executable, "-c", ECHO, name], stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout is not None
        where[name] = f"127.0.0.1:{int(proc.stdout.readline())}"
    yield where
    for proc in procs:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


class Endpoint:
    def __init__(self, tmp: Path, to: str, *extra: str) -> None:
        self.control = tmp / "端点.sock"
        self.proc = subprocess.Popen(
            [*KAIKYO, "endpoint", "serve", "--listen", "127.0.0.1:0", "--to", to,
             "--control", str(self.control), "--json", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        ready = json.loads(self.proc.stdout.readline())
        assert ready["message_type"] == "ready"
        self.port = int(ready["listen"].rsplit(":", 1)[1])

    def cli(self, *argv: str) -> dict[str, object]:
        run = kaikyo("endpoint", *argv, "--control", str(self.control), "--json")
        assert run.code == 0, run.err
        return dict(run.json())

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(10)
        self.close()
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def endpoint(tmp_path: Path, services: dict[str, str]) -> Iterator[Endpoint]:
    ep = Endpoint(tmp_path, services["A"], "--hold-timeout", "20s")
    yield ep
    ep.close()


def ask(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    return sock.recv(100)


def test_a_connection_made_while_holding_waits_then_reaches_the_new_home(
    endpoint: Endpoint, services: dict[str, str]
) -> None:
    with endpoint.connect() as before:
        assert ask(before, b"one") == b"A:one"
    assert endpoint.cli("hold")["holding"] is True
    held = endpoint.connect()  # accepted, not refused
    held.sendall("二".encode())
    held.settimeout(0.5)
    with pytest.raises(TimeoutError):
        held.recv(100)  # nobody answers while the service moves
    began = time.monotonic()
    reply = endpoint.cli("point", services["B"])
    held.settimeout(5)
    assert held.recv(100) == "B:二".encode() and time.monotonic() - began < 2
    held.close()
    status = endpoint.cli("status")
    assert status["target"] == services["B"] and reply["holding"] is False
    assert status["held_total"] == 1 and status["forwarded"] == 2
    assert status["hold_timeouts"] == 0 and status["longest_hold_s"] >= 0.5  # type: ignore[operator]
    mode = os.stat(endpoint.control).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600


def test_a_held_connection_times_out_and_a_refusing_target_closes_the_client(
    tmp_path: Path, services: dict[str, str]
) -> None:
    ep = Endpoint(tmp_path, services["A"], "--hold", "--hold-timeout", "0.5s")
    try:
        with ep.connect() as held:
            held.settimeout(5)
            began = time.monotonic()
            assert held.recv(100) == b""  # closed after the hold timeout
            assert 0.4 < time.monotonic() - began < 3
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        nobody = f"127.0.0.1:{closed.getsockname()[1]}"
        closed.close()
        ep.cli("point", nobody)
        with ep.connect() as client:
            client.settimeout(5)
            assert client.recv(100) == b""
        status = ep.cli("status")
        assert status["hold_timeouts"] == 1 and status["refused_by_target"] == 1
    finally:
        assert ep.stop() == 0
    assert not ep.control.exists()  # SIGTERM: stopped cleanly, its socket removed


def test_point_can_keep_holding_until_release(endpoint: Endpoint, services: dict[str, str]):
    endpoint.cli("hold")
    held = endpoint.connect()
    held.sendall(b"x")
    assert endpoint.cli("point", services["B"], "--keep-holding")["holding"] is True
    held.settimeout(0.4)
    with pytest.raises(TimeoutError):
        held.recv(10)
    endpoint.cli("release")
    held.settimeout(5)
    assert held.recv(10) == b"B:x"
    held.close()


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["serve", "--listen", "127.0.0.1", "--to", "127.0.0.1:1", "--control", "c"], 64,
         "HOST:PORT"),
        (["serve", "--listen", "127.0.0.1:0", "--to", "x:99999", "--control", "c"], 64,
         "HOST:PORT"),
        (["serve", "--listen", "127.0.0.1:0", "--to", "127.0.0.1:1"], 64, "--control"),
        (["status", "--control", "NOWHERE"], 18, "no endpoint listens"),
        (["point", "nowhere", "--control", "c"], 64, "HOST:PORT"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(
    tmp_path: Path, argv: list[str], code: int, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = kaikyo("endpoint", *[str(tmp_path / a) if a == "NOWHERE" else a for a in argv])
    assert run.code == code and words in run.err and run.err.count("\n") == 1


def test_a_control_path_that_is_a_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    run = kaikyo("endpoint", "serve", "--listen", "127.0.0.1:0", "--to", "127.0.0.1:1",
                 "--control", str(precious))  # fmt: skip
    assert run.code == 64 and "not a socket" in run.err and precious.read_text() == "keep me"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_control_line_gets_a_reply_and_garbage_changes_nothing(line: bytes) -> None:
    forwarder = Forwarder(("127.0.0.1", 9))
    reply = handle(forwarder, line)
    assert isinstance(reply["ok"], bool)
    if not reply["ok"]:
        assert isinstance(reply["error"], str)
        assert not forwarder.stats.holding and forwarder.target == ("127.0.0.1", 9)
