"""Rich progress for people; silent for --json and when stderr is not a terminal."""

from __future__ import annotations

import json
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from kaikyo.cli.context import CliContext
from kaikyo.cli.output import emit_json, err_console, human_bytes
from kaikyo.snapshot.progress import Meter, Reading, status_message

if TYPE_CHECKING:
    from kaikyo.snapshot.scan import Scanner


class BackupMeter:
    """A backup's progress in numbers: every file and every byte done (the walk reports each
    file once, cached or read), and, from the scan beside it, the totals, so a percentage
    and the time left. Shared by the bar for people and the status lines for scripts."""

    def __init__(self, scanner: Scanner | None = None) -> None:
        self.scanner = scanner
        self.files = 0
        self.bytes = 0
        self.reading = 0  # of the stream being read, not yet done
        self.started = time.monotonic()

    def file_done(self, size: int) -> None:
        self.files += 1
        self.bytes += size
        self.reading = 0

    def bytes_read(self, n: int) -> None:
        self.reading += n

    @property
    def bytes_done(self) -> int:
        return self.bytes + self.reading

    def totals(self) -> tuple[int | None, int | None]:
        """(files, bytes) the scan found, once it has finished; else (None, None)."""
        scan = self.scanner
        if scan is None or not scan.finished.is_set():
            return None, None
        return scan.files, scan.bytes

    def status(self) -> dict[str, object]:
        """restic's ``status`` message."""
        elapsed = time.monotonic() - self.started
        total_files, total_bytes = self.totals()
        doc: dict[str, object] = {
            "message_type": "status",
            "seconds_elapsed": round(elapsed, 3),
            "files_done": self.files,
            "bytes_done": self.bytes_done,
        }
        if total_files is not None and total_bytes is not None:
            done = min(1.0, self.bytes_done / total_bytes) if total_bytes else 1.0
            doc.update(total_files=total_files, total_bytes=total_bytes, percent_done=done)
            if 0 < done < 1:
                doc["seconds_remaining"] = round(elapsed * (1 - done) / done, 1)
        return doc


class BackupBar:
    """The bar people see on a terminal: bytes done of the total the scan found (a pulse
    until it has), rate, files, time elapsed and left."""

    def __init__(self, ctx: CliContext, enabled: bool, meter: BackupMeter) -> None:
        self.enabled = enabled and ctx.interactive
        self.meter = meter
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self._shown = 0.0
        if self.enabled:
            self.progress = Progress(
                TextColumn("[bold]backup"),
                BarColumn(),
                TaskProgressColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("{task.fields[files]} files"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
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
        self.refresh()

    def refresh(self) -> None:
        """Show the meter's counts, at most 10 times a second."""
        if self.progress is None or self.task is None:
            return
        now = time.monotonic()
        if now - self._shown < 0.1:  # the counts are the meter's; the screen, 10 times a second
            return
        self._shown = now
        meter = self.meter
        self.progress.update(
            self.task, completed=meter.bytes_done, total=meter.totals()[1], files=meter.files
        )

    def error(self, path: bytes, message: str) -> None:
        pass


class StatusLines(threading.Thread):
    """With ``--json``: restic's ``status`` message on stdout once a second while the
    backup runs, and once more at its end (so a script always sees one)."""

    def __init__(self, ctx: CliContext, meter: BackupMeter, lock: threading.Lock) -> None:
        super().__init__(name="kaikyo-status", daemon=True)
        self.ctx, self.meter, self.lock = ctx, meter, lock
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(1.0):
            self._emit()

    def _emit(self) -> None:
        line = json.dumps(self.meter.status()) + "\n"
        with self.lock:
            self.ctx.stdout.write(line)
            self.ctx.stdout.flush()

    def finish(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join()
        self._emit()


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


class MeterView:
    """Shows a :class:`~kaikyo.snapshot.progress.Meter` while a command works: on a terminal
    a bar (the phase, its measure done of its total, the other counts, time elapsed and
    left), redrawn ten times a second; with ``--json`` restic's ``status`` message on stdout
    once a second and once more at the end, so a script always sees one. Neither otherwise.

    ``words`` name the counts in the status lines, by phase: ``files_restored`` while a
    restore writes (restic's name), ``files_verified`` while it verifies; ``packs_done``
    in a phase not named there."""

    def __init__(
        self, ctx: CliContext, meter: Meter, as_json: bool, words: dict[str, str] | None = None
    ) -> None:
        self.ctx, self.meter, self.as_json = ctx, meter, as_json
        self.words = words or {}
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        if not as_json and ctx.interactive:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=err_console(ctx),
                transient=True,
            )

    def __enter__(self) -> MeterView:
        if self.progress is not None:
            self.progress.start()
        if self.progress is not None or self.as_json:
            self._thread = threading.Thread(target=self._run, name="kaikyo-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        if self.progress is not None:
            self.progress.stop()
        if self.as_json and t is None:
            self._emit()

    def _run(self) -> None:
        tick = 1.0 if self.as_json else 0.1
        while not self._halt.wait(tick):
            if self.as_json:
                self._emit()
            else:
                self._draw(self.meter.read())

    def _emit(self) -> None:
        reading = self.meter.read()
        emit_json(self.ctx, status_message(reading, self.words.get(reading.phase, "done")))

    def _draw(self, r: Reading) -> None:
        progress = self.progress
        if progress is None or not r.phase:
            return
        task = self._tasks.get(r.phase)
        if task is None:
            for old in self._tasks.values():  # one line: the phase now under way
                progress.update(old, visible=False)
            task = self._tasks[r.phase] = progress.add_task(r.phase, total=None, counts="")
        measure = next(iter(r.totals), None)
        progress.update(
            task,
            completed=r.done.get(measure, 0) if measure else 0,
            total=r.totals.get(measure) if measure else None,
            counts=counts_text(r),
        )


def counts_text(r: Reading) -> str:
    """``3/10 packs, 12.0 MiB/40.0 MiB``: each count of the reading, of its total if known."""
    parts = []
    for unit, n in r.done.items():
        total = r.totals.get(unit)
        if unit == "bytes":
            parts.append(human_bytes(n) + (f"/{human_bytes(total)}" if total is not None else ""))
        else:
            parts.append(f"{n}/{total} {unit}" if total is not None else f"{n} {unit}")
    return ", ".join(parts)
