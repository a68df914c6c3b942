from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from kaikyo.core.format.index import encode_index
from kaikyo.core.format.pack import PackEntry
from kaikyo.repo import MasterIndex


def entry(i: int, t: int = 0) -> PackEntry:
    return PackEntry(t, os.urandom(32), i * 10, 10 + i, 20 + i)


def test_lookup_across_loaded_and_added_entries() -> None:
    idx = MasterIndex()
    packs = [(os.urandom(32), [entry(i, i % 2) for i in range(50)]) for _ in range(4)]
    idx.add_index_plain(encode_index(packs))
    extra = entry(7, 1)
    idx.add_pack(b"p" * 32, [extra])
    for pid, es in packs:
        for e in es:
            loc = idx.lookup(e.blob_id)
            assert loc is not None
            assert (loc.pack_id, loc.blob_type, loc.offset, loc.length, loc.raw_length) == (
                pid,
                e.blob_type,
                e.offset,
                e.length,
                e.raw_length,
            )
    assert idx.lookup(extra.blob_id) is not None
    idx.freeze()
    assert idx.lookup(extra.blob_id).pack_id == b"p" * 32  # type: ignore[union-attr]
    assert idx.lookup(os.urandom(32)) is None
    assert len(idx) == 201
    assert idx.nbytes() == 48 * 201


@given(
    st.lists(st.binary(min_size=32, max_size=32), unique=True, max_size=60),
    st.lists(st.binary(min_size=32, max_size=32), max_size=20),
)
def test_contains_many_agrees_with_contains(stored: list[bytes], probes: list[bytes]) -> None:
    idx = MasterIndex()
    idx.add_pack(b"x" * 32, [PackEntry(0, b, 0, 1, 1) for b in stored[: len(stored) // 2]])
    idx.freeze()
    idx.add_pack(b"y" * 32, [PackEntry(0, b, 0, 1, 1) for b in stored[len(stored) // 2 :]])
    queries = probes + stored
    assert idx.contains_many(queries) == [q in idx for q in queries]
    assert all(idx.contains_many(stored))


def test_ids_sharing_a_prefix_are_told_apart() -> None:
    idx = MasterIndex()
    a = b"\x01" * 8 + b"\x00" * 24
    b = b"\x01" * 8 + b"\x00" * 23 + b"\x01"
    idx.add_pack(b"p" * 32, [PackEntry(0, a, 1, 2, 3)])
    idx.freeze()
    assert a in idx and b not in idx
    idx.add_pack(b"q" * 32, [PackEntry(1, b, 4, 5, 6)])
    idx.freeze()
    assert idx.lookup(b).offset == 4  # type: ignore[union-attr]
    assert idx.lookup(a).offset == 1  # type: ignore[union-attr]


def test_entries_roundtrip_by_pack() -> None:
    idx = MasterIndex()
    es = [entry(i) for i in range(5)]
    idx.add_pack(b"z" * 32, es)
    assert sorted(idx.by_pack()[b"z" * 32], key=lambda e: e.offset) == es


@given(
    st.lists(st.binary(min_size=32, max_size=32), unique=True, max_size=60),
    st.lists(st.binary(min_size=32, max_size=32), max_size=20),
)
def test_locate_many_agrees_with_lookup(stored: list[bytes], probes: list[bytes]) -> None:
    idx = MasterIndex()
    half = len(stored) // 2
    idx.add_pack(
        b"x" * 32, [PackEntry(i % 2, b, 10 * i, i + 1, i + 2) for i, b in enumerate(stored[:half])]
    )
    idx.freeze()
    idx.add_pack(
        b"y" * 32, [PackEntry(1, b, 7 * i, i + 3, i + 4) for i, b in enumerate(stored[half:])]
    )  # left in the delta
    queries = probes + stored + stored[:3]
    loc = idx.locate_many(b"".join(queries))
    for k, q in enumerate(queries):
        want = idx.lookup(q)
        assert bool(loc.found[k]) == (want is not None)
        if want is not None:
            got = (
                idx.pack_id(int(loc.pack[k])),
                int(loc.blob_type[k]),
                int(loc.offset[k]),
                int(loc.length[k]),
                int(loc.raw_length[k]),
            )
            assert got == (want.pack_id, want.blob_type, want.offset, want.length, want.raw_length)


def test_locate_many_tells_apart_ids_sharing_a_prefix() -> None:
    idx = MasterIndex()
    prefix = b"\x07" * 8
    ids = [prefix + bytes([i]) * 24 for i in range(5)]
    idx.add_pack(b"p" * 32, [PackEntry(0, b, 100 * i, 10, 20) for i, b in enumerate(ids)])
    idx.freeze()
    loc = idx.locate_many(b"".join(reversed(ids)) + prefix + b"\xff" * 24)
    assert loc.found.tolist() == [True] * 5 + [False]
    assert loc.offset.tolist() == [400, 300, 200, 100, 0, 0]
    assert len(idx.locate_many(b"").found) == 0
