"""How one session writes: its compression and its packs' size, as restic's ``--compression``
and ``--pack-size``.

Neither is recorded in the repository's config: every blob and object records its own
compression id, and a pack's size is only a target (readers take packs of any size), so a
session may choose both and every reader still reads what it wrote. ``auto`` and no pack size
mean what the repository's config says (level 3, 16 MiB for repositories made by ``init``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kaikyo.core.compression import MAX_LEVEL
from kaikyo.repo.config import RepoConfig

Compression = Literal["auto", "off", "max"]
COMPRESSION_MODES: tuple[Compression, ...] = ("auto", "off", "max")

MIB = 1024 * 1024
# restic's bounds for --pack-size: below 4 MiB a repository gets many small objects, above
# 128 MiB a pack is long to build and to retry (and the haven takes bodies up to 256 MiB).
MIN_PACK_SIZE = 4 * MIB
MAX_PACK_SIZE = 128 * MIB


@dataclass(frozen=True, slots=True)
class WriteTuning:
    """``compression``: ``auto`` (the config's level), ``off`` (stored raw) or ``max``
    (:data:`~kaikyo.core.compression.MAX_LEVEL`); ``pack_size``: the packs' target size in
    bytes, ``None`` for the config's. Out-of-range values raise ValueError: the CLI checks
    them first and says what is wrong."""

    compression: Compression = "auto"
    pack_size: int | None = None

    def __post_init__(self) -> None:
        if self.compression not in COMPRESSION_MODES:
            raise ValueError(f"unknown compression mode {self.compression!r}")
        if self.pack_size is not None and not MIN_PACK_SIZE <= self.pack_size <= MAX_PACK_SIZE:
            raise ValueError(f"pack size {self.pack_size} is outside 4..128 MiB")

    def level(self, config: RepoConfig) -> int | None:
        """The zstd level blobs are written at; ``None``: stored uncompressed."""
        if self.compression == "off":
            return None
        if self.compression == "max":
            return MAX_LEVEL
        return config.compression_level

    def target_pack_size(self, config: RepoConfig) -> int:
        return config.pack_size if self.pack_size is None else self.pack_size
