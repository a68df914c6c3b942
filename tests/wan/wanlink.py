"""Two network namespaces joined by the userspace WAN relay (35 ms RTT, loss, rate).

Used by the WAN tests and ``bench/bench_haven.py``. Needs root, ``ip netns`` and /dev/net/tun;
:func:`wan_available` says whether this machine has them, so callers can skip cleanly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

RELAY = Path(__file__).with_name("wan_relay.py")
ADDR_A, ADDR_B = "10.99.0.1", "10.99.0.2"


def wan_available() -> str | None:
    """None if a WAN link can be built here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None:
        return "needs iproute2 (ip)"
    if not Path("/dev/net/tun").exists():
        return "needs /dev/net/tun"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, check=False)
    return None if probe.returncode == 0 else "ip netns does not work here"


class WanLink:
    """Namespaces ``<prefix>A`` (client, 10.99.0.1) and ``<prefix>B`` (haven, 10.99.0.2)."""

    def __init__(
        self,
        workdir: Path,
        *,
        prefix: str = "kkwan",
        delay_ms: float = 17.0,
        loss: float = 0.001,
        rate_mbit: float = 1000.0,
    ) -> None:
        self.ns_a, self.ns_b = f"{prefix}A", f"{prefix}B"
        self.workdir = workdir
        self.args = [
            "--delay-ms",
            str(delay_ms),
            "--loss",
            str(loss),
            "--rate-mbit",
            str(rate_mbit),
        ]
        self.relay: subprocess.Popen[bytes] | None = None

    def up(self) -> None:
        self.down_namespaces()
        for ns in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "add", ns], check=True)
        ready = self.workdir / "relay.ready"
        ready.unlink(missing_ok=True)
        log = open(self.workdir / "relay.log", "wb")  # noqa: SIM115 - lives with the relay
        self.relay = subprocess.Popen(
            [
                sys.executable,
                str(RELAY),
                "--ns-a",
                self.ns_a,
                "--ns-b",
                self.ns_b,
                "--addr-a",
                ADDR_A,
                "--addr-b",
                ADDR_B,
                *self.args,
                "--ready-file",
                str(ready),
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 10
        while not ready.exists():
            if self.relay.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.workdir / "relay.log").read_text())
            time.sleep(0.05)

    def set_link(self, up: bool) -> None:
        """Cut (``up=False``) or restore the link, as pulling and replugging a cable."""
        subprocess.run(
            ["ip", "-n", self.ns_a, "link", "set", f"{self.ns_a}0", "up" if up else "down"],
            check=True,
        )
        if up:  # the address's route returns with the link; re-add it if the kernel dropped it
            subprocess.run(
                ["ip", "-n", self.ns_a, "route", "replace", f"{ADDR_B}/32", "dev", f"{self.ns_a}0"],
                check=False,
                capture_output=True,
            )

    def down(self) -> None:
        if self.relay is not None and self.relay.poll() is None:
            self.relay.terminate()
            self.relay.wait(timeout=10)
        self.relay = None
        self.down_namespaces()

    def down_namespaces(self) -> None:
        for ns in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)

    def exec(self, ns: str, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *cmd]

    def raw_tcp_mb_s(self, nbytes: int = 64 * 1024 * 1024, port: int = 18999) -> float:
        """Throughput of one plain TCP stream A -> B over the same link, in MB/s."""
        sink = subprocess.Popen(
            self.exec(self.ns_b, sys.executable, "-c", _SINK.format(addr=ADDR_B, port=port)),
            stdout=subprocess.PIPE,
        )
        time.sleep(0.5)
        result = subprocess.run(
            self.exec(
                self.ns_a, sys.executable, "-c", _SOURCE.format(addr=ADDR_B, port=port, n=nbytes)
            ),
            capture_output=True,
            text=True,
            check=True,
        )
        sink.wait(timeout=60)
        return float(result.stdout.strip())


_SINK = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("{addr}", {port})); s.listen(1); c, _ = s.accept()
while c.recv(1 << 20): pass
c.close()
"""
_SOURCE = """
import socket, time
c = socket.create_connection(("{addr}", {port})); buf = bytes(1 << 20); n = {n}
t = time.monotonic(); sent = 0
while sent < n: sent += c.send(buf)
c.shutdown(socket.SHUT_WR); c.recv(1); dt = time.monotonic() - t
print(sent / dt / 1e6)
"""

__all__ = ["ADDR_A", "ADDR_B", "WanLink", "wan_available"]
