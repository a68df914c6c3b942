"""Every store passes the same conformance suite (kaikyo.testing.contracts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kaikyo.store import Store
from kaikyo.store.local import LocalStore
from kaikyo.store.memory import MemoryStore
from kaikyo.testing.contracts import STORE_CONTRACT


@pytest.fixture(params=["memory", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        yield LocalStore(tmp_path / "repo", create=True)


@pytest.mark.parametrize("check", STORE_CONTRACT, ids=lambda c: c.__name__)
def test_store_contract(store: Store, check: Callable[[Store], None]) -> None:
    check(store)
