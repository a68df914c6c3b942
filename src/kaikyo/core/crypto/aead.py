"""Authenticated encryption: AES-256-GCM with random 96-bit nonces and bound associated data.

Random nonces keep the format stateless (no counter to lose in a crash). NIST SP 800-38D bounds
random-nonce use to 2^32 seals per key; each repository has its own data key, and
docs/FORMAT.md states that bound (about four billion blobs per repository).
"""

from __future__ import annotations

import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kaikyo.core.constants import NONCE_SIZE
from kaikyo.errors import IntegrityError


class _NonceSource:
    """Random nonces drawn from the OS CSPRNG in 64 KiB batches.

    One ``getrandom`` call per blob cost about 10 µs here, as much as the encryption itself.
    The batch is dropped when the process id changes, so forked workers never reuse the
    parent's unconsumed random bytes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._buf = b""
        self._pos = 0

    def take(self) -> bytes:
        with self._lock:
            if self._pid != os.getpid() or self._pos + NONCE_SIZE > len(self._buf):
                self._pid = os.getpid()
                self._buf = os.urandom(NONCE_SIZE * 5461)
                self._pos = 0
            nonce = self._buf[self._pos : self._pos + NONCE_SIZE]
            self._pos += NONCE_SIZE
            return nonce


_NONCES = _NonceSource()


class Cipher:
    """Seal/open with one 32-byte key. Thread-safe; cheap to create."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes | memoryview, aad: bytes) -> bytes:
        """Return nonce || ciphertext || tag."""
        nonce = _NONCES.take()
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes | memoryview, aad: bytes, what: str = "object") -> bytes:
        view = memoryview(sealed)
        if len(view) < NONCE_SIZE + 16:
            raise IntegrityError(f"{what} is truncated")
        try:
            return self._aead.decrypt(view[:NONCE_SIZE], view[NONCE_SIZE:], aad)
        except InvalidTag:
            raise IntegrityError(f"{what} does not authenticate (corrupt or tampered)") from None
