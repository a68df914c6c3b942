"""Tenancy, scopes, tokens, names and bodies against a real ``kaikyo serve`` process."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from kaikyo.store import (
    InvalidName,
    ObjectExists,
    ObjectNotFound,
    StoreAuthFailed,
    StoreCorrupt,
    StoreOptions,
    StorePermissionDenied,
    StoreQuotaExceeded,
)
from kaikyo.store.http import HttpStore
from kaikyo.store.retrying import NO_RETRY
from kaikyo.testing import metrics
from kaikyo.testing.haven import HavenProcess


def pack(data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()
    return f"data/{h[:2]}/{h}"


_OPEN: list[HttpStore] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def client(haven: HavenProcess, tenant: str, token: str, repo: str = "main") -> HttpStore:
    store = HttpStore(haven.url(tenant, repo), StoreOptions(token=token), retry=NO_RETRY)
    _OPEN.append(store)
    return store


def leftovers(haven: HavenProcess) -> list[Path]:
    return [p for p in (haven.data / "objects").rglob("*.up")]


@pytest.fixture(scope="module")
def tokens(haven: HavenProcess) -> dict[str, str]:
    return {
        f"{t}-{s}": haven.token(t, s)
        for t in ("acme", "globex")
        for s in ("backup", "restore", "admin")
    }


def test_tenants_are_isolated(haven: HavenProcess, tokens: dict[str, str]) -> None:
    data = os.urandom(1000)
    client(haven, "acme", tokens["acme-backup"]).put(pack(data), data)
    # globex's tokens, pointed at acme's URL, reach nothing of acme's.
    intruder = client(haven, "acme", tokens["globex-admin"])
    for call in (
        lambda: intruder.get(pack(data)),
        lambda: list(intruder.list("")),
        lambda: intruder.put(pack(b"x"), b"x"),
        lambda: intruder.delete(pack(data)),
        lambda: intruder.stat(pack(data)),
    ):
        with pytest.raises((StorePermissionDenied, ObjectNotFound)):
            call()
    # Under its own tenant, globex sees none of acme's objects.
    assert list(client(haven, "globex", tokens["globex-admin"]).list("")) == []
    assert client(haven, "acme", tokens["acme-restore"]).get(pack(data)) == data


def test_backup_token_is_append_only(haven: HavenProcess, tokens: dict[str, str]) -> None:
    store = client(haven, "acme", tokens["acme-backup"])
    data = os.urandom(500)
    store.put(pack(data), data)
    with pytest.raises(ObjectExists):
        store.put(pack(data), data)
    with pytest.raises(StorePermissionDenied):
        store.put(pack(data), data, overwrite=True)
    with pytest.raises(StorePermissionDenied):
        store.delete(pack(data))
    lock = b"lock of this backup"
    lock_name = "locks/" + hashlib.sha256(lock).hexdigest()
    store.put(lock_name, lock)
    store.delete(lock_name)  # its own locks it may remove
    assert store.get(pack(data)) == data


def test_restore_token_is_read_only(haven: HavenProcess, tokens: dict[str, str]) -> None:
    store = client(haven, "acme", tokens["acme-restore"])
    with pytest.raises(StorePermissionDenied):
        store.put(pack(b"new"), b"new")
    with pytest.raises(StorePermissionDenied):
        store.put("config", b"new", overwrite=True)
    assert not store.exists(pack(b"new"))
    # What it may do: list and read everything there is, as an admin token sees it.
    data = os.urandom(300)
    client(haven, "acme", tokens["acme-backup"]).put(pack(data), data)
    listed = sorted(o.name for o in store.list("data/"))
    assert pack(data) in listed
    assert listed == sorted(
        o.name for o in client(haven, "acme", tokens["acme-admin"]).list("data/")
    )
    assert store.get(pack(data)) == data


def test_admin_delete_goes_to_trash_and_undelete_restores(
    haven: HavenProcess, tokens: dict[str, str]
) -> None:
    data = os.urandom(2000)
    admin = client(haven, "globex", tokens["globex-admin"], repo="trashy")
    admin.put(pack(data), data)
    admin.delete(pack(data))
    assert not admin.exists(pack(data))
    shown = haven.op("tenant", "show", "globex")
    assert shown["trash"] == {"objects": 1, "bytes": 2000, "purged_after_seconds": 7 * 86400}
    restored = haven.op("tenant", "undelete", "globex", "--repo", "trashy")
    assert restored["restored"] == [f"trashy/{pack(data)}"]
    assert admin.get(pack(data)) == data


def test_revoked_and_expired_tokens_fail(haven: HavenProcess) -> None:
    token = haven.token("acme", "backup")
    store = client(haven, "acme", token)
    assert list(store.list("keys/")) == []
    haven.op("token", "revoke", token.split("_")[1])
    with pytest.raises(StoreAuthFailed, match="revoked"):
        list(store.list("keys/"))
    expired = haven.token("acme", "backup", "--expires", "1s")
    time.sleep(1.2)
    with pytest.raises(StoreAuthFailed, match="expired"):
        list(client(haven, "acme", expired).list(""))
    for bad in ("", "kk_nothing", "kk_0123456789abcdef_" + "A" * 43):
        with pytest.raises(StoreAuthFailed):
            list(client(haven, "acme", bad).list(""))


def test_suspended_tenant_is_refused(haven: HavenProcess) -> None:
    haven.tenant("initech")
    token = haven.token("initech", "admin")
    haven.op("tenant", "suspend", "initech")
    with pytest.raises(StorePermissionDenied, match="suspended"):
        list(client(haven, "initech", token).list(""))
    haven.op("tenant", "resume", "initech")
    assert list(client(haven, "initech", token).list("")) == []


@pytest.mark.parametrize(
    "path",
    [
        "/acme/main/o/../../etc/passwd",
        "/acme/main/o/%2e%2e/%2e%2e/x",
        "/acme/main/o/data/zz/x",
        "/acme/main/o/UPPER",
        "/acme/main/o/a//b",
        "/acme/main/o/.tmp/x",
        "/acme/main/o/",
        "/acme/..%2f/o/config",
        "/ACME/main/o/config",
        "/acme/main/o/" + "a" * 300,
        "/acme/main/o/data/00/" + "0" * 64,
        "/acme/main/o/notrepo/" + "0" * 64,
    ],
)
def test_malformed_names_are_refused(
    haven: HavenProcess, tokens: dict[str, str], path: str
) -> None:
    headers = {"authorization": f"Bearer {tokens['acme-admin']}"}
    with httpx.Client(base_url=haven.base, headers=headers) as http:
        r = http.put(path, content=b"x")
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert http.get(path).status_code < 500
    assert not leftovers(haven)


def test_content_must_match_its_name(haven: HavenProcess, tokens: dict[str, str]) -> None:
    store = client(haven, "acme", tokens["acme-backup"], repo="verify")
    name = pack(b"the real bytes")
    with pytest.raises(StoreCorrupt, match="does not match"):
        store.put(name, b"other bytes!!!")
    assert not store.exists(name)
    with pytest.raises(InvalidName):
        store.put("data/00/" + hashlib.sha256(b"q").hexdigest(), b"q")  # wrong fan-out
    assert not leftovers(haven)


@pytest.mark.parametrize("prefix", ["data/", "index/", "snapshots/", "keys/", "locks/"])
def test_mismatched_body_is_refused_server_side_and_leaves_nothing(
    haven: HavenProcess, tokens: dict[str, str], prefix: str
) -> None:
    """A body whose SHA-256 is not its name is refused by the haven itself (the client does not
    check), after streaming in full, with no object, no temp file, no usage and no listing."""
    # Many upload chunks, so the check runs at the very end (a lock is at most 4 KiB).
    real = os.urandom(4000 if prefix == "locks/" else 3 * 1024 * 1024)
    digest = hashlib.sha256(real).hexdigest()
    name = f"data/{digest[:2]}/{digest}" if prefix == "data/" else prefix + digest
    forged = real[:-1] + bytes([real[-1] ^ 1])  # same size, one bit off
    repo = "mismatch-" + prefix.rstrip("/")
    before = haven.op("tenant", "show", "acme")
    admin = client(haven, "acme", tokens["acme-admin"], repo=repo)
    with pytest.raises(StoreCorrupt, match="does not match its name"):
        admin.put(name, forged)
    # The same refusal on the raw wire: 422 and the error kind, whatever client sends it.
    with httpx.Client(
        base_url=haven.base, timeout=30, headers={"authorization": f"Bearer {tokens['acme-admin']}"}
    ) as http:
        r = http.put(f"/acme/{repo}/o/{name}", content=forged)
        assert r.status_code == 422 and r.json()["error"] == "StoreCorrupt", r.text
        assert http.head(f"/acme/{repo}/o/{name}").status_code == 404
    assert not admin.exists(name)
    assert list(admin.list("")) == []
    repo_dir = haven.data / "objects" / "acme" / repo
    assert [p for p in repo_dir.rglob("*") if p.is_file()] == []
    assert not leftovers(haven)
    after = haven.op("tenant", "show", "acme")
    assert (after["used_bytes"], after["used_objects"]) == (
        before["used_bytes"],
        before["used_objects"],
    )
    rows = cast(
        list[dict[str, Any]],
        haven.op("tenant", "show", "acme", "--audit-lines", "20")["audit_tail"],
    )
    assert [r["result"] for r in rows if r["object"] == name] == ["StoreCorrupt"] * 2
    # Nothing reserved or squatted the name: the true bytes go in afterwards.
    admin.put(name, real)
    assert admin.get(name) == real


def test_oversized_body_is_refused(haven: HavenProcess, tokens: dict[str, str]) -> None:
    data = os.urandom(5 * 1024 * 1024)  # the fixture's haven accepts at most 4 MiB
    store = client(haven, "acme", tokens["acme-backup"], repo="big")
    with pytest.raises(StorePermissionDenied, match="exceeds"):
        store.put(pack(data), data)
    assert not store.exists(pack(data))
    assert not leftovers(haven)


def test_truncated_body_leaves_nothing(haven: HavenProcess, tokens: dict[str, str]) -> None:
    data = os.urandom(1024 * 1024)
    name = pack(data)
    before = haven.op("tenant", "show", "acme")["used_bytes"]
    with socket.create_connection((haven.host, haven.port)) as sock:
        sock.sendall(
            (
                f"PUT /acme/cut/o/{name} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {tokens['acme-backup']}\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data[: len(data) // 2]
        )
    # The server notices the cut, then cleans up: no object, no temp file, no usage.
    deadline = time.monotonic() + 10
    while leftovers(haven) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leftovers(haven)
    assert not client(haven, "acme", tokens["acme-backup"], repo="cut").exists(name)
    assert haven.op("tenant", "show", "acme")["used_bytes"] == before


def test_quota_is_enforced_before_upload(haven: HavenProcess) -> None:
    haven.tenant("tiny", "--quota-bytes", "10K", "--quota-objects", "3")
    store = client(haven, "tiny", haven.token("tiny", "backup"))
    first = os.urandom(6000)
    store.put(pack(first), first)
    second = os.urandom(6000)
    with pytest.raises(StoreQuotaExceeded, match="quota exceeded") as info:
        store.put(pack(second), second)
    assert "\n" not in str(info.value)
    assert not store.exists(pack(second))
    small = [os.urandom(10) for _ in range(3)]
    store.put(pack(small[0]), small[0])
    store.put(pack(small[1]), small[1])
    with pytest.raises(StoreQuotaExceeded):
        store.put(pack(small[2]), small[2])
    usage = haven.op("tenant", "show", "tiny")
    assert (usage["used_bytes"], usage["used_objects"]) == (6020, 3)


def test_audit_log_records_refusals_and_verifies(haven: HavenProcess) -> None:
    rows = cast(
        list[dict[str, Any]],
        haven.op("tenant", "show", "acme", "--audit-lines", "500")["audit_tail"],
    )
    results = {r["result"] for r in rows}
    assert {"ok", "StorePermissionDenied", "StoreAuthFailed", "StoreCorrupt"} <= results
    assert haven.op("haven", "audit", "verify")["ok"] is True


def test_metrics_and_health(haven: HavenProcess) -> None:
    assert httpx.get(f"{haven.base}/healthz").json() == {"status": "ok"}
    # /metrics names tenants: only on the operator's listener, never on the tenants' port.
    assert httpx.get(f"{haven.base}/metrics").status_code == 404
    text = httpx.get(f"{haven.metrics_base}/metrics").text
    puts = metrics.value(
        text, "kaikyo_haven_requests_total", tenant="acme", method="PUT", status="201"
    )
    assert puts is not None and puts >= 1
    assert "kaikyo_haven_request_duration_seconds_bucket" in text
    assert httpx.get(f"{haven.metrics_base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{haven.metrics_base}/acme/r/list").status_code == 404


def test_upload_limit_paces_puts(haven: HavenProcess, tokens: dict[str, str]) -> None:
    store = HttpStore(
        haven.url("acme", "paced"),
        StoreOptions(token=tokens["acme-backup"], upload_limit="*=4M"),
        retry=NO_RETRY,
    )
    _OPEN.append(store)
    data = os.urandom(2 * 1000 * 1000)
    started = time.monotonic()
    store.put(pack(data), data)
    assert time.monotonic() - started >= 0.4  # 2 MB at 4 MB/s, minus one burst
    assert store.get(pack(data)) == data


def test_store_is_fork_safe(haven: HavenProcess, tokens: dict[str, str]) -> None:
    store = client(haven, "acme", tokens["acme-backup"], repo="forked")
    assert list(store.list("")) == []  # the parent's pool now holds a connection
    data = os.urandom(1000)
    pid = os.fork()
    if pid == 0:  # child: a fresh pool after reopen, as the engine's workers do
        code = 1
        try:
            store.reopen()
            store.put(pack(data), data)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get(pack(data)) == data  # the parent's own pool still works
