"""Round trips of every codec, property-based (hypothesis), and tamper detection."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaikyo.core.chunking import ChunkerParams, chunk_lengths, split_stream
from kaikyo.core.compression import Compressor
from kaikyo.core.crypto.aead import Cipher
from kaikyo.core.crypto.keys import MasterKey, make_key_slot, open_key_slot
from kaikyo.core.format.constants import BLOB_DATA, BLOB_TREE, COMP_NONE, KIND_INDEX
from kaikyo.core.format.envelope import open_blob, open_object, seal_blob, seal_object
from kaikyo.core.format.index import decode_index, encode_index
from kaikyo.core.format.pack import PackEntry, build_trailer, header_length, parse_header
from kaikyo.core.format.tree import decode_tree, encode_tree, get_bytes, put_bytes
from kaikyo.errors import IntegrityError

KEY = MasterKey.from_secret(bytes(range(64)))
SMALL = ChunkerParams(min_size=256, avg_size=1024, max_size=4096)


@given(st.binary(max_size=5000))
def test_compress_roundtrip(data: bytes) -> None:
    c = Compressor()
    comp, payload = c.compress(data)
    assert c.decompress(comp, payload, len(data)) == data


def test_incompressible_data_is_stored_raw() -> None:
    data = os.urandom(100_000)
    comp, payload = Compressor().compress(data)
    assert comp == COMP_NONE and bytes(payload) == data


@given(st.binary(max_size=3000), st.sampled_from([BLOB_DATA, BLOB_TREE]))
def test_blob_seal_roundtrip(data: bytes, blob_type: int) -> None:
    c = Compressor()
    bid = KEY.blob_id[:16] * 2
    comp, payload = c.compress(data)
    sealed = seal_blob(KEY.cipher(), blob_type, bid, comp, payload)
    assert open_blob(KEY.cipher(), c, blob_type, bid, sealed, len(data)) == data


def test_blob_bound_to_id_and_type() -> None:
    c = Compressor()
    sealed = seal_blob(KEY.cipher(), BLOB_DATA, b"a" * 32, COMP_NONE, b"payload")
    with pytest.raises(IntegrityError):
        open_blob(KEY.cipher(), c, BLOB_DATA, b"b" * 32, sealed, None)
    with pytest.raises(IntegrityError):
        open_blob(KEY.cipher(), c, BLOB_TREE, b"a" * 32, sealed, None)


@given(st.binary(min_size=1, max_size=2000), st.integers(min_value=0))
def test_any_flipped_bit_is_detected(data: bytes, where: int) -> None:
    c = Compressor()
    sealed = bytearray(seal_object(KEY.cipher(), c, KIND_INDEX, data))
    pos = where % len(sealed)
    sealed[pos] ^= 0x01
    with pytest.raises(IntegrityError) if pos else pytest.raises(Exception):
        open_object(KEY.cipher(), c, KIND_INDEX, bytes(sealed), "index")


def test_wrong_key_fails() -> None:
    other = MasterKey.generate()
    sealed = seal_object(KEY.cipher(), Compressor(), KIND_INDEX, b"x" * 100)
    with pytest.raises(IntegrityError):
        open_object(other.cipher(), Compressor(), KIND_INDEX, sealed, "index")


entries = st.lists(
    st.tuples(
        st.sampled_from([0, 1]),
        st.binary(min_size=32, max_size=32),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
    ),
    max_size=20,
)


@given(st.lists(st.tuples(st.binary(min_size=32, max_size=32), entries), max_size=5))
def test_index_roundtrip(packs: list[tuple[bytes, list[tuple[int, bytes, int, int, int]]]]) -> None:
    typed = [(pid, [PackEntry(*e) for e in es]) for pid, es in packs]
    assert decode_index(encode_index(typed)) == typed


@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=10))
def test_pack_header_roundtrip(blobs: list[bytes]) -> None:
    c = Compressor()
    body, table, off = b"", [], 0
    for i, b in enumerate(blobs):
        table.append((BLOB_DATA, bytes([i]) * 32, off, len(b), len(b) + 1))
        body += b
        off += len(b)
    pack = body + build_trailer(KEY.cipher(), c, table)
    hlen = header_length(pack)
    parsed = parse_header(KEY.cipher(), c, pack[-4 - hlen : -4], len(pack), "pack")
    assert [(e.blob_type, e.blob_id, e.offset, e.length, e.raw_length) for e in parsed] == table


names = st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b)


@given(st.lists(names, unique=True, max_size=10))
def test_tree_roundtrip_any_name_bytes(raw_names: list[bytes]) -> None:
    nodes = []
    for n in sorted(raw_names):
        node: dict[str, object] = {"type": "file", "mode": 0o644}
        put_bytes(node, "name", n)
        nodes.append(node)
    back = decode_tree(encode_tree(nodes))
    assert [get_bytes(n, "name") for n in back] == sorted(raw_names)
    assert encode_tree(back) == encode_tree(nodes)  # canonical


@settings(max_examples=40)
@given(st.binary(min_size=0, max_size=40_000), st.integers(1, 9000))
def test_streamed_chunking_equals_one_pass(data: bytes, window: int) -> None:
    expected = list(chunk_lengths(data, SMALL))
    got: list[int] = []
    buf = b""
    pos = 0
    while True:
        block = data[pos : pos + window]
        pos += len(block)
        final = not block
        buf += block
        lengths, consumed = split_stream(memoryview(buf), SMALL, final)
        got += lengths
        buf = buf[consumed:]
        if final:
            break
    assert got == expected
    assert sum(got) == len(data)


def test_key_slot_opens_only_with_its_secret() -> None:
    slot = make_key_slot(KEY, b"correct horse", time_cost=1, memory_kib=64)
    assert open_key_slot(slot, b"correct horse") == KEY
    assert open_key_slot(slot, b"wrong") is None


def test_default_slot_costs_an_attacker_what_rfc9106_asks() -> None:
    """New slots: memory x passes at least RFC 9106's second option (64 MiB x 3), and what a
    slot records is what opens it (a slot made under the old defaults still opens)."""
    import json

    from kaikyo.core.crypto.kdf import DEFAULT_MEMORY_KIB, DEFAULT_TIME_COST

    assert DEFAULT_MEMORY_KIB * DEFAULT_TIME_COST >= 64 * 1024 * 3
    assert DEFAULT_MEMORY_KIB >= 46 * 1024  # OWASP's floor for one pass
    kdf = json.loads(make_key_slot(KEY, b"pw"))["kdf"]
    assert (kdf["memory_kib"], kdf["time_cost"]) == (DEFAULT_MEMORY_KIB, DEFAULT_TIME_COST)
    old = make_key_slot(KEY, b"pw", time_cost=3, memory_kib=64 * 1024)
    assert open_key_slot(old, b"pw") == KEY


def test_cipher_rejects_short_input() -> None:
    with pytest.raises(IntegrityError):
        Cipher(b"k" * 32).open(b"short", b"aad")
