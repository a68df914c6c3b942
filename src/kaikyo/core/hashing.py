"""Blob ids: keyed BLAKE3 of the plaintext.

Keyed, so a store (or anyone holding the repository but not its key) cannot confirm that a
guessed file is in it. The key is a subkey of the master key used for nothing else.
"""

from __future__ import annotations

from blake3 import blake3


class BlobHasher:
    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, data: bytes | memoryview) -> bytes:
        return blake3(data, key=self._key).digest()
