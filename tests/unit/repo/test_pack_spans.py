"""How the repository cuts one pack's needed blobs into bounded reads (restore, repack)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kaikyo.repo import packs
from kaikyo.repo.packs import READ_GAP as GAP
from kaikyo.repo.packs import READ_SPAN as SPAN
from kaikyo.repo.packs import cut_spans as _spans


def test_adjacent_chunks_share_reads_up_to_the_span() -> None:
    size = SPAN // 4
    offs = [i * size for i in range(9)]
    assert list(_spans(offs, [size] * 9)) == [
        (0, 4, 0, SPAN),
        (4, 8, SPAN, 2 * SPAN),
        (8, 9, 2 * SPAN, 2 * SPAN + size),
    ]


def test_a_chunk_wanted_twice_is_read_once() -> None:
    # Rows of one chunk (wanted at several places) share its offset and sit side by side.
    assert list(_spans([0, 0, 0, 100], [100, 100, 100, 50])) == [(0, 4, 0, 150)]


def test_wide_gaps_and_big_chunks_start_reads() -> None:
    offs = [0, 10, 10 + GAP + 11, 20 * SPAN]
    lens = [10, 1, 5, 2 * SPAN]
    assert list(_spans(offs, lens)) == [
        (0, 2, 0, 11),
        (2, 3, 10 + GAP + 11, 10 + GAP + 16),
        (3, 4, 20 * SPAN, 22 * SPAN),
    ]


@given(
    st.lists(st.tuples(st.integers(0, 64), st.integers(1, 40), st.integers(1, 3)), max_size=40),
    st.integers(1, 100),
    st.integers(0, 30),
)
def test_spans_cover_every_row_within_bounds(
    gaps: list[tuple[int, int, int]], span: int, gap: int
) -> None:
    offs: list[int] = []
    lens: list[int] = []
    at = 0
    for skip, length, times in gaps:
        at += skip
        offs += [at] * times
        lens += [length] * times
        at += length
    old = packs.READ_SPAN, packs.READ_GAP
    packs.READ_SPAN, packs.READ_GAP = span, gap
    try:
        cuts = list(_spans(offs, lens))
    finally:
        packs.READ_SPAN, packs.READ_GAP = old
    if not offs:
        assert cuts == []
        return
    assert [i for i, *_ in cuts] == [0, *[j for _, j, *_ in cuts[:-1]]]  # consecutive rows
    assert cuts[-1][1] == len(offs)
    for i, j, lo, hi in cuts:
        ends = dict(
            zip(offs[i:j], (o + n for o, n in zip(offs[i:j], lens[i:j], strict=True)), strict=True)
        )
        assert lo == offs[i] and hi == max(ends.values())
        assert hi - lo <= span or len(ends) == 1  # only a chunk bigger than a span goes over
        starts = sorted(ends)
        assert all(b - ends[a] <= gap for a, b in zip(starts, starts[1:], strict=False))
    assert all(offs[j] - hi > gap or offs[j] + lens[j] - lo > span for (_, j, lo, hi) in cuts[:-1])


@given(
    st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 400), st.integers(1, 2)), max_size=40),
    st.sampled_from([0.0, 0.1, 0.2, 1.0]),
)
def test_with_a_waste_bound_a_read_downloads_at_most_that_share_more(
    gaps: list[tuple[int, int, int]], waste: float
) -> None:
    """A restore onto a tree that is mostly right wants scattered chunks: with ``waste`` no
    read spans more than (1 + waste) times the bytes it wants."""
    offs: list[int] = []
    lens: list[int] = []
    at = 0
    for skip, length, times in gaps:
        at += skip
        offs += [at] * times
        lens += [length] * times
        at += length
    cuts = list(_spans(offs, lens, waste))
    assert sum(j - i for i, j, *_ in cuts) == len(offs)
    for i, j, lo, hi in cuts:
        wanted = sum(dict(zip(offs[i:j], lens[i:j], strict=True)).values())
        assert hi - lo <= (1 + waste) * wanted + 1e-9


def test_without_a_bound_small_gaps_are_read_through() -> None:
    offs, lens = [0, 1000, 2000], [10, 10, 10]
    assert list(_spans(offs, lens)) == [(0, 3, 0, 2010)]
    assert list(_spans(offs, lens, 0.2)) == [(0, 1, 0, 10), (1, 2, 1000, 1010), (2, 3, 2000, 2010)]
