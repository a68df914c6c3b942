"""The one object-name grammar: what the repository writes is what the haven verifies."""

from __future__ import annotations

import hashlib

import pytest

from kaikyo.core.constants import (
    CONFIG_NAME,
    INDEX_PREFIX,
    KEY_PREFIX,
    LOCK_PREFIX,
    SNAPSHOT_PREFIX,
)
from kaikyo.repo.packer import pack_name
from kaikyo.store.errors import InvalidName
from kaikyo.store.names import (
    UNVERIFIED_NAMES,
    content_digest,
    is_content_addressed,
    validate_name,
)

H = hashlib.sha256(b"bytes").hexdigest()


@pytest.mark.parametrize(
    "name",
    [pack_name(bytes.fromhex(H))]
    + [p + H for p in (INDEX_PREFIX, SNAPSHOT_PREFIX, KEY_PREFIX, LOCK_PREFIX)],
)
def test_every_repository_object_but_config_is_content_addressed(name: str) -> None:
    assert validate_name(name) == name
    assert is_content_addressed(name)
    assert content_digest(name) == H


def test_config_is_the_one_unverified_name() -> None:
    assert sorted(UNVERIFIED_NAMES) == [CONFIG_NAME]
    assert not is_content_addressed(CONFIG_NAME)
    assert content_digest(CONFIG_NAME) is None


def test_a_fan_out_that_is_not_the_hash_is_refused() -> None:
    name = f"data/00/{H}"
    assert is_content_addressed(name)  # the form only
    with pytest.raises(InvalidName):
        content_digest(name)


@pytest.mark.parametrize("name", [f"data/{H}", f"index/{H[:-1]}", f"index/{H.upper()}", "locks/x"])
def test_other_names_are_not_content_addressed(name: str) -> None:
    assert not is_content_addressed(name)
    assert content_digest(name) is None
