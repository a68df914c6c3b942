"""Run the engine's CLI (``kaikyo init/backup/restore``) as a real process against a haven."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from kaikyo.testing.cli import KAIKYO


def run_kaikyo(
    url: str,
    token: str,
    *argv: str,
    netns: str | None = None,
    check: bool = True,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    # Trust comes only from what a test passes: never from the developer's environment.
    base = {k: v for k, v in os.environ.items() if k != "KAIKYO_CA_FILE"}
    env = {
        **base,
        "KAIKYO_REPOSITORY": url,
        "KAIKYO_TOKEN": token,
        "KAIKYO_PASSWORD": "correct horse battery staple",
        **(env or {}),
    }
    cmd = [*KAIKYO, *argv]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    result = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"kaikyo {' '.join(argv)} failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    return result


def backup_json(url: str, token: str, source: Path, **kw: Any) -> dict[str, Any]:
    out = run_kaikyo(url, token, "backup", str(source), "--json", **kw).stdout
    parsed: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return parsed


def same_tree(a: Path, b: Path) -> bool:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return files_a == files_b and all(
        (a / rel).read_bytes() == (b / rel).read_bytes() for rel in files_a
    )
