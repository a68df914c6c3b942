"""``--password-command`` (``KAIKYO_PASSWORD_COMMAND``): the passphrase from a program's output.

As restic's: the command is split like a shell would (``shlex``) but run without one, and the
first line it prints is the passphrase, so a password manager (``pass show backup/kaikyo``,
``secret-tool lookup ...``) or a vault client can hand it over without a file on disk. Its
stderr is kaikyo's, so its own prompts and errors are seen; it reads the terminal when kaikyo
runs on one, and nothing otherwise (kaikyo's standard input may be data: ``backup --stdin``).
A command that cannot start, fails, or prints nothing is one line (exit 23, as an unreadable
password file) that names it and its exit status.
"""

from __future__ import annotations

import io
import shlex
import signal
import subprocess
import sys
from typing import IO

from kaikyo.cli.context import CliContext
from kaikyo.errors import ConfigError, UsageError


def _status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _stderr_of(ctx: CliContext) -> IO[bytes] | int:
    """kaikyo's stderr as a file descriptor the command can write to, or PIPE (tests)."""
    try:
        ctx.stderr.flush()
        ctx.stderr.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return subprocess.PIPE
    return ctx.stderr  # type: ignore[return-value]


def password_from_command(command: str, ctx: CliContext, what: str = "passphrase") -> str:
    """Run ``command`` and return the first line of its standard output."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"cannot split --password-command {command!r}: {exc}") from None
    if not argv:
        raise UsageError(
            "--password-command is empty", "give the command that prints the passphrase"
        )
    stderr = _stderr_of(ctx)
    try:
        done = subprocess.run(
            argv,
            stdin=sys.stdin if ctx.stdin_is_tty else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=ctx.env,
            check=False,
        )
    except OSError as exc:
        raise ConfigError(
            f"cannot run password command {argv[0]!r}: {exc.strerror}",
            "check --password-command / KAIKYO_PASSWORD_COMMAND",
        ) from None
    if stderr == subprocess.PIPE and done.stderr:
        ctx.stderr.write(done.stderr.decode("utf-8", "backslashreplace"))
    if done.returncode != 0:
        raise ConfigError(
            f"password command {command!r} {_status(done.returncode)}",
            "check --password-command / KAIKYO_PASSWORD_COMMAND",
        )
    lines = done.stdout.decode("utf-8", "surrogateescape").splitlines()
    secret = lines[0].rstrip("\r") if lines else ""
    if not secret:
        raise ConfigError(
            f"password command {command!r} printed no {what}",
            "it must print the passphrase as its first line (--password-command / "
            "KAIKYO_PASSWORD_COMMAND)",
        )
    return secret
