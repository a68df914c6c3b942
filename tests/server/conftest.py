from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kaikyo.testing.haven import HavenProcess


@pytest.fixture(scope="module")
def haven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HavenProcess]:
    """One real haven per test module, with tenants acme and globex."""
    data = Path(tmp_path_factory.mktemp("haven")) / "data"
    proc = HavenProcess(data, extra=("--max-object", "4Mi"), metrics=True)
    proc.tenant("acme")
    proc.tenant("globex")
    proc.start()
    yield proc
    proc.stop()
