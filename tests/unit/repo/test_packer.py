"""Packs are built in spool files: named by their hash, parseable, and never left behind."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kaikyo.core.compression import Compressor
from kaikyo.core.crypto.keys import MasterKey
from kaikyo.core.format.pack import header_length, parse_header
from kaikyo.repo.packer import (
    SPOOL_PREFIX,
    FinishedPack,
    PackWriter,
    Spool,
    Uploader,
    clean_stale_spools,
    finished_pack,
    remove_spools_of,
)
from kaikyo.store.local import LocalStore
from kaikyo.store.memory import MemoryStore

KEY = MasterKey.from_secret(bytes(range(64)))


def _write_packs(
    store: LocalStore | MemoryStore, blobs: list[bytes], target: int
) -> list[FinishedPack]:
    done: list[FinishedPack] = []
    uploader = Uploader(store, 2)
    writer = PackWriter(
        KEY.cipher(), Compressor(), target, uploader, lambda raw: done.append(finished_pack(raw))
    )
    for i, blob in enumerate(blobs):
        writer.add(0, hashlib.sha256(blob).digest(), blob, len(blob) + i)
    writer.flush()
    uploader.wait()
    uploader.close()
    return done


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_packs_are_named_by_hash_and_parse(tmp_path: Path, kind: str) -> None:
    store = LocalStore(tmp_path / "repo", create=True) if kind == "local" else MemoryStore()
    blobs = [os.urandom(n) for n in (1, 100, 70_000, 300_000, 5, 1_200_000, 17)]
    done = _write_packs(store, blobs, target=400_000)
    assert len(done) == 2  # the target size cut after the 1.2 MB blob
    seen = []
    for pack_id, entries in done:
        h = pack_id.hex()
        data = store.get(f"data/{h[:2]}/{h}")
        assert hashlib.sha256(data).digest() == pack_id
        hlen = header_length(data)
        parsed = parse_header(KEY.cipher(), Compressor(), data[-4 - hlen : -4], len(data), "p")
        assert parsed == entries
        for e in entries:
            seen.append(data[e.offset : e.offset + e.length])
    assert sorted(seen) == sorted(blobs)  # uploads finish in any order
    spool = Uploader(store).spool_dir
    assert not [
        n for n in os.listdir(spool) if n.startswith(f"{SPOOL_PREFIX}") and f"-{os.getpid()}-" in n
    ]


def test_local_store_links_the_spool_without_copy(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "repo", create=True)
    assert Uploader(store).spool_dir == str(tmp_path / "repo" / ".tmp")
    _write_packs(store, [b"x" * 1000], target=1 << 20)
    assert os.listdir(tmp_path / "repo" / ".tmp") == []


def test_discard_removes_an_unfinished_pack(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "repo", create=True)
    uploader = Uploader(store)
    writer = PackWriter(KEY.cipher(), Compressor(), 16 << 20, uploader, lambda _: None)
    writer.add(0, b"\x01" * 32, b"sealed bytes" * 200_000, 10)  # written through to disk
    writer.add(0, b"\x02" * 32, b"more", 4)
    assert len(os.listdir(tmp_path / "repo" / ".tmp")) == 1
    writer.discard()
    uploader.close()
    assert os.listdir(tmp_path / "repo" / ".tmp") == []
    assert list(store.list("data/")) == []


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_spools_of_dead_processes_on_this_host_are_cleaned(tmp_path: Path) -> None:
    live = Spool(str(tmp_path))  # ours: alive
    dead_pid = _dead_pid()
    dead_name = Path(live.path).name.replace(f"-{os.getpid()}-", f"-{dead_pid}-")
    (tmp_path / dead_name).write_bytes(b"left by kill -9")
    foreign_young = tmp_path / f"{SPOOL_PREFIX}0badc0de-1-aa.tmp"
    foreign_old = tmp_path / f"{SPOOL_PREFIX}0badc0de-2-bb.tmp"
    foreign_young.write_bytes(b"another host's, in use")
    foreign_old.write_bytes(b"another host's, abandoned")
    os.utime(foreign_old, (1, 1))
    unrelated = tmp_path / "not-a-spool.tmp"
    unrelated.write_bytes(b"")
    assert clean_stale_spools(str(tmp_path)) == 2
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([Path(live.path).name, foreign_young.name, unrelated.name])
    assert remove_spools_of(str(tmp_path), [os.getpid()]) == 1
    live.discard()


def test_a_writer_start_removes_day_old_temporary_files_of_the_local_store(tmp_path: Path) -> None:
    """A put killed between its temporary file and the link leaves ``<hex>.tmp`` behind: the
    next writer removes it once it is a day old, and leaves younger ones to their writers."""
    LocalStore(tmp_path / "repo", create=True)
    tmp = tmp_path / "repo" / ".tmp"
    old, young = tmp / "0123abcd.tmp", tmp / "4567ef01.tmp"
    old.write_bytes(b"half an object")
    young.write_bytes(b"being written")
    os.utime(old, (1, 1))
    Uploader(LocalStore(tmp_path / "repo")).close()
    assert sorted(p.name for p in tmp.iterdir()) == [young.name]
