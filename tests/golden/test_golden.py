"""Known-answer tests: a change here breaks every existing repository.

Regenerate only with ``pytest --update-golden`` AND a format version bump (constants.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from blake3 import blake3

from kaikyo.core.chunking import ChunkerParams, chunk_lengths
from kaikyo.core.compression import Compressor
from kaikyo.core.crypto.keys import MasterKey
from kaikyo.core.format.constants import BLOB_DATA, KIND_SNAPSHOT, REPO_VERSION
from kaikyo.core.format.envelope import open_blob, open_object, seal_blob, seal_object
from kaikyo.core.format.pack import build_trailer, header_length, parse_header
from kaikyo.core.format.tree import encode_tree
from kaikyo.core.hashing import BlobHasher
from kaikyo.snapshot.retention import Candidate, Policy, apply_policy

VECTORS = Path(__file__).parent / "vectors" / "v1.json"
KEY = MasterKey.from_secret(bytes(range(64)))


def sample(n: int) -> bytes:
    """Deterministic data with repeats and text, from BLAKE3's extendable output."""
    noise = blake3(b"kaikyo golden").digest(length=n // 2)
    text = (b"The strait between Busan and Fukuoka. " * (n // 76 + 1))[: n - n // 2]
    return noise[: n // 4] + text + noise[n // 4 :]


def compute() -> dict[str, object]:
    data = sample(6 * 1024 * 1024)
    c = Compressor()
    sealed_blob = seal_blob(KEY.cipher(), BLOB_DATA, b"\x11" * 32, *c.compress(b"golden blob"))
    sealed_obj = seal_object(KEY.cipher(), c, KIND_SNAPSHOT, b'{"golden": true}')
    trailer = build_trailer(KEY.cipher(), c, [(0, b"\x22" * 32, 0, 10, 20)])
    stamps = [1_300_000_000 + i * 3 * 3600 for i in range(200)]
    decision = apply_policy(
        [Candidate(f"{i:064x}", t) for i, t in enumerate(stamps)],
        Policy(last=3, daily=5, weekly=3, monthly=2),
    )
    return {
        "repo_version": REPO_VERSION,
        # The first repositories' parameters (still opened), then today's init default.
        "chunks_default": list(
            chunk_lengths(
                data,
                ChunkerParams(min_size=512 * 1024, avg_size=1024 * 1024, max_size=8 * 1024 * 1024),
            )
        ),
        "chunks_init": list(chunk_lengths(data, ChunkerParams())),
        "chunks_small": list(
            chunk_lengths(
                data[:200_000], ChunkerParams(min_size=2048, avg_size=8192, max_size=65536)
            )
        ),
        "blob_id": BlobHasher(KEY.blob_id)(b"golden blob").hex(),
        "subkeys": [KEY.encryption.hex(), KEY.blob_id.hex()],
        "tree": encode_tree(
            [{"name": "日本語.txt", "type": "file", "mode": 420, "size": 3, "content": ["00" * 32]}]
        ).decode(),
        "sealed_blob": sealed_blob.hex(),
        "sealed_object": sealed_obj.hex(),
        "pack_trailer": trailer.hex(),
        "retention_keep": sorted(decision.keep),
    }


def test_golden_vectors(request: pytest.FixtureRequest) -> None:
    now = compute()
    if request.config.getoption("--update-golden") or not VECTORS.exists():
        VECTORS.parent.mkdir(exist_ok=True)
        VECTORS.write_text(json.dumps(now, indent=1, ensure_ascii=False))
    golden = json.loads(VECTORS.read_text())
    for key in (
        "repo_version",
        "chunks_default",
        "chunks_init",
        "chunks_small",
        "blob_id",
        "subkeys",
        "tree",
        "retention_keep",
    ):
        assert now[key] == golden[key], f"{key} changed: this breaks existing repositories"
    c = Compressor()
    # Sealed bytes use random nonces: what must hold is that old bytes still open.
    assert (
        open_blob(
            KEY.cipher(), c, BLOB_DATA, b"\x11" * 32, bytes.fromhex(golden["sealed_blob"]), 11
        )
        == b"golden blob"
    )
    assert (
        open_object(
            KEY.cipher(), c, KIND_SNAPSHOT, bytes.fromhex(golden["sealed_object"]), "snapshot"
        )
        == b'{"golden": true}'
    )
    trailer = bytes.fromhex(golden["pack_trailer"])
    pack = b"\0" * 10 + trailer
    hlen = header_length(pack)
    entries = parse_header(KEY.cipher(), c, pack[-4 - hlen : -4], len(pack), "pack")
    assert [(e.blob_type, e.blob_id, e.offset, e.length, e.raw_length) for e in entries] == [
        (0, b"\x22" * 32, 0, 10, 20)
    ]
