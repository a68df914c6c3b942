"""Backup of a stream as one file: standard input, or what a command writes to its standard
output (restic's ``--stdin`` and ``--stdin-from-command``).

The stream is read in the main process and chunked as a big file is
(:func:`kaikyo.snapshot.workers.stream_fd`): at most one buffer of it is held, however long it
is, and the repository's data writer deduplicates, compresses (on two threads), seals and
packs its chunks. A command is run without a shell, reading /dev/null, writing its errors to
kaikyo's standard error; the kernel kills it if kaikyo dies (``PR_SET_PDEATHSIG``), and it is
stopped if the backup fails or is interrupted. Its exit status is looked at once its output
has ended and before anything names what was read: a command that fails leaves no snapshot
(:class:`kaikyo.errors.InputFailedError`), only packs the next backup adopts.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from kaikyo.core.format.tree import NodeType, TreeNode
from kaikyo.errors import InputFailedError, NotFoundError, PermissionDeniedError
from kaikyo.snapshot.fs import group_name, user_name
from kaikyo.snapshot.workers import FileChunker, killed_with_parent, stream_fd

STREAM_MODE = 0o644  # as restic records a file read from standard input
STOP_GRACE = 5.0  # seconds a command has to exit after SIGTERM before it is killed


@dataclass(frozen=True, slots=True)
class StreamSource:
    """Back up one file ``name`` at the snapshot's root, read from ``fd`` (standard input)
    or, if ``command`` is given, from that command's standard output."""

    name: bytes
    fd: int = 0
    command: tuple[str, ...] = ()

    @property
    def path(self) -> bytes:
        """The file's path in the snapshot (restic: ``/stdin``)."""
        return b"/" + self.name


class CommandOutput:
    """A running command whose standard output the backup reads."""

    def __init__(self, argv: tuple[str, ...]) -> None:
        self.shown = shlex.join(argv)
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                # Between fork and exec the child only calls prctl (looked up beforehand)
                # and getppid: no lock another thread of ours could hold is taken there.
                preexec_fn=killed_with_parent(os.getpid()),  # noqa: PLW1509
            )
        except FileNotFoundError:
            raise NotFoundError(
                f"cannot run {argv[0]}: no such command",
                "check the command after '--', which is run without a shell; nothing was saved",
            ) from None
        except PermissionError:
            raise PermissionDeniedError(f"cannot run {argv[0]}: permission denied") from None
        except OSError as exc:
            raise InputFailedError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None

    @property
    def fd(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def check(self) -> None:
        """Wait for the command, whose output has ended; raise if it failed."""
        code = self.proc.wait()
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            raise InputFailedError(f"command {self.shown} was killed by {name}")
        if code:
            raise InputFailedError(f"command {self.shown} exited with status {code}")

    def close(self) -> None:
        """Stop the command if it still runs (the backup failed or was interrupted)."""
        proc = self.proc
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=STOP_GRACE)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()


def _read(
    chunker: FileChunker, fd: int, what: str, on_read: Callable[[int], None] | None
) -> tuple[list[bytes], int]:
    try:
        return stream_fd(chunker, fd, on_read=on_read)
    except OSError as exc:  # the repository's own failures are KaikyoErrors, not OSErrors
        raise InputFailedError(f"cannot read {what}: {exc.strerror or exc}") from None


def read_stream(
    chunker: FileChunker,
    source: StreamSource,
    mtime_ns: int,
    on_read: Callable[[int], None] | None = None,
) -> TreeNode:
    """Read ``source`` to its end through ``chunker``; the file's node (``mtime_ns``: now).
    ``on_read`` hears the bytes as they are saved, a buffer-full at a time."""
    if source.command:
        command = CommandOutput(source.command)
        try:
            ids, size = _read(chunker, command.fd, f"the output of {command.shown}", on_read)
            command.check()
        finally:
            command.close()
    else:
        ids, size = _read(chunker, source.fd, "standard input", on_read)
    uid, gid = os.getuid(), os.getgid()
    node = TreeNode(
        source.name,
        NodeType.FILE,
        STREAM_MODE,
        uid,
        gid,
        user_name(uid),
        group_name(gid),
        mtime_ns,
    )
    node.size = size
    node.content = b"".join(ids)
    return node
