"""A real ``kaikyo serve`` process for tests, and in-process operator commands on its data.

Tests that import this run the haven exactly as an operator would: a subprocess listening on a
free loopback port (or inside a network namespace), with tenants and tokens made by the same
``kaikyo tenant``/``kaikyo token`` commands.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from kaikyo.testing.cli import KAIKYO, kaikyo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HavenProcess:
    def __init__(
        self,
        data: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        extra: tuple[str, ...] = (),
        netns: str | None = None,
        tls: tuple[Path, Path] | None = None,
        metrics: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        """``tls=(cert, key)`` serves https with that pair; the certificate is then also the
        CA a client must trust (see tlscert.self_signed). ``metrics``: also serve /metrics on
        an operator listener (``metrics_base``)."""
        self.data, self.host, self.port = data, host, port or free_port()
        self.extra, self.netns, self.tls = extra, netns, tls
        self.metrics_port = free_port() if metrics else None
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / f"{data.name}-serve.log"

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def metrics_base(self) -> str:
        assert self.metrics_port is not None, "started without metrics=True"
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.metrics_port}"

    @property
    def ca_file(self) -> str | None:
        return str(self.tls[0]) if self.tls else None

    def url(self, tenant: str, repo: str) -> str:
        return f"{self.base}/{tenant}/{repo}"

    def start(self, timeout: float = 20.0) -> None:
        cmd = [
            *KAIKYO,
            "serve",
            "--data",
            str(self.data),
            "--listen",
            f"{self.host}:{self.port}",
            *self.extra,
        ]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        if self.metrics_port is not None:
            cmd += ["--metrics-listen", f"{self.host}:{self.metrics_port}"]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kaikyo serve exited: {self.log.read_text()}")
            try:
                if self._healthy():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"kaikyo serve did not become ready: {self.log.read_text()}")

    def _healthy(self) -> bool:
        if self.netns:
            probe = subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.netns,
                    sys.executable,
                    "-c",
                    f"import httpx; httpx.get('{self.base}/healthz', timeout=1).raise_for_status()",
                ],
                capture_output=True,
                check=False,
            )
            return probe.returncode == 0
        verify = ssl.create_default_context(cafile=self.ca_file) if self.tls else True
        return httpx.get(f"{self.base}/healthz", timeout=1, verify=verify).status_code == 200

    def wait_dead(self, timeout: float = 20.0) -> int:
        """Wait for the server to exit by itself (a crash point); returns its exit status."""
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    # -- operator commands ---------------------------------------------------------------

    def op(self, *argv: str) -> dict[str, object]:
        code, out, err = kaikyo(*argv, "--data", str(self.data), "--json")
        assert code == 0, err
        parsed = json.loads(out) if out.strip() else {}
        return parsed if isinstance(parsed, dict) else {"rows": parsed}

    def tenant(self, name: str, *flags: str) -> None:
        self.op("tenant", "add", name, *flags)

    def token(self, tenant: str, scope: str, *flags: str) -> str:
        return str(self.op("token", "issue", tenant, "--scope", scope, *flags)["token"])
