"""The HTTP store passes the same conformance suite as every other store, against a real
``kaikyo serve`` process on 127.0.0.1, with a tenant that verifies names (the default)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kaikyo.store import Store, StoreOptions, open_store
from kaikyo.testing.contracts import STORE_CONTRACT
from kaikyo.testing.haven import HavenProcess

_REPOS = itertools.count()


@pytest.fixture(scope="module")
def contract_haven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HavenProcess, str]]:
    haven = HavenProcess(Path(tmp_path_factory.mktemp("contract")) / "data")
    # A normal tenant: the haven verifies every content name against the SHA-256 of the bytes
    # while they stream, and the suite names its objects that way, as a repository does.
    haven.tenant("contract")
    assert haven.op("tenant", "show", "contract")["verify_names"] is True
    token = haven.token("contract", "admin")
    haven.start()
    yield haven, token
    haven.stop()


@pytest.fixture
def http_store(contract_haven: tuple[HavenProcess, str]) -> Iterator[Store]:
    haven, token = contract_haven
    store = open_store(haven.url("contract", f"r{next(_REPOS)}"), StoreOptions(token=token))
    yield store
    store.close()


@pytest.mark.parametrize("check", STORE_CONTRACT, ids=lambda c: c.__name__)
def test_http_store_contract(http_store: Store, check: Callable[[Store], None]) -> None:
    check(http_store)
