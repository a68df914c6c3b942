"""``kaikyo generate``: shell completions and man pages, as restic's generate.

Everything is generated from the parser the CLI itself runs with, so it lists exactly the
commands and flags of this kaikyo. ``-`` as FILE writes to standard output. Each file is
written under a temporary name and renamed once complete.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Any

from kaikyo import __version__
from kaikyo.cli import exitcodes
from kaikyo.cli.config import add_json_arg
from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json
from kaikyo.errors import (
    ConfigError,
    KaikyoError,
    NoSpaceError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)

_SHELL_FLAGS = (("bash", "bash_completion"), ("zsh", "zsh_completion"), ("fish", "fish_completion"))


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "generate",
        help="write shell completions and man pages",
        description="Write the completion script for bash, zsh or fish, and the man pages "
        "(kaikyo.1 and one kaikyo-COMMAND.1 per command), all generated from kaikyo's own "
        "command-line parser. FILE '-' is standard output. Install the completions where "
        "your shell looks for them, the pages in a man1 directory on MANPATH.",
        epilog="""examples:
  kaikyo generate --bash-completion /etc/bash_completion.d/kaikyo
  kaikyo generate --zsh-completion ~/.zsh/completions/_kaikyo
  kaikyo generate --fish-completion ~/.config/fish/completions/kaikyo.fish
  kaikyo generate --man /usr/local/share/man/man1 && man kaikyo-backup
  source <(kaikyo generate --bash-completion -)""",
    )
    for shell, dest in _SHELL_FLAGS:
        p.add_argument(
            f"--{shell}-completion",
            dest=dest,
            metavar="FILE",
            help=f"write the {shell} completion script to FILE ('-': standard output)",
        )
    p.add_argument(
        "--man",
        metavar="DIR",
        help="write the man pages into DIR (created if missing): kaikyo.1, kaikyo-backup.1 ...",
    )
    add_json_arg(p)
    p.set_defaults(func=run)


def _write_error(exc: OSError, path: str) -> KaikyoError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpaceError(f"no space left on the device while writing {path}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDeniedError(f"permission denied writing {path}")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFoundError(f"the directory of {path} does not exist")
    if exc.errno == errno.EISDIR:
        return UsageError(f"{path} is a directory", "name the file to write")
    return ConfigError(f"cannot write {path}: {exc.strerror}")


def _write(path: str, text: str) -> None:
    """``text`` into ``path`` under a temporary name, renamed over it once complete."""
    full = os.path.abspath(path)
    if os.path.isdir(full):
        raise UsageError(f"{path} is a directory", "name the file to write")
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(full)}.", suffix=".kaikyo-tmp", dir=os.path.dirname(full)
        )
    except OSError as exc:
        raise _write_error(exc, path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fh.fileno(), 0o666 & ~umask)
        os.replace(tmp, full)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(exc, path) from None
        raise


def _outputs(args: argparse.Namespace, ctx: CliContext) -> list[tuple[str, str]]:
    """(where, text) for everything asked for; built before anything is written."""
    from kaikyo.cli.generate import completions, manpages
    from kaikyo.cli.main import build_parser

    outputs = []
    for shell, dest in _SHELL_FLAGS:
        target = getattr(args, dest)
        if target:
            outputs.append((target, completions.completion(build_parser(), shell)))
    if args.man:
        folder = Path(args.man)
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--man {args.man} is not a directory", "name a directory")
        date = _date(ctx)
        for name, text in manpages.pages(build_parser(), date, __version__).items():
            outputs.append((str(folder / name), text))
    return outputs


def _date(ctx: CliContext) -> str:
    """The pages' date: SOURCE_DATE_EPOCH if set (reproducible builds), else today (UTC)."""
    from datetime import UTC, datetime

    epoch = ctx.env.get("SOURCE_DATE_EPOCH")
    try:
        seconds = float(epoch) if epoch else ctx.clock.now()
    except ValueError:
        raise ConfigError(f"SOURCE_DATE_EPOCH must be a number, not {epoch!r}") from None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    asked = [getattr(args, dest) for _, dest in _SHELL_FLAGS]
    if not any(asked) and not args.man:
        raise UsageError(
            "nothing to generate",
            "pass --bash-completion, --zsh-completion, --fish-completion FILE or --man DIR",
        )
    if asked.count("-") > 1:
        raise UsageError("only one output can go to standard output ('-')")
    if args.json and "-" in asked:
        raise UsageError("--json prints a summary on stdout: write the script to a file")
    outputs = _outputs(args, ctx)
    if args.man:
        try:
            Path(args.man).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_error(exc, args.man) from None
    written = []
    for target, text in outputs:
        if target == "-":
            ctx.stdout.write(text)
            continue
        _write(target, text)
        written.append(target)
    if args.json:
        emit_json(ctx, {"written": written})
    elif written:
        ctx.stderr.write(f"wrote {len(written)} file(s)\n")
    return exitcodes.OK
