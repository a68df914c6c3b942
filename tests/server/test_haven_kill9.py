"""kill -9 of the haven in the middle of uploads: nothing partial, and clients finish."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from kaikyo.store import StoreOptions
from kaikyo.store.http import HttpStore
from kaikyo.store.retrying import RetryPolicy
from kaikyo.testing.cli import kaikyo
from kaikyo.testing.haven import HavenProcess


def pack(data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()
    return f"data/{h[:2]}/{h}"


@pytest.mark.slow
def test_kill9_during_uploads(tmp_path: Path) -> None:
    haven = HavenProcess(tmp_path / "data")
    haven.tenant("acme")
    token = haven.token("acme", "backup")
    haven.start()
    store = HttpStore(
        haven.url("acme", "main"),
        StoreOptions(token=token, timeout=10),
        retry=RetryPolicy(initial_delay=0.1, max_delay=1.0, max_elapsed=60),
    )
    objects = [os.urandom(2 * 1024 * 1024 + i) for i in range(48)]
    errors: list[BaseException] = []

    def upload(part: list[bytes]) -> None:
        try:
            for data in part:
                store.put(pack(data), data)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(objects[i::4],)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(list((haven.data / "objects").rglob("data/*/*"))) < 8:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        haven.kill()  # SIGKILL, uploads in flight
        time.sleep(1.0)
        haven.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        for data in objects:
            assert store.get(pack(data)) == data
    finally:
        store.close()
        haven.stop()
    assert not list((haven.data / "objects").rglob("*.up"))
    code, _, err = kaikyo("haven", "scrub", "--data", str(haven.data))
    assert code == 0, err
    assert "scrubbed 48 objects" in err
    code, _, err = kaikyo("haven", "audit", "verify", "--data", str(haven.data))
    assert code == 0, err
    usage = haven.op("tenant", "show", "acme")
    assert usage["used_objects"] == 48
    assert usage["used_bytes"] == sum(len(d) for d in objects)
