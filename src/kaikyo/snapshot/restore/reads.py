"""How restore reads a pack: the chunks it needs from one pack cut into bounded ranged reads
(:func:`_spans`), and the reads themselves (:func:`read_spans`, the one place restore reads
file data from the repository; meant to give way to a repository method ``stream_pack``).

A thread holds one span and one chunk at a time, so ``SPAN`` bounds its memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kaikyo.repo import Repository

# One ranged read covers the needed chunks of a pack within this many bytes (a bigger chunk is
# read alone); a gap wider than ``GAP`` between needed chunks starts a new read.
SPAN = 4 * 1024 * 1024
GAP = 512 * 1024

# (first row, end row, first byte, end byte) of one read, rows by offset in the pack.
Span = tuple[int, int, int, int]


def _spans(offs: list[int], lens: list[int]) -> Iterator[Span]:
    """Cut one pack's rows (by offset; a chunk wanted in several places has adjacent rows
    with one offset) into reads: (first row, end row, first byte, end byte). A read spans at
    most ``SPAN`` bytes unless one chunk is bigger, and skips gaps wider than ``GAP``."""
    m = len(offs)
    i = 0
    while i < m:
        lo = offs[i]
        hi = lo + lens[i]
        j = i + 1
        while j < m:
            o = offs[j]
            if o >= hi:  # the next chunk
                if o + lens[j] - lo > SPAN or o - hi > GAP:
                    break
                hi = o + lens[j]
            j += 1
        yield i, j, lo, hi
        i = j


def read_spans(
    repo: Repository, pack_id: bytes, spans: Iterable[Span]
) -> Iterator[tuple[Span, memoryview]]:
    """Each span with its bytes of the pack, in order: one ranged read per span, made only
    when the caller asks for the span (so ``spans`` may stop early)."""
    for span in spans:
        yield span, memoryview(repo.read_pack(pack_id, span[2], span[3] - span[2]))
