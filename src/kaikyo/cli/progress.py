"""Rich progress for people; silent for --json and when stderr is not a terminal."""

from __future__ import annotations

from types import TracebackType

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from kaikyo.cli.context import CliContext
from kaikyo.cli.output import err_console


class BackupBar:
    def __init__(self, ctx: CliContext, enabled: bool) -> None:
        self.enabled = enabled and ctx.interactive
        self.files = 0
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        if self.enabled:
            self.progress = Progress(
                TextColumn("[bold]backup"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("{task.fields[files]} files"),
                TimeElapsedColumn(),
                console=err_console(ctx),
                transient=True,
            )

    def __enter__(self) -> BackupBar:
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task("backup", total=None, files=0)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.progress is not None:
            self.progress.stop()

    def file_done(self, path: bytes, size: int, status: str) -> None:
        self.files += 1
        if (
            self.progress is not None
            and self.task is not None
            and (self.files % 64 == 0 or size > 1 << 20)
        ):
            self.progress.update(
                self.task,
                advance=0,
                files=self.files,
                completed=(self.progress.tasks[0].completed + size),
            )

    def error(self, path: bytes, message: str) -> None:
        pass


class Status:
    """A spinner with a line of text, for steps whose total is not known in advance."""

    def __init__(self, ctx: CliContext, text: str, enabled: bool) -> None:
        self._status = err_console(ctx).status(text) if enabled and ctx.interactive else None

    def __enter__(self) -> Status:
        if self._status is not None:
            self._status.start()
        return self

    def update(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._status is not None:
            self._status.stop()
