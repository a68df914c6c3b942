"""Run the kaikyo CLI in-process, with its own repository, cache and captured streams."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kaikyo.cli.context import CliContext
from kaikyo.cli.main import main
from kaikyo.testing.trees import Zoo, build_zoo

PASSWORD = "correct horse battery staple"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Kaikyo:
    """Call ``main(argv, ctx)`` with an environment naming one repository."""

    def __init__(self, repo: Path, cache: Path, password: str = PASSWORD) -> None:
        self.repo = repo
        self.env = {"KAIKYO_REPOSITORY": str(repo), "KAIKYO_PASSWORD": password,
                    "KAIKYO_CACHE_DIR": str(cache), "KAIKYO_WORKERS": "2"}
        self.recovery_key = ""

    def __call__(self, *argv: str | os.PathLike[str], env: dict[str, str] | None = None,
                 expect: int | None = 0) -> Run:
        out, err = io.StringIO(), io.StringIO()
        ctx = CliContext(stdout=out, stderr=err, env={**self.env, **(env or {})})
        code = main([os.fspath(a) for a in argv], ctx)
        run = Run(code, out.getvalue(), err.getvalue())
        if expect is not None:
            assert code == expect, (f"kaikyo {' '.join(map(str, argv))} exited {code}, "
                                    f"expected {expect}\nstdout: {run.out}\nstderr: {run.err}")
        return run

    def init(self) -> Kaikyo:
        self.recovery_key = self("init", "--json").json()["recovery_key"]
        return self

    def backup(self, *paths: str | os.PathLike[str], expect: int | None = 0) -> dict[str, Any]:
        result: dict[str, Any] = self("backup", "--json", *paths, expect=expect).json()
        return result

    def restore(self, ref: str, target: Path, *extra: str, expect: int | None = 0) -> Run:
        return self("restore", ref, "--target", target, *extra, expect=expect)


@pytest.fixture
def kaikyo(tmp_path: Path) -> Kaikyo:
    """A fresh, initialised repository in this test's tmp dir."""
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


@pytest.fixture(scope="module")
def zoo_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooRepo]:
    base = tmp_path_factory.mktemp("zoo")
    zoo = build_zoo(base / "zoo")
    k = Kaikyo(base / "repo", base / "cache").init()
    result = k.backup(zoo.root)
    yield ZooRepo(k, zoo, result["snapshot_id"], result)
