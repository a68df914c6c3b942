"""Compression by on-disk id, skipping data that does not shrink.

zstd level 3 compresses about as well as restic's and Borg's defaults; a chunk is stored raw
when compression saves less than 1/32 of it, so incompressible data (media, archives,
already-encrypted files) costs one attempt, not a decompression on every restore.
"""

from __future__ import annotations

import zstandard

from kaikyo.core.constants import COMP_NONE, COMP_ZSTD
from kaikyo.errors import IntegrityError, UnsupportedVersionError

DEFAULT_LEVEL = 3
MIN_SIZE_TO_TRY = 64


class Compressor:
    """Not thread-safe: one per thread or process (zstd contexts are reused for speed)."""

    def __init__(self, level: int = DEFAULT_LEVEL) -> None:
        self.level = level
        self._c = zstandard.ZstdCompressor(level=level)
        self._d = zstandard.ZstdDecompressor()

    def compress(self, data: bytes | memoryview) -> tuple[int, bytes | memoryview]:
        """Return (compression id, payload)."""
        n = len(data)
        if n < MIN_SIZE_TO_TRY:
            return COMP_NONE, data
        out = self._c.compress(data)
        if len(out) > n - (n >> 5):
            return COMP_NONE, data
        return COMP_ZSTD, out

    def decompress(self, comp: int, payload: bytes | memoryview, raw_length: int | None) -> bytes:
        if comp == COMP_NONE:
            return bytes(payload)
        if comp == COMP_ZSTD:
            try:
                if raw_length is not None:
                    return self._d.decompress(payload, max_output_size=raw_length)
                return self._d.decompress(payload)
            except zstandard.ZstdError as exc:
                raise IntegrityError(f"compressed data is corrupt: {exc}") from None
        raise UnsupportedVersionError(f"unknown compression id {comp}")
