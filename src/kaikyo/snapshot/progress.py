"""How far a long command has come: the counts its threads add, read by whoever shows them.

restore, check, prune and copy each move through phases (a restore compares, then writes; a
prune finds the data in use, repacks, deletes). A :class:`Meter` holds the current phase,
what was done in it and, once known, how much there is, so a bar for people and restic's
``status`` lines for scripts show the same numbers. The engine only counts; it never prints.

Counts are added by worker threads and read by a display thread, so every access holds a
lock: a count is a handful of additions per pack or per file, never per byte.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reading:
    """One consistent look at a meter."""

    phase: str
    done: dict[str, int]  # unit -> count in this phase ("files", "bytes", "packs", ...)
    totals: dict[str, int]  # unit -> how many there are, for the units whose total is known
    seconds_elapsed: float  # since the meter started (the command, not the phase)
    phase_elapsed: float

    @property
    def fraction(self) -> float | None:
        """Of the phase's first unit with a total (its measure): done / total, in [0, 1]."""
        for unit, total in self.totals.items():
            return min(1.0, self.done.get(unit, 0) / total) if total else 1.0
        return None

    @property
    def seconds_remaining(self) -> float | None:
        """At the phase's rate so far; unknown before anything was done or once all is."""
        done = self.fraction
        if done is None or not 0 < done < 1:
            return None
        return self.phase_elapsed * (1 - done) / done


class Meter:
    """Phase, counts and totals of one command (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self._phase = ""
        self._phase_started = self.started
        self._done: dict[str, int] = {}
        self._totals: dict[str, int] = {}

    def phase(self, name: str, counting: tuple[str, ...] = (), **totals: int) -> None:
        """Start phase ``name``: its counts begin at 0; ``totals`` are what it will do, by
        unit, the first unit being the one its percentage measures; ``counting`` names
        units it counts whose total is not known."""
        with self._lock:
            self._phase = name
            self._phase_started = time.monotonic()
            self._done = dict.fromkeys((*totals, *counting), 0)
            self._totals = dict(totals)

    def add(self, **counts: int) -> None:
        """Count what was just done, by unit."""
        with self._lock:
            for unit, n in counts.items():
                self._done[unit] = self._done.get(unit, 0) + n

    def total(self, **totals: int) -> None:
        """Totals learnt during a phase (a unit given here for the first time comes after
        the phase's own as measure)."""
        with self._lock:
            self._totals.update(totals)

    def read(self) -> Reading:
        now = time.monotonic()
        with self._lock:
            return Reading(
                self._phase,
                dict(self._done),
                dict(self._totals),
                now - self.started,
                now - self._phase_started,
            )


def status_message(reading: Reading, word: str = "done") -> dict[str, object]:
    """restic's ``status`` message of a reading: ``action`` the phase, ``UNIT_WORD`` the
    counts (a restore says ``files_restored``, as restic does; the others ``packs_done``),
    ``total_UNIT`` the totals, ``percent_done`` (0 to 1) and ``seconds_remaining`` once the
    phase has a measure."""
    doc: dict[str, object] = {
        "message_type": "status",
        "action": reading.phase,
        "seconds_elapsed": round(reading.seconds_elapsed, 3),
    }
    for unit, n in reading.done.items():
        doc[f"{unit}_{word}"] = n
    for unit, n in reading.totals.items():
        doc[f"total_{unit}"] = n
    fraction = reading.fraction
    if fraction is not None:
        doc["percent_done"] = round(fraction, 4)
        left = reading.seconds_remaining
        if left is not None:
            doc["seconds_remaining"] = round(left, 1)
    return doc
