"""Pure core: bytes in, bytes out. No filesystem, network, environment, threads or clock.

Vocabulary: a *chunk* is a content-defined piece of a file; a *blob* is a chunk or a tree,
named by its keyed hash (blob id) and sealed with the repository key; a *pack* is many sealed
blobs plus a sealed header, named by the SHA-256 of its bytes.

The names below are imported on first use (PEP 562): opening a key must not load the chunker
and the codecs (see :mod:`kaikyo.repo.slots`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaikyo.lazy import exports

if TYPE_CHECKING:
    from kaikyo.core.chunking import ChunkerParams, chunk_lengths, split_stream
    from kaikyo.core.compression import Compressor
    from kaikyo.core.crypto.aead import Cipher
    from kaikyo.core.crypto.keys import (
        MasterKey,
        generate_recovery_key,
        make_key_slot,
        open_key_slot,
        parse_key_slot,
        recovery_secret,
    )
    from kaikyo.core.hashing import BlobHasher
    from kaikyo.core.ids import object_id, parse_hex_id, short

_WHERE = {
    "ChunkerParams": "chunking",
    "chunk_lengths": "chunking",
    "split_stream": "chunking",
    "Compressor": "compression",
    "Cipher": "crypto.aead",
    "MasterKey": "crypto.keys",
    "generate_recovery_key": "crypto.keys",
    "make_key_slot": "crypto.keys",
    "open_key_slot": "crypto.keys",
    "parse_key_slot": "crypto.keys",
    "recovery_secret": "crypto.keys",
    "BlobHasher": "hashing",
    "object_id": "ids",
    "parse_hex_id": "ids",
    "short": "ids",
}


__getattr__ = exports(__name__, _WHERE, globals())

__all__ = [
    "BlobHasher",
    "ChunkerParams",
    "Cipher",
    "Compressor",
    "MasterKey",
    "chunk_lengths",
    "generate_recovery_key",
    "make_key_slot",
    "object_id",
    "open_key_slot",
    "parse_hex_id",
    "parse_key_slot",
    "recovery_secret",
    "short",
    "split_stream",
]
