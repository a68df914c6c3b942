"""The repository config: format version and the algorithm parameters fixed at init."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from kaikyo.core.chunking import ChunkerParams
from kaikyo.core.constants import (
    CIPHER_AES256_GCM,
    IDHASH_BLAKE3_KEYED,
    REPO_VERSION,
    SUPPORTED_REPO_VERSIONS,
)
from kaikyo.errors import IntegrityError, UnsupportedVersionError

DEFAULT_PACK_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RepoConfig:
    repo_id: str
    version: int = REPO_VERSION
    chunker: ChunkerParams = field(default_factory=ChunkerParams)
    compression_level: int = 3
    pack_size: int = DEFAULT_PACK_SIZE
    id_hash: int = IDHASH_BLAKE3_KEYED
    cipher: int = CIPHER_AES256_GCM

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> RepoConfig:
        try:
            doc: dict[str, Any] = json.loads(raw)
            version = int(doc["version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"repository config is malformed: {exc}") from None
        if version not in SUPPORTED_REPO_VERSIONS:
            raise UnsupportedVersionError(
                f"repository format version {version} is not supported by this kaikyo "
                f"(supports {', '.join(map(str, SUPPORTED_REPO_VERSIONS))})"
            )
        try:
            cfg = cls(
                repo_id=str(doc["repo_id"]),
                version=version,
                chunker=ChunkerParams(**doc["chunker"]),
                compression_level=int(doc["compression_level"]),
                pack_size=int(doc["pack_size"]),
                id_hash=int(doc["id_hash"]),
                cipher=int(doc["cipher"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(f"repository config is malformed: {exc}") from None
        cfg.chunker.validate()
        if cfg.id_hash != IDHASH_BLAKE3_KEYED or cfg.cipher != CIPHER_AES256_GCM:
            raise UnsupportedVersionError("repository uses an unknown hash or cipher id")
        return cfg
