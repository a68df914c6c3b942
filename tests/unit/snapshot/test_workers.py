"""A worker's batch: files read into one reusable buffer give the same blobs as whole reads."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaikyo.core.chunking import chunk_lengths
from kaikyo.repo import Repository
from kaikyo.snapshot.workers import (
    READ_BLOCK,
    STREAM_BLOCK,
    FileChunker,
    data_chunker,
    process_batch,
    stream_fd,
)


@pytest.fixture
def saver(repository: Repository) -> Iterator[FileChunker]:
    s = data_chunker(repository, lambda _: None, dry_run=False, max_in_flight=2)
    yield s
    s.writer.finish()
    s.writer.close()


def expected_ids(saver: FileChunker, data: bytes) -> list[bytes]:
    view, pos, ids = memoryview(data), 0, []
    for length in chunk_lengths(view, saver.params):
        ids.append(saver.writer.blob_id(view[pos : pos + length]))
        pos += length
    return ids


def test_many_files_through_one_buffer(saver: FileChunker, tmp_path: Path) -> None:
    rng = random.Random(7)
    sizes = [
        0,
        1,
        100,
        saver.params.min_size,
        saver.params.min_size + 1,
        3 * 1024 * 1024,
        READ_BLOCK,
        READ_BLOCK + 1,
        9 * 1024 * 1024,
    ] + [rng.randint(0, 300_000) for _ in range(60)]
    files, contents = [], []
    for i, size in enumerate(sizes):
        data = rng.randbytes(size) if i % 3 else (b"text %d " % i) * (size // 7 + 1)
        data = data[:size]
        path = tmp_path / f"f{i}"
        path.write_bytes(data)
        files.append((os.fsencode(path), size))
        contents.append(data)
    results = process_batch(saver, files)
    for data, result in zip(contents, results, strict=True):
        assert not isinstance(result, str)
        ids, read = result
        assert read == len(data)
        assert ids == expected_ids(saver, data)


@pytest.mark.parametrize("kind", ["random", "repetitive"])
def test_big_files_stream_to_the_boundaries_of_one_pass(
    saver: FileChunker, tmp_path: Path, kind: str
) -> None:
    """Streamed in blocks of STREAM_BLOCK after an undecided tail of up to the largest chunk
    (repetitive data cuts at the largest chunk), a file is cut where one pass would cut it."""
    need = STREAM_BLOCK + saver.params.max_size
    rng = random.Random(kind)
    files, contents = [], []
    for size in (need - 1, need, need + 1, 3 * need + 12345):
        data = (
            rng.randbytes(size)
            if kind == "random"
            else (b"%d kaikyo " % size * (size // 10 + 1))[:size]
        )
        path = tmp_path / f"{kind}{size}"
        path.write_bytes(data)
        files.append((os.fsencode(path), size))
        contents.append(data)
    assert len(saver.group_view) >= need
    for data, result in zip(contents, process_batch(saver, files), strict=True):
        assert result == (expected_ids(saver, data), len(data))


def test_a_pipe_in_uneven_pieces_is_cut_as_one_pass(saver: FileChunker) -> None:
    """Standard input or a command's output (backup --stdin): reads of whatever a writer
    gave, never the whole stream at once, and the cuts of one pass over it."""
    rng = random.Random(11)
    data = rng.randbytes(3 * (STREAM_BLOCK + saver.params.max_size) + 4321)
    r, w = os.pipe()

    def feed() -> None:
        with open(w, "wb", buffering=0) as fh:
            pos = 0
            while pos < len(data):
                step = rng.choice([1, 4096, 65536 + 3, 700_000])
                pos += fh.write(data[pos : pos + step]) or 0

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        assert stream_fd(saver, r) == (expected_ids(saver, data), len(data))
    finally:
        os.close(r)
        feeder.join()


def test_file_that_grew_or_shrank_since_the_walk(saver: FileChunker, tmp_path: Path) -> None:
    grown = tmp_path / "grown"
    grown.write_bytes(b"g" * 5000)
    shrunk = tmp_path / "shrunk"
    shrunk.write_bytes(b"s" * 100)
    after = tmp_path / "after"
    after.write_bytes(b"a" * 10)
    files = [(os.fsencode(grown), 1000), (os.fsencode(shrunk), 4000), (os.fsencode(after), 10)]
    results = process_batch(saver, files)
    assert results[0] == (expected_ids(saver, b"g" * 5000), 5000)  # all of it, as it is now
    assert results[1] == (expected_ids(saver, b"s" * 100), 100)
    assert results[2] == (expected_ids(saver, b"a" * 10), 10)


def test_unreadable_file_is_reported_and_the_rest_kept(saver: FileChunker, tmp_path: Path) -> None:
    ok = tmp_path / "ok"
    ok.write_bytes(b"fine")
    results = process_batch(saver, [(os.fsencode(tmp_path / "vanished"), 10), (os.fsencode(ok), 4)])
    assert isinstance(results[0], str) and "No such file" in results[0]
    assert results[1] == (expected_ids(saver, b"fine"), 4)


def test_the_caller_gets_a_turn_before_each_file(saver: FileChunker, tmp_path: Path) -> None:
    """The main process reading a batch collects its workers' messages between files."""
    files = []
    for i in range(5):
        path = tmp_path / f"t{i}"
        path.write_bytes(b"x" * (i * 1000))
        files.append((os.fsencode(path), i * 1000))
    turns: list[int] = []
    results = process_batch(saver, files, lambda: turns.append(len(turns)))
    assert turns == [0, 1, 2, 3, 4] and [r[1] for r in results] == [0, 1000, 2000, 3000, 4000]
