"""Blobs of a repository by id, pack by pack: one ranged read per span, not one per blob.

Copying reads thousands of trees and millions of chunks by id; one read each would cost a
round trip each at a haven (35 ms). Located in the index at once, sorted by pack and offset,
each pack is streamed (:meth:`kaikyo.repo.Repository.stream_pack`). Every blob is checked
against its id before it is handed on: a copy never passes on what does not match.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from kaikyo.core.constants import BLOB_DATA, BLOB_TREE
from kaikyo.core.ids import short
from kaikyo.errors import IntegrityError
from kaikyo.repo import Repository, WantedBlobs

LOCATE_BATCH = 1 << 16  # ids located in the index per call (bounds the temporary columns)

_KIND = {BLOB_DATA: "data blob", BLOB_TREE: "tree"}


def read_blobs(repo: Repository, ids: bytes, blob_type: int) -> Iterator[tuple[bytes, bytes]]:
    """(id, plaintext) of each of ``ids`` (32 bytes each, concatenated, distinct), pack by
    pack in offset order; each of the type expected and matching its id, or IntegrityError,
    which names the repository (``copy`` reads two)."""
    try:
        for lo in range(0, len(ids), 32 * LOCATE_BATCH):
            yield from _read_located(repo, ids[lo : lo + 32 * LOCATE_BATCH], blob_type)
    except IntegrityError as exc:
        if repo.store.url in exc.message:
            raise
        raise IntegrityError(
            f"{repo_name(repo)}: {exc.message}",
            f"see what it affects with 'kaikyo -r {repo.store.url} check --read-data'",
        ) from None


def _read_located(repo: Repository, ids: bytes, blob_type: int) -> Iterator[tuple[bytes, bytes]]:
    loc = repo.index.locate_many(ids)
    if not loc.found.all():
        bid = ids[int(np.flatnonzero(~loc.found)[0]) * 32 :][:32]
        raise IntegrityError(f"{_KIND[blob_type]} {short(bid)} is missing from the index")
    wrong = np.flatnonzero(loc.blob_type != blob_type)
    if len(wrong):
        bid = ids[int(wrong[0]) * 32 :][:32]
        raise IntegrityError(f"blob {short(bid)} is not a {_KIND[blob_type]}")
    order = np.lexsort((loc.offset, loc.pack))
    packs = loc.pack[order]
    cuts = np.flatnonzero(np.diff(packs)) + 1
    hasher = repo.hasher
    for rows in np.split(order, cuts):
        sel = rows.tolist()

        def blob_id(k: int, sel: list[int] = sel) -> bytes:
            return ids[sel[k] * 32 : sel[k] * 32 + 32]

        wanted = WantedBlobs(
            loc.offset[rows].tolist(),
            loc.length[rows].tolist(),
            loc.blob_type[rows].tolist(),
            loc.raw_length[rows].tolist(),
            blob_id,
        )
        pack_id = repo.index.pack_id(int(loc.pack[rows[0]]))
        for k, plain in enumerate(repo.stream_pack(pack_id, wanted)):
            bid = blob_id(k)
            if hasher(plain) != bid:
                raise IntegrityError(f"{_KIND[blob_type]} {short(bid)} does not match its id")
            yield bid, plain


def repo_name(repo: Repository) -> str:
    """How an error names the repository."""
    return f"repository {repo.store.url}"
