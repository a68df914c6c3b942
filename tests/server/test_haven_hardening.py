"""The haven as an attacker meets it (issue 10, part B): a real ``kaikyo serve`` process with
short timeouts and small limits, driven over raw HTTP and sockets."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from kaikyo.testing.cli import kaikyo
from kaikyo.testing.haven import HavenProcess

TENANT = "hard"
NO_NAMES = "loose"  # a tenant that stores objects not named by hash (--no-verify-names)


def name_of(prefix: str, data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()
    return f"data/{h[:2]}/{h}" if prefix == "data/" else prefix + h


@pytest.fixture(scope="module")
def haven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HavenProcess]:
    data = Path(tmp_path_factory.mktemp("hard")) / "data"
    proc = HavenProcess(
        data,
        metrics=True,
        extra=(
            "--body-timeout",
            "2s",
            "--header-timeout",
            "2s",
            "--max-connections",
            "40",
            "--max-locks-per-token",
            "4",
        ),
    )
    proc.tenant(TENANT)
    proc.tenant(NO_NAMES, "--no-verify-names")
    proc.tenant("small", "--quota-bytes", "10000")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def tok(haven: HavenProcess) -> dict[str, str]:
    out = {s: haven.token(TENANT, s) for s in ("backup", "restore", "admin")}
    out["backup2"] = haven.token(TENANT, "backup")
    out["loose-admin"] = haven.token(NO_NAMES, "admin")
    out["small-admin"] = haven.token("small", "admin")
    return out


def http(haven: HavenProcess, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=haven.base, timeout=30, headers={"authorization": f"Bearer {token}"}
    )


def put(c: httpx.Client, url: str, data: bytes, **headers: str) -> int:
    return c.put(url, content=data, headers=headers).status_code


def audit_rows(haven: HavenProcess, tenant: str, n: int = 50) -> list[dict[str, Any]]:
    shown = haven.op("tenant", "show", tenant, "--audit-lines", str(n))
    return cast(list[dict[str, Any]], shown["audit_tail"])


# ---- B6: only whole objects are addressable ------------------------------------------------


@pytest.mark.parametrize("directory", ["snapshots", "keys", "data", "data/ab"])
def test_a_directory_name_is_not_an_object(
    haven: HavenProcess, tok: dict[str, str], directory: str
) -> None:
    for tenant, token in ((TENANT, tok["admin"]), (NO_NAMES, tok["loose-admin"])):
        with http(haven, token) as c:
            blob = os.urandom(100)
            assert put(c, f"/{tenant}/r/o/{name_of('data/', blob)}", blob) == 201
            assert put(c, f"/{tenant}/r/o/{name_of('snapshots/', blob)}", blob) == 201
            assert put(c, f"/{tenant}/r/o/{name_of('keys/', blob)}", blob) == 201
            for method in ("HEAD", "GET", "DELETE"):
                r = c.request(method, f"/{tenant}/r/o/{directory}")
                assert r.status_code in (400, 404), (method, r.status_code, r.text)
    # Trash holds no directory: undelete and purge work for every tenant.
    haven.op("tenant", "undelete", NO_NAMES)
    assert "purged" in haven.op("haven", "purge", "--older-than", "0s")


# ---- B7: a failed overwrite leaves the old object ----------------------------------------


def test_failed_overwrite_keeps_the_old_object(haven: HavenProcess, tok: dict[str, str]) -> None:
    with http(haven, tok["loose-admin"]) as c:
        old = b"old config"
        assert put(c, f"/{NO_NAMES}/ow/o/config", old) == 201
        # A body that ends early: the overwrite fails, and nothing moved to the trash.
        with socket.create_connection((haven.host, haven.port)) as sock:
            sock.sendall(
                (
                    f"PUT /{NO_NAMES}/ow/o/config HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: Bearer {tok['loose-admin']}\r\n"
                    "X-Kaikyo-Overwrite: 1\r\nContent-Length: 1000\r\n\r\n"
                ).encode()
                + b"new"
            )
        time.sleep(0.5)
        assert c.get(f"/{NO_NAMES}/ow/o/config").content == old
    trash = haven.op("tenant", "trash", NO_NAMES)["rows"]
    assert [r for r in cast(list[dict[str, Any]], trash) if r["repo"] == "ow"] == []


def test_failed_overwrite_of_a_named_object(haven: HavenProcess, tok: dict[str, str]) -> None:
    """A hash-named overwrite whose body does not match: 422, old object in place."""
    with http(haven, tok["admin"]) as c:
        data = os.urandom(500)
        url = f"/{TENANT}/ow/o/{name_of('index/', data)}"
        assert put(c, url, data) == 201
        forged = data[:-1] + b"\x00"
        assert put(c, url, forged, **{"x-kaikyo-overwrite": "1"}) == 422
        assert c.get(url).content == data
    rows = audit_rows(haven, TENANT)
    assert [r["result"] for r in rows if r["object"] == url.split("/o/")[1]][-1] == "StoreCorrupt"


# ---- B10, B11: locks are small, few, and removed only by their maker ------------------------


def test_locks_are_small_and_few(haven: HavenProcess, tok: dict[str, str]) -> None:
    with http(haven, tok["admin"]) as c:
        assert put(c, f"/{TENANT}/lk/o/config", b"x") in (201, 409)
    with http(haven, tok["restore"]) as c:
        big = os.urandom(5000)
        assert put(c, f"/{TENANT}/lk/o/{name_of('locks/', big)}", big) == 403
        made = []
        for _ in range(4):
            lock = os.urandom(100)
            assert put(c, f"/{TENANT}/lk/o/{name_of('locks/', lock)}", lock) == 201
            made.append(name_of("locks/", lock))
        one_more = os.urandom(100)
        r = c.put(f"/{TENANT}/lk/o/{name_of('locks/', one_more)}", content=one_more)
        assert r.status_code == 403 and "already holds 4 locks" in r.json()["message"]
        # A restore token cannot create a repository through a lock.
        assert put(c, f"/{TENANT}/no-such-repo/o/{name_of('locks/', one_more)}", one_more) == 403
        for name in made:
            assert c.delete(f"/{TENANT}/lk/o/{name}").status_code == 204
    assert not (haven.data / "objects" / TENANT / "no-such-repo").exists()


def test_only_the_maker_or_an_admin_removes_a_lock(
    haven: HavenProcess, tok: dict[str, str]
) -> None:
    lock = os.urandom(120)
    url = f"/{TENANT}/lk/o/{name_of('locks/', lock)}"
    with http(haven, tok["backup"]) as c:
        assert put(c, url, lock) == 201
    for other in ("restore", "backup2"):
        with http(haven, tok[other]) as c:
            r = c.delete(url)
            assert r.status_code == 403 and "was made by token" in r.json()["message"]
            assert c.head(url).status_code == 200
    with http(haven, tok["admin"]) as c:
        assert c.delete(url).status_code == 204


# ---- B12: the trash counts towards the quota --------------------------------------------


def test_trash_counts_towards_the_quota(haven: HavenProcess, tok: dict[str, str]) -> None:
    with http(haven, tok["small-admin"]) as c:
        first = os.urandom(6000)
        assert put(c, f"/small/q/o/{name_of('data/', first)}", first) == 201
        assert c.delete(f"/small/q/o/{name_of('data/', first)}").status_code == 204
        second = os.urandom(6000)
        r = c.put(f"/small/q/o/{name_of('data/', second)}", content=second)
        assert r.status_code == 507 and "trash" in r.json()["message"]
    shown = haven.op("tenant", "show", "small")
    assert shown["used_bytes"] == 6000 and shown["live_bytes"] == 0
    assert cast(dict[str, Any], shown["trash"])["bytes"] == 6000
    haven.op("haven", "purge", "--older-than", "0s")
    assert haven.op("tenant", "show", "small")["used_bytes"] == 0
    with http(haven, tok["small-admin"]) as c:
        assert put(c, f"/small/q/o/{name_of('data/', second)}", second) == 201


# ---- B13, B14: bodies, headers and connections time out; connections are capped ----------


def test_a_stalled_body_is_dropped_and_its_reservation_released(
    haven: HavenProcess, tok: dict[str, str]
) -> None:
    before = haven.op("tenant", "show", TENANT)["used_bytes"]
    data = os.urandom(1000)
    with socket.create_connection((haven.host, haven.port)) as sock:
        sock.sendall(
            (
                f"PUT /{TENANT}/slow/o/{name_of('data/', data)} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {tok['backup']}\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data[:1]
        )
        sock.settimeout(10)
        started = time.monotonic()
        answer = sock.recv(4096)
        assert b" 408 " in answer.split(b"\r\n")[0], answer
        assert time.monotonic() - started < 8
    assert haven.op("tenant", "show", TENANT)["used_bytes"] == before
    assert list((haven.data / "objects").rglob("*.up")) == []


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_idle_and_half_sent_requests_are_closed(haven: HavenProcess) -> None:
    with (
        socket.create_connection((haven.host, haven.port)) as silent,
        socket.create_connection((haven.host, haven.port)) as half,
    ):
        half.sendall(b"GET /healthz HTT")
        assert _closed_within(silent, 8)
        assert _closed_within(half, 8)


def test_connections_beyond_the_cap_are_refused(haven: HavenProcess) -> None:
    socks = [socket.create_connection((haven.host, haven.port)) for _ in range(60)]
    try:
        time.sleep(0.3)
        refused = sum(_closed_within(s, 0.05) for s in socks)
        assert refused >= 20
    finally:
        for s in socks:
            s.close()
    assert httpx.get(f"{haven.base}/healthz", timeout=10).status_code == 200


# ---- B15: bounded metrics on their own listener -------------------------------------------


def test_made_up_methods_do_not_grow_the_metrics(haven: HavenProcess) -> None:
    before = len(httpx.get(f"{haven.metrics_base}/metrics").text)
    with httpx.Client(base_url=haven.base) as c:
        for i in range(200):
            c.request(f"M{i:04d}X", f"/{TENANT}/r/list")
    after = httpx.get(f"{haven.metrics_base}/metrics").text
    assert "M0001X" not in after
    assert len(after) - before < 4000
    assert httpx.get(f"{haven.base}/metrics").status_code == 404


# ---- B16: refusals without a token do not flood the audit log -----------------------------


def test_unauthenticated_refusals_are_sampled(haven: HavenProcess) -> None:
    def count() -> int:
        with sqlite3.connect(haven.data / "haven.db") as db:
            return int(db.execute("SELECT count(*) FROM audit").fetchone()[0])

    before = count()
    with httpx.Client(
        base_url=haven.base, headers={"authorization": "Bearer kk_0000000000000000_" + "A" * 43}
    ) as c:
        for i in range(300):
            c.put(f"/victim{i}/r/o/config", content=b"x")
    assert count() - before <= 2
    with sqlite3.connect(haven.data / "haven.db") as db:
        tenants = {r[0] for r in db.execute("SELECT tenant FROM audit WHERE seq > ?", (before,))}
    assert tenants <= {None}


# ---- B17: the audit chain is anchored -----------------------------------------------------


def _verify(haven: HavenProcess, *extra: str) -> tuple[int, str, str]:
    return kaikyo("haven", "audit", "verify", "--data", str(haven.data), *extra)


def test_audit_verify_detects_truncation_wipe_and_recomputation(
    tmp_path: Path, tok: dict[str, str], haven: HavenProcess
) -> None:
    code, out, _ = _verify(haven, "--json")
    assert code == 0, out
    head = json.loads(out)["head"]
    copy = tmp_path / "copy"
    db = haven.data / "haven.db"
    shutil.copytree(haven.data, copy, ignore=shutil.ignore_patterns("objects", "trash"))
    victim = copy / "haven.db"

    def run(*extra: str) -> tuple[int, str]:
        code, out, err = kaikyo("haven", "audit", "verify", "--data", str(copy), *extra)
        return code, err

    assert run()[0] == 0
    with sqlite3.connect(victim) as conn:  # the newest rows removed
        conn.execute("DELETE FROM audit WHERE seq > (SELECT max(seq) - 3 FROM audit)")
    code, err = run()
    assert code == 15 and "newest entries were removed" in err, err
    with sqlite3.connect(victim) as conn:  # every row removed
        conn.execute("DELETE FROM audit")
    code, err = run()
    assert code == 15 and "gone" in err, err
    # Edited and recomputed: a fresh copy, one row changed, the chain rebuilt after it.
    with sqlite3.connect(db) as live, sqlite3.connect(victim) as fresh:
        live.backup(fresh)  # the WAL too: a plain file copy would miss the newest rows
    _recompute_after_edit(victim)
    code, err = run()
    assert code == 15 and "differs from what was anchored" in err, err
    # Without the anchor file, the head kept from an earlier verify still catches it.
    (copy / "audit.anchor").unlink()
    code, err = run("--expect", head)
    assert code == 15 and "not the one expected" in err, err


def _recompute_after_edit(path: Path) -> None:
    """Edit the second row and recompute every hash after it, as an attacker with write
    access to the database would."""
    import sqlalchemy as sa

    from kaikyo.server import audit
    from kaikyo.server.db import Database
    from kaikyo.server.db import audit as table

    database = Database(f"sqlite:///{path}")
    with database.write() as conn:
        prev = audit.GENESIS
        for i, row in enumerate(conn.execute(sa.select(table).order_by(table.c.seq)).all()):
            entry = audit._entry(row)
            if i == 1:
                entry = replace(entry, result="forged")
            digest = audit._digest(prev, entry)
            conn.execute(
                table.update()
                .where(table.c.seq == row.seq)
                .values(result=entry.result, prev_hash=prev, hash=digest)
            )
            prev = digest
    database.close()


# ---- B18: odd ranges and lengths are 4xx, never 500 ---------------------------------------


@pytest.mark.parametrize(
    "header",
    ["bytes=²-", "bytes=" + "9" * 4300 + "-", "bytes=0-" + "1" * 30, "bytes=-5", "bytes=٣-"],
)
def test_odd_ranges_are_refused(haven: HavenProcess, tok: dict[str, str], header: str) -> None:
    data = os.urandom(100)
    url = f"/{TENANT}/rng/o/{name_of('data/', data)}"
    with http(haven, tok["admin"]) as c:
        put(c, url, data)
        raws = {header.encode("utf-8")}
        try:
            raws.add(header.encode("latin-1"))  # how the server reads header bytes
        except UnicodeEncodeError:
            pass
        for raw in raws:
            assert c.get(url, headers={"range": raw}).status_code == 416, raw


def test_odd_content_lengths_are_refused(haven: HavenProcess, tok: dict[str, str]) -> None:
    with socket.create_connection((haven.host, haven.port)) as sock:
        sock.sendall(
            (
                f"PUT /{TENANT}/r/o/config HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {tok['admin']}\r\n"
                "Content-Length: ²\r\n\r\n"
            ).encode()
        )
        sock.settimeout(10)
        line = sock.recv(4096).split(b"\r\n")[0]
    assert b" 400 " in line or b" 411 " in line, line


def test_unlock_with_a_restore_token_cannot_remove_a_live_prune_lock(
    haven: HavenProcess, tok: dict[str, str], tmp_path: Path
) -> None:
    """B11 through the engine: a restore token's 'unlock --remove-all' is refused for the
    admin's exclusive lock, in one line per lock, and a backup still sees the lock."""
    from kaikyo.clock import SYSTEM_CLOCK
    from kaikyo.repo import Lock, Repository
    from kaikyo.store import StoreOptions
    from kaikyo.store.http import HttpStore

    url = haven.url(TENANT, "unlockme")
    env = {
        "KAIKYO_REPOSITORY": url,
        "KAIKYO_PASSWORD": "pw",
        "KAIKYO_CACHE_DIR": str(tmp_path / "cache"),
    }
    assert kaikyo("init", env={**env, "KAIKYO_TOKEN": tok["admin"]})[0] == 0
    store = HttpStore(url, StoreOptions(token=tok["admin"]))
    held = Lock(Repository.open(store, "pw"), SYSTEM_CLOCK, exclusive=True).acquire()
    try:
        code, _, err = kaikyo("unlock", "--remove-all", env={**env, "KAIKYO_TOKEN": tok["restore"]})
        assert code == 17 and "was made by token" in err, err
        assert [ln for ln in err.splitlines() if ln.startswith("kaikyo: error:")]
        code, _, err = kaikyo("backup", str(tmp_path), env={**env, "KAIKYO_TOKEN": tok["backup"]})
        assert code == 13, err  # the prune's lock is still there
    finally:
        held.release()
        store.close()
