"""A file updated in place gets only the 4 KiB blocks that differ written (restore onto an
existing tree): the bytes end right, and what did not change is not written."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kaikyo.snapshot.restore.writer import SPARSE_BLOCK, pwrite_changed

B = SPARSE_BLOCK


def _run(path: Path, old: bytes, new: bytes, offset: int) -> tuple[bytes, int]:
    path.write_bytes(old)
    fd = os.open(path, os.O_RDWR)
    try:
        written = pwrite_changed(fd, new, offset)
    finally:
        os.close(fd)
    return path.read_bytes(), written


def test_an_unchanged_chunk_writes_nothing(tmp_path: Path) -> None:
    data = os.urandom(5 * B + 17)
    assert _run(tmp_path / "f", data, data, 0) == (data, 0)


def test_one_changed_byte_writes_one_block(tmp_path: Path) -> None:
    old = os.urandom(8 * B)
    new = bytearray(old)
    new[3 * B + 5] ^= 0xFF
    after, written = _run(tmp_path / "f", old, bytes(new), 0)
    assert after == new and written == B


def test_a_file_shorter_than_the_chunk_gets_the_rest(tmp_path: Path) -> None:
    new = os.urandom(3 * B + 100)
    after, written = _run(tmp_path / "f", new[: B + 10], new, 0)
    assert after == new and written == len(new) - B  # the first block was right


@settings(max_examples=60, deadline=None)
@given(
    st.binary(max_size=5 * B),
    st.binary(min_size=1, max_size=5 * B),
    st.integers(0, 3 * B),
    st.data(),
)
def test_the_region_ends_as_the_chunk(
    tmp_path_factory: object, old: bytes, new: bytes, offset: int, data: st.DataObject
) -> None:
    path = tmp_path_factory.mktemp("pw") / "f"  # type: ignore[attr-defined]
    if data.draw(st.booleans()) and len(old) >= offset + len(new):  # mostly the same bytes
        new = old[offset : offset + len(new)]
        flip = data.draw(st.integers(0, len(new) - 1))
        new = new[:flip] + bytes([new[flip] ^ 1]) + new[flip + 1 :]
    after, written = _run(path, old, new, offset)
    assert after[offset : offset + len(new)] == new
    assert after[:offset] == old[:offset].ljust(offset, b"\0")[: len(after[:offset])]
    assert written <= len(new)
