"""The fast tree encoder writes exactly the canonical (reference) bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaikyo.core.format.tree import decode_tree, encode_tree, reference_encode
from kaikyo.errors import IntegrityError

# Text as put_bytes makes it: any code point but lone surrogates (names are valid UTF-8 or
# base64), including controls, quotes, backslashes, U+2028, DEL, Japanese, Korean, emoji.
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
scalars = st.one_of(text, ints, st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)
nodes = st.lists(st.dictionaries(text, values, max_size=8), max_size=6)


@settings(max_examples=300)
@given(nodes)
def test_encoding_equals_the_reference(ns: list[dict[str, Any]]) -> None:
    raw = encode_tree(ns)
    assert raw == reference_encode({"nodes": ns})
    assert decode_tree(raw) == ns


def test_integers_beyond_64_bits_fall_back_to_the_reference() -> None:
    ns = [{"name": "huge", "inode": 2**70, "mtime": -(2**65)}]
    raw = encode_tree(ns)
    assert raw == reference_encode({"nodes": ns})
    assert decode_tree(raw) == ns


@pytest.mark.parametrize("raw", [b"", b"[]", b'{"nodes": 3}', b"{nodes}", b"\xff\xfe"])
def test_malformed_trees_raise_integrity_error(raw: bytes) -> None:
    with pytest.raises(IntegrityError):
        decode_tree(raw)
