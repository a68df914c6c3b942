"""Run the kaikyo CLI in-process, with its own repository, cache and captured streams."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kaikyo.server.settings import OBJECTS_DIR
from kaikyo.testing import cli
from kaikyo.testing.cli import BytesRun, CliRun
from kaikyo.testing.haven import HavenProcess
from kaikyo.testing.trees import Zoo, build_zoo

PASSWORD = "correct horse battery staple"


class Kaikyo:
    """Run commands (:func:`kaikyo.testing.cli.kaikyo`) with an environment naming one
    repository.

    ``repo`` is where the repository's objects lie on disk: the repository itself for a local
    one, the haven's directory for that tenant's repository when ``url`` points at a haven.
    """

    def __init__(
        self,
        repo: Path,
        cache: Path,
        password: str = PASSWORD,
        url: str | None = None,
        token: str | None = None,
    ) -> None:
        self.repo = repo
        self.env = {
            "KAIKYO_REPOSITORY": url or str(repo),
            "KAIKYO_PASSWORD": password,
            "KAIKYO_CACHE_DIR": str(cache),
            "KAIKYO_WORKERS": "2",
        }
        if token:
            self.env["KAIKYO_TOKEN"] = token
        self.recovery_key = ""

    def __call__(
        self,
        *argv: str | os.PathLike[str],
        env: dict[str, str] | None = None,
        expect: int | None = 0,
        stdin: bytes = b"",
    ) -> CliRun:
        run = cli.kaikyo(*argv, env={**self.env, **(env or {})}, stdin=stdin)
        if expect is not None:
            assert run.code == expect, (
                f"kaikyo {' '.join(map(str, argv))} exited {run.code}, "
                f"expected {expect}\nstdout: {run.out}\nstderr: {run.err}"
            )
        return run

    def binary(
        self,
        *argv: str | os.PathLike[str],
        env: dict[str, str] | None = None,
        expect: int | None = 0,
    ) -> BytesRun:
        """As calling it, for a command that writes bytes to stdout (``dump``)."""
        run = cli.kaikyo_bytes(*argv, env={**self.env, **(env or {})})
        if expect is not None:
            assert run.code == expect, (
                f"kaikyo {' '.join(map(str, argv))} exited {run.code}, "
                f"expected {expect}\nstderr: {run.err}"
            )
        return run

    def init(self) -> Kaikyo:
        self.recovery_key = self("init", "--json").json()["recovery_key"]
        return self

    def backup(self, *paths: str | os.PathLike[str], expect: int | None = 0) -> dict[str, Any]:
        result: dict[str, Any] = self("backup", "--json", *paths, expect=expect).json()
        return result

    def restore(self, ref: str, target: Path, *extra: str, expect: int | None = 0) -> CliRun:
        return self("restore", ref, "--target", target, *extra, expect=expect)


class Haven:
    """One real ``kaikyo serve`` for the session, with one tenant and an admin token."""

    def __init__(self, proc: HavenProcess, token: str) -> None:
        self.proc = proc
        self.token = token
        self._repos = itertools.count()

    def new(self, cache: Path) -> Kaikyo:
        name = f"repo{next(self._repos)}"
        return Kaikyo(
            self.proc.data / OBJECTS_DIR / TENANT / name,
            cache,
            url=self.proc.url(TENANT, name),
            token=self.token,
        )


TENANT = "it-tenant"


@pytest.fixture(scope="session")
def haven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haven]:
    proc = HavenProcess(tmp_path_factory.mktemp("haven") / "data")
    proc.tenant(TENANT)
    token = proc.token(TENANT, "admin")
    proc.start()
    try:
        yield Haven(proc, token)
    finally:
        proc.stop()


def _new_repo(kind: str, request: pytest.FixtureRequest, base: Path) -> Kaikyo:
    if kind == "haven":
        h: Haven = request.getfixturevalue("haven")
        return h.new(base / "cache")
    return Kaikyo(base / "repo", base / "cache")


# Every round trip runs against a local repository and through a real haven process.
REPO_KINDS = ["local", "haven"]


@pytest.fixture(params=REPO_KINDS)
def kaikyo(request: pytest.FixtureRequest, tmp_path: Path) -> Kaikyo:
    """A fresh, initialised repository in this test's tmp dir (or at the haven)."""
    return _new_repo(request.param, request, tmp_path).init()


@pytest.fixture
def local_kaikyo(tmp_path: Path) -> Kaikyo:
    """A local repository only: for failures of the repository's own filesystem, which at a
    haven are the operator's disk, not the tenant's (scope refusals: tests/server)."""
    return Kaikyo(tmp_path / "repo", tmp_path / "cache").init()


@dataclass
class ZooRepo:
    """A repository holding one snapshot of the metadata zoo (shared by read-only tests)."""

    k: Kaikyo
    zoo: Zoo
    snapshot: str
    backup: dict[str, Any]

    def ref(self, sub: str = "") -> str:
        return f"{self.snapshot}:{self.zoo.root}{sub}"


@pytest.fixture(scope="module", params=REPO_KINDS)
def zoo_repo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZooRepo]:
    base = tmp_path_factory.mktemp("zoo")
    zoo = build_zoo(base / "zoo")
    k = _new_repo(request.param, request, base).init()
    result = k.backup(zoo.root)
    yield ZooRepo(k, zoo, result["snapshot_id"], result)
