"""Bearer tokens: random, shown once, stored only as a hash, compared in constant time.

A token reads ``kk_<id>_<secret>``. The id is public (it appears in the audit log and in
``kaikyo tenant show``) and selects the row; the secret is 256 random bits of which the haven
keeps only the SHA-256. A fast hash is enough here because the secret is random, not a
password: there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "kk"
_TOKEN = re.compile(r"kk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class Scope(StrEnum):
    """What a token may do; see :mod:`kaikyo.server.policy` for the exact rules."""

    BACKUP = "backup"
    RESTORE = "restore"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class NewToken:
    token_id: str
    secret: str

    @property
    def text(self) -> str:
        return f"{PREFIX}_{self.token_id}_{self.secret}"

    @property
    def secret_sha256(self) -> str:
        return hash_secret(self.secret)


def generate() -> NewToken:
    return NewToken(secrets.token_hex(8), secrets.token_urlsafe(32))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse(text: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a well-formed token, else None."""
    match = _TOKEN.fullmatch(text.strip())
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_sha256)


# A token anywhere in a text, its secret possibly cut short.
_IN_TEXT = re.compile(r"kk_([0-9a-f]{16})_[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    """``text`` with the secret of every token in it replaced (the id stays: it is public), for
    logs of what clients sent: a token pasted into a URL must not reach a log file."""
    return _IN_TEXT.sub(lambda m: f"{PREFIX}_{m.group(1)}_REDACTED", text)
