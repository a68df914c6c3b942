"""Settings from flags and environment: the only CLI module that reads the environment."""

from __future__ import annotations

import argparse
import getpass
import multiprocessing
import os
import re
import signal
import socket
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kaikyo.cli.context import CliContext
from kaikyo.cli.passwordcommand import password_from_command
from kaikyo.cli.retries import RetryLog
from kaikyo.errors import ConfigError, UsageError
from kaikyo.store import Store, StoreOptions, open_store
from kaikyo.units import parse_duration


def add_repo_args(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """Repository options; accepted before the command (as restic) and after it.

    Below the command they default to SUPPRESS, so they never overwrite a value given above it.
    """
    default: object = None if top else argparse.SUPPRESS
    g = parser.add_argument_group("repository")
    g.add_argument(
        "-r",
        "--repo",
        default=default,
        help="repository location (env KAIKYO_REPOSITORY): a path, "
        "or http(s)://HOST:PORT/TENANT/REPO for a haven",
    )
    g.add_argument(
        "--password-file",
        default=default,
        metavar="FILE",
        help="read the passphrase from this file (env KAIKYO_PASSWORD_FILE; or KAIKYO_PASSWORD)",
    )
    g.add_argument(
        "--password-command",
        default=default,
        metavar="CMD",
        help="run CMD (split as a shell would, run without one) and take the first line it "
        "prints as the passphrase (env KAIKYO_PASSWORD_COMMAND)",
    )
    g.add_argument(
        "--limit-upload",
        default=default,
        metavar="RATE",
        help="limit uploads to RATE KiB/s, as restic (a size per second with a unit: 10M); "
        "or by time of day, e.g. '09:00-20:00=10M,*=0'; 0 = unlimited (env KAIKYO_LIMIT_UPLOAD)",
    )
    g.add_argument(
        "--limit-download",
        default=default,
        metavar="RATE",
        help="limit downloads to RATE KiB/s, as restic, for any repository; the grammar of "
        "--limit-upload (env KAIKYO_LIMIT_DOWNLOAD)",
    )
    g.add_argument(
        "--ca-file",
        default=default,
        metavar="FILE",
        help="trust only this CA (PEM) for an https:// haven (env KAIKYO_CA_FILE)",
    )
    g.add_argument(
        "--retry-limit",
        default=default,
        metavar="DURATION",
        help="how long to retry an unreachable haven before giving up, e.g. 30s, "
        "10min; 0 = do not retry (env KAIKYO_RETRY_LIMIT; default 5min)",
    )
    add_json_arg(parser, top)


def add_json_arg(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """The output options every command takes: ``--json``, and ``--utc`` for the times
    people read."""
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="machine-readable output on stdout",
    )
    parser.add_argument(
        "--utc",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show times in UTC, not in the local time zone (env KAIKYO_UTC=1); "
        "JSON times are RFC 3339 with their offset either way",
    )


def time_zone(args: argparse.Namespace, ctx: CliContext) -> tzinfo | None:
    """The zone times are shown in: UTC with ``--utc`` (or KAIKYO_UTC=1), else the zone TZ
    names (e.g. Asia/Tokyo), else None: the system's, with its rules at each time."""
    if getattr(args, "utc", False) or ctx.env.get("KAIKYO_UTC", "") not in ("", "0"):
        return UTC
    name = ctx.env.get("TZ", "").removeprefix(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ValueError, ZoneInfoNotFoundError):
            raise UsageError(
                f"TZ={name!r} is not a time zone this machine knows",
                "use a name such as Asia/Tokyo, or --utc",
            ) from None
    return None


def repo_url(args: argparse.Namespace, ctx: CliContext) -> str:
    url = getattr(args, "repo", None) or ctx.env.get("KAIKYO_REPOSITORY")
    if not url:
        raise UsageError("no repository given", "pass -r/--repo or set KAIKYO_REPOSITORY")
    return str(url)


def retry_limit(args: argparse.Namespace, ctx: CliContext) -> float | None:
    flag = getattr(args, "retry_limit", None)
    text = flag or ctx.env.get("KAIKYO_RETRY_LIMIT")
    return parse_duration(text, "--retry-limit" if flag else "KAIKYO_RETRY_LIMIT") if text else None


def retry_log(ctx: CliContext) -> RetryLog:
    if ctx.retries is None:
        ctx.retries = RetryLog(ctx.stderr)
    return ctx.retries


def store_for(args: argparse.Namespace, ctx: CliContext, create: bool = False) -> Store:
    options = StoreOptions(
        create=create,
        token=ctx.env.get("KAIKYO_TOKEN"),
        upload_limit=getattr(args, "limit_upload", None) or ctx.env.get("KAIKYO_LIMIT_UPLOAD"),
        download_limit=getattr(args, "limit_download", None)
        or ctx.env.get("KAIKYO_LIMIT_DOWNLOAD"),
        ca_file=getattr(args, "ca_file", None) or ctx.env.get("KAIKYO_CA_FILE") or None,
        clock=ctx.clock,
        retry_limit=retry_limit(args, ctx),
        retry_watcher=retry_log(ctx),
    )
    store = open_store(repo_url(args, ctx), options)
    kill_at = ctx.env.get("KAIKYO_TEST_KILL_AT_WRITE")
    return _KillAtWrite(store, int(kill_at)) if kill_at else store


class _KillAtWrite:
    """Test hook (tests/fault): SIGKILL this command just before its Nth store write.

    Puts and deletes are counted across the forked workers (shared memory), so a given N is
    a deterministic point in the write sequence; the whole process group dies when this
    command leads it (``start_new_session``), as with ``kill -9`` of a session.
    """

    def __init__(self, store: Store, n: int) -> None:
        self._store, self._n, self._leader = store, n, os.getpid()
        self._count = multiprocessing.get_context("fork").Value("i", 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _tick(self) -> None:
        with self._count.get_lock():
            self._count.value += 1
            if self._count.value < self._n:
                return
        if os.getpgrp() == self._leader:
            os.killpg(self._leader, signal.SIGKILL)
        os.kill(self._leader, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    def put(self, name: str, data: bytes | memoryview, *, overwrite: bool = False) -> None:
        self._tick()
        self._store.put(name, data, overwrite=overwrite)

    def put_file(self, name: str, path: str) -> None:
        self._tick()
        self._store.put_file(name, path)

    def delete(self, name: str) -> None:
        self._tick()
        self._store.delete(name)


# ---- copy's source repository ----------------------------------------------------------
# restic's names (--from-repo, --from-password-file, --from-password-command, RESTIC_FROM_*)
# with KAIKYO_. The source is only read: the download limit applies, no upload limit; its own
# CA, token and passphrase.


def add_from_repo_args(parser: argparse.ArgumentParser) -> None:
    """The options naming the repository ``copy`` reads from."""
    g = parser.add_argument_group("source repository")
    g.add_argument(
        "--from-repo",
        metavar="REPO",
        help="the repository to copy from (env KAIKYO_FROM_REPOSITORY): a path, "
        "or http(s)://HOST:PORT/TENANT/REPO for a haven",
    )
    g.add_argument(
        "--from-password-file",
        metavar="FILE",
        help="read the source's passphrase from this file (env KAIKYO_FROM_PASSWORD_FILE; "
        "or KAIKYO_FROM_PASSWORD)",
    )
    g.add_argument(
        "--from-password-command",
        metavar="CMD",
        help="run CMD (no shell) and take the first line it prints as the source's "
        "passphrase (env KAIKYO_FROM_PASSWORD_COMMAND)",
    )
    # A token file, not a --from-token flag: a command line is readable by every local user
    # (/proc/PID/cmdline), and kaikyo takes no secret as an argument (nor restic a password).
    g.add_argument(
        "--from-token-file",
        metavar="FILE",
        help="read the source haven's token from this file (env KAIKYO_FROM_TOKEN)",
    )
    g.add_argument(
        "--from-ca-file",
        metavar="FILE",
        help="trust only this CA (PEM) for an https:// source haven (env KAIKYO_FROM_CA_FILE)",
    )


def from_repo_url(args: argparse.Namespace, ctx: CliContext) -> str:
    url = getattr(args, "from_repo", None) or ctx.env.get("KAIKYO_FROM_REPOSITORY")
    if not url:
        raise UsageError(
            "no source repository given", "pass --from-repo or set KAIKYO_FROM_REPOSITORY"
        )
    return str(url)


def _from_token(args: argparse.Namespace, ctx: CliContext) -> str | None:
    path = getattr(args, "from_token_file", None)
    if path:
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read token file {path}: {why}") from None
        if not token:
            raise ConfigError(f"token file {path} is empty")
        return token
    return ctx.env.get("KAIKYO_FROM_TOKEN") or None


def from_store_for(args: argparse.Namespace, ctx: CliContext) -> Store:
    """The store of copy's source (read by the command; never written but for its lock)."""
    options = StoreOptions(
        token=_from_token(args, ctx),
        download_limit=getattr(args, "limit_download", None)
        or ctx.env.get("KAIKYO_LIMIT_DOWNLOAD"),
        ca_file=getattr(args, "from_ca_file", None) or ctx.env.get("KAIKYO_FROM_CA_FILE") or None,
        clock=ctx.clock,
        retry_limit=retry_limit(args, ctx),
        retry_watcher=retry_log(ctx),
    )
    return open_store(from_repo_url(args, ctx), options)


def from_password(args: argparse.Namespace, ctx: CliContext) -> str:
    path, command = _file_or_command(args, ctx, "from")
    return _secret(
        path,
        ctx,
        "KAIKYO_FROM_PASSWORD",
        "passphrase of the source repository",
        "pass --from-password-file or --from-password-command, or set KAIKYO_FROM_PASSWORD, "
        "KAIKYO_FROM_PASSWORD_FILE or KAIKYO_FROM_PASSWORD_COMMAND",
        False,
        command,
    )


def _secret(
    path: str | None,
    ctx: CliContext,
    value_env: str,
    what: str,
    hint: str,
    confirm: bool,
    command: str | None = None,
) -> str:
    """A passphrase from a file or a command, an environment variable, or a terminal prompt
    (in that order, as restic)."""
    if command:
        return password_from_command(command, ctx, what)
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"cannot read password file {path}: {exc.strerror}") from None
    if value_env in ctx.env:
        return ctx.env[value_env]
    if not ctx.stdin_is_tty:
        raise UsageError(f"no {what} given", hint)
    first = getpass.getpass(f"enter {what}: ")
    if confirm and getpass.getpass(f"repeat {what}: ") != first:
        raise UsageError("the passphrases do not match")
    return first


def _file_or_command(
    args: argparse.Namespace, ctx: CliContext, prefix: str = ""
) -> tuple[str | None, str | None]:
    """``--password-file`` or ``--password-command``; a flag outranks the other's variable,
    and both (two flags, or two variables) is refused, as restic refuses it. ``prefix``
    ``from``: copy's source (``--from-password-file``, ``KAIKYO_FROM_PASSWORD_FILE``...)."""
    flag = f"--{prefix}-" if prefix else "--"
    env = f"KAIKYO_{prefix.upper()}_" if prefix else "KAIKYO_"
    dest = f"{prefix}_" if prefix else ""
    path = getattr(args, f"{dest}password_file", None)
    command = getattr(args, f"{dest}password_command", None)
    if not path and not command:
        path = ctx.env.get(f"{env}PASSWORD_FILE") or None
        command = ctx.env.get(f"{env}PASSWORD_COMMAND") or None
    if path and command:
        raise UsageError(
            "a password file and a password command are both given",
            f"use one of {flag}password-file / {env}PASSWORD_FILE and "
            f"{flag}password-command / {env}PASSWORD_COMMAND",
        )
    return path, command


def password(args: argparse.Namespace, ctx: CliContext, confirm: bool = False) -> str:
    path, command = _file_or_command(args, ctx)
    return _secret(
        path,
        ctx,
        "KAIKYO_PASSWORD",
        "passphrase",
        "set KAIKYO_PASSWORD, KAIKYO_PASSWORD_FILE or KAIKYO_PASSWORD_COMMAND, or run on a "
        "terminal",
        confirm,
        command,
    )


def new_password(args: argparse.Namespace, ctx: CliContext) -> str:
    """The passphrase for a new key slot (``--new-password-file`` or KAIKYO_NEW_PASSWORD)."""
    path = getattr(args, "new_password_file", None) or ctx.env.get("KAIKYO_NEW_PASSWORD_FILE")
    return _secret(
        path,
        ctx,
        "KAIKYO_NEW_PASSWORD",
        "new passphrase",
        "pass --new-password-file or set KAIKYO_NEW_PASSWORD",
        True,
    )


def cache_dir(ctx: CliContext) -> Path:
    base = ctx.env.get("KAIKYO_CACHE_DIR") or ctx.env.get("XDG_CACHE_HOME")
    if base:
        return Path(base) / ("kaikyo" if "KAIKYO_CACHE_DIR" not in ctx.env else "")
    home = ctx.env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".cache" / "kaikyo"


def hostname() -> str:
    return socket.gethostname()


def username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


MAX_READERS = 64


def _whole_number(text: str) -> int:
    """ASCII digits only (int() also takes "1_0", " 7 " and other scripts' digits); -1 else."""
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else -1


def worker_count(ctx: CliContext, flag: int | None = None) -> int:
    """Readers of a backup (threads of a restore): ``flag`` (``--read-concurrency``, checked
    by :func:`read_concurrency`), else ``KAIKYO_WORKERS``, else the cores, at most 4."""
    if flag is not None:
        return flag
    value = ctx.env.get("KAIKYO_WORKERS")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ConfigError(f"KAIKYO_WORKERS must be a number, not {value!r}") from None
    return max(1, min(os.cpu_count() or 1, 4))


def read_concurrency(text: str) -> int:
    """``--read-concurrency N``: 1 to 64 (argparse's ``type``)."""
    n = _whole_number(text)
    if not 1 <= n <= MAX_READERS:
        raise UsageError(
            f"--read-concurrency {text!r}: a number of readers from 1 to {MAX_READERS} is needed",
            "e.g. --read-concurrency 4",
        )
    return n


# kaikyo.repo.COMPRESSION_MODES, named here without importing the engine (zstd) before the
# key is open (see cli/session.py).
COMPRESSION_MODES = ("auto", "off", "max")
CompressionMode = Literal["auto", "off", "max"]


def compression(args: argparse.Namespace, ctx: CliContext) -> CompressionMode:
    """``--compression``, else ``KAIKYO_COMPRESSION`` (restic's RESTIC_COMPRESSION), else
    ``auto``."""
    flag = getattr(args, "compression", None)
    value = flag or ctx.env.get("KAIKYO_COMPRESSION") or "auto"
    if value not in COMPRESSION_MODES:
        where = "--compression" if flag else "KAIKYO_COMPRESSION"
        message = f"{where} {value!r}: the modes are auto, off and max"
        if flag:
            raise UsageError(message, "auto is the repository's level")
        raise ConfigError(message, "auto is the repository's level")
    return cast(CompressionMode, value)


def pack_size(args: argparse.Namespace, ctx: CliContext) -> int | None:
    """``--pack-size`` or ``KAIKYO_PACK_SIZE`` in MiB, 4 to 128 (restic's bounds), in bytes;
    ``None``: the repository's (16 MiB unless chosen at init)."""
    flag = getattr(args, "pack_size", None)
    value = flag or ctx.env.get("KAIKYO_PACK_SIZE")
    if not value:
        return None
    mib = _whole_number(value)
    if not 4 <= mib <= 128:
        where = "--pack-size" if flag else "KAIKYO_PACK_SIZE"
        message = f"{where} {value!r}: a size in MiB from 4 to 128 is needed"
        if flag:
            raise UsageError(message, "e.g. --pack-size 64")
        raise ConfigError(message, "e.g. KAIKYO_PACK_SIZE=64")
    return mib * 1024 * 1024


def haven_data_dir(args: argparse.Namespace, ctx: CliContext) -> str:
    """The haven's data directory: ``--data`` or ``KAIKYO_HAVEN_DATA``."""
    data = getattr(args, "data", None) or ctx.env.get("KAIKYO_HAVEN_DATA")
    if not data:
        raise UsageError("no haven data directory", "pass --data DIR or set KAIKYO_HAVEN_DATA")
    return str(data)


def armed_crash_point(ctx: CliContext) -> str | None:
    """Tests only: the step at which a haven process kills itself (``KAIKYO_TEST_CRASH_AT``,
    see :mod:`kaikyo.server.crashpoints`)."""
    return ctx.env.get("KAIKYO_TEST_CRASH_AT") or None


def fuse_library(ctx: CliContext) -> str | None:
    """``mount``: the libfuse 3 to use (``FUSE_LIBRARY_PATH``, as mfusepy names it), or None
    for the one the linker finds."""
    return ctx.env.get("FUSE_LIBRARY_PATH") or None
