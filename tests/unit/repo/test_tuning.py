"""A session's write tuning (restic's --compression, --pack-size): what the blobs record, how
big the packs get, and that every reader reads them whatever the setting was."""

from __future__ import annotations

import os
import random

import pytest

from kaikyo.core.compression import MAX_LEVEL, Compressor
from kaikyo.core.constants import BLOB_DATA, COMP_NONE, COMP_ZSTD
from kaikyo.core.format.envelope import blob_aad
from kaikyo.repo import MIN_PACK_SIZE, Repository, WriteTuning

MIB = 1024 * 1024


def _text(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.choice(b"abcdefgh \n") for _ in range(n))


def _store(repo: Repository, blobs: list[bytes]) -> list[bytes]:
    """Store ``blobs`` as data through a write session; their ids, indexed."""
    session = repo.writer()
    writer = repo.blob_writer(BLOB_DATA, session.pack_done)
    try:
        ids = [writer.save(b) for b in blobs]
        writer.finish()
        session.flush()
    finally:
        writer.close()
        session.close()
    return ids


def _comp_id(repo: Repository, blob_id: bytes) -> int:
    loc = repo.blob_location(blob_id)
    sealed = repo.read_pack(loc.pack_id, loc.offset, loc.length)
    return repo.cipher.open(sealed, blob_aad(loc.blob_type, blob_id), "blob")[0]


@pytest.mark.parametrize(
    ("mode", "comp"), [("auto", COMP_ZSTD), ("off", COMP_NONE), ("max", COMP_ZSTD)]
)
def test_each_mode_records_its_compression_and_reads_back(
    repository: Repository, mode: str, comp: int
) -> None:
    repository.tune(WriteTuning(mode))
    data = _text(200_000, 1)
    [bid] = _store(repository, [data])
    assert _comp_id(repository, bid) == comp
    repository.tune(WriteTuning())  # the reader's own setting does not matter
    assert repository.load_blob(bid) == data
    stored = repository.blob_location(bid).length
    if mode == "off":
        assert stored > len(data)
    else:
        assert stored < len(data) // 2


def test_max_stores_smaller_than_auto(repository: Repository) -> None:
    data = _text(300_000, 2)
    sizes = {}
    for mode in ("auto", "max"):
        repository.tune(WriteTuning(mode))
        # A different blob per mode (one byte apart), or the second would be deduplicated.
        [bid] = _store(repository, [data + mode.encode()])
        sizes[mode] = repository.blob_location(bid).length
    assert sizes["max"] < sizes["auto"]


def test_the_pack_size_is_the_sessions_target(repository: Repository) -> None:
    repository.tune(WriteTuning("off", pack_size=MIN_PACK_SIZE))
    blobs = [os.urandom(512 * 1024) for _ in range(20)]  # 10 MiB, incompressible
    ids = _store(repository, blobs)
    packs = {repository.blob_location(b).pack_id for b in ids}
    assert len(packs) == 3  # 4 MiB + 4 MiB + the rest; the config's 16 MiB would be one
    sizes = [info.size for info in repository.list_packs().values()]
    assert max(sizes) < MIN_PACK_SIZE + 600 * 1024
    assert [repository.load_blob(b) for b in ids] == blobs


def test_off_also_leaves_the_repositorys_own_objects_uncompressed(
    repository: Repository,
) -> None:
    assert repository.compressor.level == repository.config.compression_level
    repository.tune(WriteTuning("off"))
    assert repository.compressor.level is None
    repository.tune(WriteTuning("max"))
    assert repository.compressor.level == MAX_LEVEL


@pytest.mark.parametrize("size", [MIN_PACK_SIZE - 1, 128 * MIB + 1, 0])
def test_a_pack_size_out_of_bounds_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="outside 4..128 MiB"):
        WriteTuning(pack_size=size)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown compression mode"):
        WriteTuning("fastest")


def test_a_compressor_without_a_level_stores_raw_and_still_reads_zstd() -> None:
    data = _text(10_000, 3)
    comp, payload = Compressor(None).compress(data)
    assert comp == COMP_NONE and bytes(payload) == data
    zcomp, zpayload = Compressor().compress(data)
    assert zcomp == COMP_ZSTD
    assert Compressor(None).decompress(zcomp, zpayload, len(data)) == data
