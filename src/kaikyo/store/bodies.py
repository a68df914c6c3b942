"""Upload bodies for the HTTP store: an object's bytes in blocks, paced by the rate limiter.

Blocks, not one buffer, so that a limited upload spends its budget as it goes (and other
uploads share the link), and so that a spooled pack streams from its file without ever being
in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator

from kaikyo.store.ratelimit import RateLimiter

UPLOAD_CHUNK = 256 * 1024  # block of an in-memory object, when uploads are limited
FILE_BLOCK = 1024 * 1024  # block read from a local file


def memory_body(data: memoryview, limiter: RateLimiter) -> Iterator[bytes]:
    for start in range(0, len(data), UPLOAD_CHUNK):
        chunk = data[start : start + UPLOAD_CHUNK]
        limiter.acquire(len(chunk))
        yield bytes(chunk)


def file_body(path: str, limiter: RateLimiter | None) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while block := fh.read(FILE_BLOCK):
            if limiter is not None:
                limiter.acquire(len(block))
            yield block


def read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()
