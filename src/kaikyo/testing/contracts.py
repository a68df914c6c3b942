"""The Store conformance suite: every store implementation must pass every check here.

Every object the suite stores under ``data/``, ``index/``, ``snapshots/``, ``keys/`` and
``locks/`` is named by the SHA-256 of its bytes, as in a real repository, so a store that
verifies names against content (a haven tenant, by default) runs the suite unchanged. Only
``config`` holds bytes its name does not describe; it is the one name that may be overwritten.

Use it from a test module as::

    @pytest.fixture
    def store(): ...

    from kaikyo.testing.contracts import STORE_CONTRACT
    @pytest.mark.parametrize("check", STORE_CONTRACT, ids=lambda c: c.__name__)
    def test_contract(store, check): check(store)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable

from kaikyo.store import (
    InvalidName,
    InvalidRange,
    ObjectExists,
    ObjectNotFound,
    Store,
)


def _name(data: bytes, prefix: str = "data/") -> str:
    """The repository name of ``data`` under ``prefix``: ``data/<2hex>/<H>`` or ``<prefix><H>``."""
    digest = hashlib.sha256(data).hexdigest()
    if prefix == "data/":
        return f"data/{digest[:2]}/{digest}"
    return prefix + digest


def put_then_get_roundtrips(store: Store) -> None:
    data = b"\x00kaikyo\xff" * 1000
    store.put(_name(data), data)
    assert store.get(_name(data)) == data
    assert store.stat(_name(data)).size == len(data)
    assert store.exists(_name(data))


def empty_object_roundtrips(store: Store) -> None:
    name = _name(b"", "locks/")
    store.put(name, b"")
    assert store.get(name) == b""
    assert store.stat(name).size == 0


def get_range(store: Store) -> None:
    data = bytes(range(256)) * 64
    name = _name(data)
    store.put(name, data)
    assert store.get(name, 10, 20) == data[10:30]
    assert store.get(name, len(data) - 5) == data[-5:]
    assert store.get(name, 0, len(data)) == data
    try:
        store.get(name, len(data) - 5, 10)
    except InvalidRange:
        pass
    else:
        raise AssertionError("range beyond the end must raise InvalidRange")


def missing_object_raises_not_found(store: Store) -> None:
    name = _name(b"never stored", "snapshots/")
    for call in (lambda: store.get(name), lambda: store.stat(name), lambda: store.delete(name)):
        try:
            call()
        except ObjectNotFound:
            continue
        raise AssertionError("a missing object must raise ObjectNotFound")
    assert not store.exists(name)


def put_existing_raises_unless_overwrite(store: Store) -> None:
    name = "config"
    store.put(name, b"one")
    try:
        store.put(name, b"two")
    except ObjectExists:
        pass
    else:
        raise AssertionError("putting an existing name must raise ObjectExists")
    assert store.get(name) == b"one"
    store.put(name, b"three", overwrite=True)
    assert store.get(name) == b"three"


def list_by_prefix(store: Store) -> None:
    # Distinct sizes, so a listing that mixes up sizes between objects is caught.
    blobs = [(f"index {i} ".encode() * (i + 1), "index/") for i in range(5)]
    blobs += [(f"key {i} ".encode() * (i + 2), "keys/") for i in range(2)]
    sizes = {_name(data, prefix): len(data) for data, prefix in blobs}
    for data, prefix in blobs:
        store.put(_name(data, prefix), data)
    listed = {o.name: o.size for o in store.list("index/")}
    assert listed == {n: size for n, size in sizes.items() if n.startswith("index/")}
    assert {o.name for o in store.list("")} >= set(sizes)
    assert list(store.list("snapshots/")) == []


def delete_removes(store: Store) -> None:
    name = _name(b"x", "snapshots/")
    store.put(name, b"x")
    store.delete(name)
    assert not store.exists(name)
    assert all(o.name != name for o in store.list("snapshots/"))


def invalid_names_rejected(store: Store) -> None:
    bad = [
        "",
        "/etc/passwd",
        "../x",
        "data/../../x",
        "a//b",
        "UPPER",
        ".hidden",
        "a/./b",
        "x" * 300,
        "a/b/c/d/e",
        "spa ce",
        "日本",
    ]
    for name in bad:
        try:
            store.put(name, b"x")
        except InvalidName:
            continue
        raise AssertionError(f"name {name!r} must be rejected")


def concurrent_puts_of_same_name_leave_one_object(store: Store) -> None:
    data = b"same" * 4096
    name = _name(data)
    errors: list[BaseException] = []

    def put() -> None:
        try:
            store.put(name, data)
        except ObjectExists:
            pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert store.get(name) == data


def binary_payload_with_every_byte(store: Store) -> None:
    data = bytes(range(256)) * 3 + b"\r\n\x00"
    store.put(_name(data), memoryview(data))
    assert store.get(_name(data)) == data


def _spool(store: Store, data: bytes) -> str:
    """A local file holding ``data``, where the store asks writers to build files."""
    directory = store.spool_dir() or tempfile.gettempdir()
    fd, path = tempfile.mkstemp(prefix="kaikyo-contract-", dir=directory)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def put_file_stores_the_file_and_leaves_it(store: Store) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several blocks of any streaming upload
    path = _spool(store, data)
    try:
        store.put_file(_name(data), path)
        assert store.get(_name(data)) == data
        assert store.stat(_name(data)).size == len(data)
        assert os.path.exists(path)  # the caller removes it; the object does not depend on it
    finally:
        os.unlink(path)
    assert store.get(_name(data)) == data


def put_file_from_anywhere(store: Store) -> None:
    data = b"\xe6\xb5\xb7\xe5\xb3\xa1 outside the spool directory" * 100
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pack")
        with open(path, "wb") as fh:
            fh.write(data)
        store.put_file(_name(data), path)
    assert store.get(_name(data)) == data


def put_file_existing_raises_and_keeps_the_object(store: Store) -> None:
    data = b"first and only"
    store.put(_name(data), data)
    path = _spool(store, data)
    try:
        try:
            store.put_file(_name(data), path)
        except ObjectExists:
            pass
        else:
            raise AssertionError("put_file over an existing object must raise ObjectExists")
    finally:
        os.unlink(path)
    assert store.get(_name(data)) == data
    assert [i.name for i in store.list("data/")] == [_name(data)]


def put_file_rejects_invalid_names(store: Store) -> None:
    path = _spool(store, b"x")
    try:
        for bad in ("../escape", "/abs", "data/../../x"):
            try:
                store.put_file(bad, path)
            except InvalidName:
                continue
            raise AssertionError(f"name {bad!r} must be rejected")
    finally:
        os.unlink(path)


STORE_CONTRACT: list[Callable[[Store], None]] = [
    put_then_get_roundtrips,
    empty_object_roundtrips,
    get_range,
    missing_object_raises_not_found,
    put_existing_raises_unless_overwrite,
    list_by_prefix,
    delete_removes,
    invalid_names_rejected,
    concurrent_puts_of_same_name_leave_one_object,
    binary_payload_with_every_byte,
    put_file_stores_the_file_and_leaves_it,
    put_file_from_anywhere,
    put_file_existing_raises_and_keeps_the_object,
    put_file_rejects_invalid_names,
]
