"""kaikyo version: kaikyo's version, the Python running it and the platform (as restic's
``restic 0.16.4 compiled with go1.21.6 on linux/amd64``)."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from kaikyo import __version__
from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "version",
        help="print version information",
        description="Print kaikyo's version, the Python it runs on and the platform "
        "(kaikyo --version prints the version alone, faster).",
        epilog="""examples:
  kaikyo version
  kaikyo version --json""",
    )
    config.add_json_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    python = platform.python_version()
    where = f"{sys.platform}/{platform.machine()}"
    if args.json:
        emit_json(ctx, {"version": __version__, "python": python, "platform": where})
    else:
        impl = platform.python_implementation()
        ctx.stdout.write(f"kaikyo {__version__} running on {impl} {python} on {where}\n")
    return 0
