"""A repository under attack, local or behind a real haven, and the attacker's hands.

The owner runs the CLI (at a haven with an admin token, as an operator's tenant would); the
attacker plants objects with whatever a token of a given scope lets it do at the haven (no
passphrase: only bytes named by their hash), or with plain file access for a local repository.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from integration.conftest import Kaikyo
from kaikyo.server.settings import OBJECTS_DIR
from kaikyo.testing.haven import HavenProcess

TENANT = "victim"
KINDS = ["local", "haven"]


def content_name(prefix: str, data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()
    return f"data/{h[:2]}/{h}" if prefix == "data/" else prefix + h


@dataclass
class Havens:
    proc: HavenProcess
    tokens: dict[str, str]
    repos: Iterator[int]


@dataclass
class Victim:
    kind: str
    k: Kaikyo
    url: str | None = None
    tokens: dict[str, str] | None = None

    @property
    def root(self) -> Path:
        return self.k.repo

    def put(self, name: str, data: bytes, scope: str = "backup", *, overwrite: bool = False) -> int:
        """Store ``data`` as ``name`` with the attacker's means; returns the HTTP status at a
        haven (201 stored), or 201 for a local file."""
        if self.kind == "local":
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not overwrite:
                return 409
            path.write_bytes(data)
            return 201
        assert self.url is not None and self.tokens is not None
        headers = {"authorization": f"Bearer {self.tokens[scope]}"}
        if overwrite:
            headers["x-kaikyo-overwrite"] = "1"
        return httpx.put(
            f"{self.url}/o/{name}", content=data, headers=headers, timeout=30
        ).status_code

    def plant(self, prefix: str, data: bytes, scope: str = "backup") -> str:
        """Plant ``data`` under ``prefix`` named by its hash, as a token of ``scope`` can."""
        name = content_name(prefix, data)
        status = self.put(name, data, scope)
        assert status in (201, 409), f"planting {name} with a {scope} token: HTTP {status}"
        return name

    def objects(self, prefix: str) -> dict[str, bytes]:
        base = self.root
        return {
            str(p.relative_to(base)): p.read_bytes()
            for p in (base / prefix).rglob("*")
            if p.is_file()
        }


@pytest.fixture(scope="package")
def havens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Havens]:
    proc = HavenProcess(tmp_path_factory.mktemp("hostile-haven") / "data")
    proc.tenant(TENANT)
    tokens = {scope: proc.token(TENANT, scope) for scope in ("backup", "restore", "admin")}
    proc.start()
    try:
        yield Havens(proc, tokens, itertools.count())
    finally:
        proc.stop()


def new_victim(kind: str, base: Path, request: pytest.FixtureRequest) -> Victim:
    if kind == "local":
        return Victim("local", Kaikyo(base / "repo", base / "cache").init())
    h: Havens = request.getfixturevalue("havens")
    name = f"r{next(h.repos)}"
    url = h.proc.url(TENANT, name)
    k = Kaikyo(
        h.proc.data / OBJECTS_DIR / TENANT / name, base / "cache", url=url, token=h.tokens["admin"]
    ).init()
    return Victim("haven", k, url, h.tokens)


@pytest.fixture(params=KINDS)
def victim(request: pytest.FixtureRequest, tmp_path: Path) -> Victim:
    return new_victim(request.param, tmp_path, request)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Two files of random bytes (they share a pack) and a small one."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "one").write_bytes(os.urandom(3 * 1024 * 1024))
    (src / "two").write_bytes(os.urandom(3 * 1024 * 1024))
    (src / "日本語.txt").write_bytes("海峡\n".encode())
    return src
