"""The meter behind every progress bar and status line: phases, counts, totals, and the
status message scripts read."""

from __future__ import annotations

import threading
import time

from hypothesis import given
from hypothesis import strategies as st

from kaikyo.snapshot.progress import Meter, Reading, status_message


def test_a_phase_starts_its_counts_at_zero_and_keeps_its_totals() -> None:
    m = Meter()
    m.phase("repacking", packs=4, bytes=1000)
    m.add(packs=1, bytes=250)
    r = m.read()
    assert (r.phase, r.done, r.totals) == (
        "repacking",
        {"packs": 1, "bytes": 250},
        {"packs": 4, "bytes": 1000},
    )
    assert r.fraction == 0.25  # the first unit given is the measure
    m.phase("deleting", packs=2)
    assert m.read().done == {"packs": 0} and m.read().totals == {"packs": 2}


def test_counting_units_have_no_total_and_no_percentage() -> None:
    m = Meter()
    m.phase("copying", ("blobs", "bytes"))
    m.add(blobs=3, bytes=10)
    r = m.read()
    assert r.fraction is None and r.seconds_remaining is None
    doc = status_message(r)
    assert doc["blobs_done"] == 3 and "total_blobs" not in doc and "percent_done" not in doc


def test_an_empty_total_is_complete_and_an_overshoot_stops_at_one() -> None:
    m = Meter()
    m.phase("restoring", bytes=0, files=0)
    assert m.read().fraction == 1.0
    m.phase("restoring", bytes=10)
    m.add(bytes=15)  # a count may run past an estimate; the percentage does not
    assert m.read().fraction == 1.0 and m.read().seconds_remaining is None


def test_time_left_follows_the_rate_of_the_phase() -> None:
    r = Reading("reading packs", {"packs": 1}, {"packs": 4}, 100.0, 2.0)
    assert r.seconds_remaining == 6.0  # a quarter in 2 s: three quarters take 6 s more


def test_status_names_the_counts_with_the_word_given() -> None:
    m = Meter()
    m.phase("restoring", bytes=100, files=2)
    m.add(bytes=50, files=1)
    doc = status_message(m.read(), "restored")
    assert doc["message_type"] == "status" and doc["action"] == "restoring"
    assert (doc["bytes_restored"], doc["files_restored"]) == (50, 1)
    assert (doc["total_bytes"], doc["total_files"], doc["percent_done"]) == (100, 2, 0.5)
    assert isinstance(doc["seconds_elapsed"], float) and doc["seconds_elapsed"] >= 0


def test_counts_from_many_threads_are_all_kept() -> None:
    m = Meter()
    m.phase("restoring", bytes=8 * 10_000)

    def work() -> None:
        for _ in range(10_000):
            m.add(bytes=1, files=1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    readings = []
    while any(t.is_alive() for t in threads):
        readings.append(m.read().done.get("bytes", 0))
        time.sleep(0.001)
    for t in threads:
        t.join()
    assert m.read().done == {"bytes": 80_000, "files": 80_000}
    assert readings == sorted(readings)  # a reader never sees a count go back


@given(
    st.dictionaries(st.sampled_from(["packs", "bytes", "files"]), st.integers(0, 10**12)),
    st.dictionaries(st.sampled_from(["packs", "bytes", "files"]), st.integers(0, 10**12)),
    st.floats(0, 1e6),
)
def test_any_reading_gives_a_valid_status(
    done: dict[str, int], totals: dict[str, int], elapsed: float
) -> None:
    doc = status_message(Reading("p", done, totals, elapsed, elapsed))
    fraction = doc.get("percent_done")
    assert fraction is None or 0 <= fraction <= 1  # type: ignore[operator]
    assert doc.get("seconds_remaining", 0) >= 0  # type: ignore[operator]
    assert ("percent_done" in doc) == bool(totals)
