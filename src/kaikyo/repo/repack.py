"""Repacking: copy the blobs still wanted from packs that are mostly unused into new packs.

The mechanics of ``prune`` (which packs to repack is its policy, in
:mod:`kaikyo.snapshot.prune`). Sealed bytes are copied as they are, after their authenticity
is checked, so a damaged blob is never copied and nothing is sealed twice; trees and data go
to new packs of their own, as a writer keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kaikyo.core.constants import BLOB_TREE
from kaikyo.core.format.pack import PackEntry
from kaikyo.repo.packer import PackWriter, RawPack, Uploader
from kaikyo.repo.packs import PackReader


def repack_blobs(
    repo: PackReader,
    keep: Mapping[bytes, Sequence[PackEntry]],
    on_pack: Callable[[int], None] | None = None,
) -> list[RawPack]:
    """Copy ``keep`` (pack id -> its entries to keep) into new packs; return them once every
    one is durable in the store (not yet indexed: the caller indexes them). ``on_pack`` is
    told, after each old pack, the bytes of its blobs that were copied (for progress)."""
    new_packs: list[RawPack] = []
    uploader = Uploader(repo.store)
    size = repo.config.pack_size
    trees = PackWriter(repo.cipher, repo.compressor, size, uploader, new_packs.append)
    data = PackWriter(repo.cipher, repo.compressor, size, uploader, new_packs.append)
    try:
        for pid, entries in keep.items():
            for e, sealed in repo.stream_sealed(pid, sorted(entries, key=lambda e: e.offset)):
                writer = trees if e.blob_type == BLOB_TREE else data
                writer.add(e.blob_type, e.blob_id, sealed, e.raw_length)
            if on_pack is not None:
                on_pack(sum(e.length for e in entries))
        trees.flush()
        data.flush()
        uploader.wait()
    finally:
        trees.discard()
        data.discard()
        uploader.close()
    return new_packs
