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
from typing import Any

from kaikyo import __version__
from kaikyo.cli import exitcodes
from kaikyo.cli.context import CliContext
from kaikyo.cli.extras import COMMAND_EXTRA, missing_extra
from kaikyo.cli.helpformat import HelpFormatter
from kaikyo.errors import KaikyoError, MissingExtraError, UsageError

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
    "mount",
    "copy",
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
    "generate",
    "plan",
    "inventory",
    "endpoint",
    "serve",
    "tenant",
    "token",
    "haven",
]


class _Parser(argparse.ArgumentParser):
    """Every command's parser: usage errors are one line (exit 64), and help text keeps its
    example blocks (:class:`~kaikyo.cli.helpformat.HelpFormatter`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


_EPILOG = """\
Sizes are 1024-based (500G, 2GiB; a plain number is bytes); durations are 90s, 10min,
12h, 7d, 2w, 6mo, 1y or combined (1y2mo3d); a bare 'm' is refused. Rates (--limit-upload,
--limit-download) are KiB/s, or a size per second (10M). Each command's --help has its
flags and examples; the environment, exit codes and the grammar are in README.md and
docs/CLI.md (and in the man pages: kaikyo generate --man DIR).

examples:
  kaikyo -r /srv/repo init
  kaikyo -r /srv/repo --password-file ~/.pass backup /etc /home
  kaikyo -r https://haven:8720/acme/main snapshots --json
  kaikyo backup --help
"""


# Global options that take a value; needed to find the command word in argv without parsing.
_VALUE_OPTIONS = {
    "-r",
    "--repo",
    "--password-file",
    "--password-command",
    "--limit-upload",
    "--limit-download",
    "--ca-file",
    "--retry-limit",
}


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


def _load_commands(only: str | None = None) -> dict[str, ModuleType | MissingExtraError]:
    """Import the command modules, in the CLI's order; just the one being run, so a backup
    does not pay for importing the planner's solver or the server's web stack. A command whose
    extra is not installed maps to the error that says which to install."""
    loaded: dict[str, ModuleType | MissingExtraError] = {}
    for name in [only] if only else COMMAND_MODULES:
        try:
            loaded[name] = importlib.import_module(f"kaikyo.cli.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"kaikyo.cli.commands.{name}":
                continue
            error = missing_extra(name, exc)
            if error is None:
                raise
            loaded[name] = error
    return loaded


def _not_installed(sub: argparse._SubParsersAction[_Parser], name: str) -> None:
    """A command whose extra is missing stays listed in ``kaikyo --help``, saying so."""
    sub.add_parser(name, help=f"(not installed: needs kaikyo[{COMMAND_EXTRA[name]}])")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``only`` (or every command). Raises the command's
    :class:`MissingExtraError` before any parsing when ``only`` needs an extra that is not
    installed, so ``kaikyo serve --anything`` says what to install rather than what is wrong
    with its flags."""
    loaded = _load_commands(only)
    wanted = loaded.get(only) if only else None
    if isinstance(wanted, MissingExtraError):
        raise wanted
    parser = _Parser(
        prog="kaikyo",
        description="Encrypted, deduplicated protection and "
        "evacuation of servers from a primary site to a haven.",
        epilog=_EPILOG,
        # No abbreviated global flags (restic has none): a command's own flag, such as
        # inventory's --password, would be an ambiguous prefix of --password-file and
        # --password-command here, and refused before the command saw it.
        allow_abbrev=False,
    )
    parser.add_argument(
        "--version", action="version", version=f"kaikyo {__version__}", help="print the version"
    )
    from kaikyo.cli.config import add_repo_args

    add_repo_args(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in loaded.items():
        if isinstance(module, MissingExtraError):
            _not_installed(sub, name)
        else:
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
        code = exitcodes.exit_code_for(exc)
        line = f"kaikyo: error: {exc.message}"
        if exc.hint:
            line += f" ({exc.hint})"
        _say_exit(ctx, argv, code, line, exc.message, exc.hint)
        return code
    except Terminated:
        text = "terminated (SIGTERM); finished work is kept and the next run resumes"
        _say_exit(ctx, argv, exitcodes.TERMINATED, f"kaikyo: {text}", text)
        return exitcodes.TERMINATED
    except KeyboardInterrupt:
        text = "interrupted; finished work is kept and the next run resumes"
        _say_exit(ctx, argv, exitcodes.INTERRUPTED, f"kaikyo: {text}", text)
        return exitcodes.INTERRUPTED
    except BrokenPipeError:
        return exitcodes.OK


def _json_asked(argv: Sequence[str] | None) -> bool:
    """``--json`` among the options (not after ``--``, where a command's arguments are)."""
    for arg in argv or ():
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def _say_exit(
    ctx: CliContext,
    argv: Sequence[str] | None,
    code: int,
    line: str,
    message: str,
    hint: str | None = None,
) -> None:
    """The last word of a failed command on stderr: one line for people, or with ``--json``
    restic's ``exit_error`` message (docs/JSON.md), so a script reads why as it reads what."""
    if not _json_asked(argv):
        ctx.stderr.write(line + "\n")
        return
    doc: dict[str, object] = {"message_type": "exit_error", "code": code, "message": message}
    if hint:
        doc["hint"] = hint
    import json

    ctx.stderr.write(json.dumps(doc, ensure_ascii=False) + "\n")


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
