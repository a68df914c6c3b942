from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kaikyo.repo import Repository


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/vectors (only together with a format bump)",
    )


@pytest.fixture
def repository(tmp_path: Path) -> Repository:
    """A new repository on disk at ``tmp_path / "repo"``, its (empty) index loaded.

    Made by :func:`kaikyo.testing.repos.new_repository`, which also makes them on any store
    (in memory by default), with other packs or chunks."""
    # Imported here: only the tests that use it load the engine.
    from kaikyo.store.local import LocalStore
    from kaikyo.testing.repos import new_repository

    repo = new_repository(LocalStore(tmp_path / "repo", create=True))
    repo.load_index()
    return repo
