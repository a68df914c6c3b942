"""Human and --json rendering. Data and JSON go to stdout; progress and messages to stderr."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from rich.console import Console

from kaikyo.cli.context import CliContext

_STDOUT_LOCK = threading.Lock()


def emit_json(ctx: CliContext, obj: Any) -> None:
    """One JSON document on stdout. An object also tells whether the store was retried
    (``retries``), when it was: a script should know its command ran through an outage."""
    if isinstance(obj, dict) and ctx.retries is not None and ctx.retries.outages:
        obj = {**obj, "retries": ctx.retries.summary()}
    line = json.dumps(obj, ensure_ascii=False, indent=None, default=str) + "\n"
    with _STDOUT_LOCK:  # a status thread (see .progress) writes beside the command's lines
        ctx.stdout.write(line)
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


def show_time(seconds: float, zone: tzinfo | None) -> str:
    """A time for people: to the second, in ``zone`` (None: the system's; see
    :func:`kaikyo.cli.config.time_zone`), with the zone's name or offset, so that times read
    at the primary and at the haven are never mistaken for each other."""
    when = datetime.fromtimestamp(seconds, zone) if zone else datetime.fromtimestamp(seconds)
    if zone is None:
        when = when.astimezone()
    return when.strftime("%Y-%m-%d %H:%M:%S ") + (when.tzname() or when.strftime("%z"))


def rfc3339(seconds: float | None) -> str | None:
    """A time for scripts (every --json time, docs/JSON.md): RFC 3339 in UTC, to the
    microsecond; None stays None."""
    if seconds is None:
        return None
    when = datetime.fromtimestamp(seconds, UTC)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def times_rfc3339(obj: Any) -> Any:
    """``obj`` with every time in RFC 3339: the numbers (Unix seconds) under keys named
    ``time`` or ending in ``_at``, at any depth. For documents a layer below the CLI builds
    (the haven's tenants, tokens, trash and audit rows), so --json has one time format."""
    if isinstance(obj, dict):
        return {
            k: rfc3339(v)
            if (k == "time" or k.endswith("_at"))
            and isinstance(v, int | float)
            and not isinstance(v, bool)
            else times_rfc3339(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [times_rfc3339(v) for v in obj]
    return obj


def rfc3339_ns(ns: int | None) -> str | None:
    """A file time kept in nanoseconds, in RFC 3339 with all nine digits (as restic's)."""
    if ns is None:
        return None
    whole, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def print_table(
    ctx: CliContext,
    headers: list[str],
    rows: list[list[str]],
    *,
    title: str | None = None,
    right: frozenset[str] = frozenset(),
) -> None:
    """A table: drawn with rich on a terminal; plain aligned text when stdout is a pipe or a
    file, whole (nothing cut to a terminal's width), one space-separated line per row and
    the extra lines of a cell that holds several below it, so that ``grep``, ``awk`` and
    ``cut`` work. Widths count East Asian characters as two cells. Columns named in
    ``right`` (figures) are right-aligned; a title goes above, as a line of its own in a
    pipe."""
    out = out_console(ctx)
    if out.is_terminal:
        from rich.table import Table

        table = Table(title=title)
        for h in headers:
            table.add_column(h, justify="right" if h in right else "left", no_wrap=h in right)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    from rich.cells import cell_len

    if title:
        ctx.stdout.write(title + "\n")
    lines = [[cell.split("\n") for cell in row] for row in [headers, *rows]]
    widths = [max(cell_len(part) for row in lines for part in row[i]) for i in range(len(headers))]
    for cells in lines:
        for k in range(max(len(cell) for cell in cells)):
            parts = [cell[k] if k < len(cell) else "" for cell in cells]
            line = "  ".join(
                " " * (w - cell_len(p)) + p if h in right else p + " " * (w - cell_len(p))
                for p, w, h in zip(parts, widths, headers, strict=True)
            )
            ctx.stdout.write(line.rstrip() + "\n")


def write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        from kaikyo.errors import ConfigError

        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
