"""Human and --json rendering. Data and JSON go to stdout; progress and messages to stderr."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from kaikyo.cli.context import CliContext


def emit_json(ctx: CliContext, obj: Any) -> None:
    """One JSON document on stdout. An object also tells whether the store was retried
    (``retries``), when it was: a script should know its command ran through an outage."""
    if isinstance(obj, dict) and ctx.retries is not None and ctx.retries.outages:
        obj = {**obj, "retries": ctx.retries.summary()}
    ctx.stdout.write(json.dumps(obj, ensure_ascii=False, indent=None, default=str))
    ctx.stdout.write("\n")
    ctx.stdout.flush()


# Markup and emoji codes off: what kaikyo prints is full of names it does not choose (paths,
# tags, hosts), and "[/]" in a tag would raise, "[b]" vanish, ":smile:" turn into a picture.
# Styling is done with Text and styles instead.
def out_console(ctx: CliContext) -> Console:
    return Console(file=ctx.stdout, highlight=False, soft_wrap=True, markup=False, emoji=False)


def err_console(ctx: CliContext) -> Console:
    return Console(
        file=ctx.stderr, highlight=False, soft_wrap=True, stderr=True, markup=False, emoji=False
    )


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def show_path(raw: bytes) -> str:
    """Render filename bytes for people: UTF-8 where valid, \\xNN escapes elsewhere."""
    return raw.decode("utf-8", "backslashreplace")
