"""Entry point: parser, dispatch, and the single error -> exit-code mapping."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType

from kaikyo import __version__
from kaikyo.cli import exitcodes
from kaikyo.cli.context import CliContext
from kaikyo.errors import KaikyoError, UsageError

# One module per command under kaikyo.cli.commands; each has register(subparsers) and
# run(args, ctx) -> int. Listed explicitly, so the CLI surface is greppable in one place.
COMMAND_MODULES = [
    "init",
    "backup",
    "snapshots",
    "ls",
    "find",
    "diff",
    "restore",
    "dump",
    "check",
    "repair",
    "forget",
    "tag",
    "rewrite",
    "recover",
    "prune",
    "key",
    "unlock",
    "stats",
    "cat",
    "list",
    "version",
    "plan",
    "inventory",
    "serve",
    "tenant",
    "token",
    "haven",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


# Global options that take a value; needed to find the command word in argv without parsing.
_VALUE_OPTIONS = {"-r", "--repo", "--password-file", "--limit-upload", "--ca-file", "--retry-limit"}


def _first_word(argv: Sequence[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _VALUE_OPTIONS:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def _command_in(argv: Sequence[str]) -> str | None:
    word = _first_word(argv)
    return word if word in COMMAND_MODULES else None


def _asks_version(argv: Sequence[str]) -> bool:
    """``kaikyo --version`` with no command and no --help: answered before the parser is
    built, so no command module is imported (the planner's and the server's imports took
    about a second)."""
    return (
        "--version" in argv
        and _first_word(argv) is None
        and not {"-h", "--help"}.intersection(argv)
    )


def _load_commands(only: str | None = None) -> list[ModuleType]:
    """Import the command modules; just the one being run, so a backup does not pay for
    importing the planner's solver or the server's web stack."""
    modules = []
    for name in [only] if only else COMMAND_MODULES:
        try:
            modules.append(importlib.import_module(f"kaikyo.cli.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"kaikyo.cli.commands.{name}":
                raise
    return modules


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kaikyo",
        description="Encrypted, deduplicated protection and "
        "evacuation of servers from a primary site to a haven.",
    )
    parser.add_argument("--version", action="version", version=f"kaikyo {__version__}")
    from kaikyo.cli.config import add_repo_args

    add_repo_args(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _load_commands(only):
        module.register(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (systemd, ``timeout``, Kubernetes): handled as Ctrl-C is, so finished work is
    kept, workers are stopped and the command says so in one line."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None, ctx: CliContext | None = None) -> int:
    ctx = ctx or CliContext(env=dict(os.environ), stdin_is_tty=sys.stdin.isatty())
    argv = list(sys.argv[1:] if argv is None else argv)
    if _command_in(argv) == "serve":  # uvicorn stops gracefully on SIGTERM itself: exit 0
        return _main(argv, ctx)
    with _sigterm_as_interrupt():
        return _main(argv, ctx)


def _main(argv: Sequence[str] | None, ctx: CliContext) -> int:
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if _asks_version(argv):
            ctx.stdout.write(f"kaikyo {__version__}\n")
            return exitcodes.OK
        parser = build_parser(_command_in(argv))
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(ctx.stderr)
            return exitcodes.USAGE
        return int(args.func(args, ctx))
    except KaikyoError as exc:
        line = f"kaikyo: error: {exc.message}"
        if exc.hint:
            line += f" ({exc.hint})"
        ctx.stderr.write(line + "\n")
        return exitcodes.exit_code_for(exc)
    except Terminated:
        ctx.stderr.write(
            "kaikyo: terminated (SIGTERM); finished work is kept and the next run resumes\n"
        )
        return exitcodes.TERMINATED
    except KeyboardInterrupt:
        ctx.stderr.write("kaikyo: interrupted; finished work is kept and the next run resumes\n")
        return exitcodes.INTERRUPTED
    except BrokenPipeError:
        return exitcodes.OK


def _tune_malloc() -> None:
    """Keep glibc's allocator from holding freed memory (inherited by forked workers).

    Two arenas at most: compression and upload threads each got a 64 MiB arena of their own,
    which kept tens of megabytes per process resident for nothing. A fixed mmap threshold of
    2 MiB: by default glibc raises the threshold each time a large block is freed, after which
    multi-megabyte buffers are carved from the heap, which then stays fragmented and large
    (a tree backup's summed RSS: 226 -> 209 MiB). Not lower: at 128 KiB every chunk-sized
    buffer was a fresh mapping, page-faulted in and unmapped again (image backup 8.1 -> 12 s).
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-8, 2)  # M_ARENA_MAX
        libc.mallopt(-3, 2 * 1024 * 1024)  # M_MMAP_THRESHOLD (fixing it stops the raising)
    except (OSError, AttributeError):
        pass  # not glibc


def entry() -> None:
    _tune_malloc()
    sys.exit(main())


if __name__ == "__main__":
    entry()
