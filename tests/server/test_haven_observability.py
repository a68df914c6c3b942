"""What an operator watches: the access log and /metrics of a real ``kaikyo serve``.

Requests go over HTTP to the process; the log lines are read from the file (or standard
output) it writes, and /metrics is scraped from its operator listener and read with
prometheus_client's parser, then held to the naming conventions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kaikyo.testing import metrics
from kaikyo.testing.cli import kaikyo
from kaikyo.testing.haven import HavenProcess

TENANT = "obs"
QUOTA = 10_000_000
TEXT_LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<remote>\S+) (?P<tenant>\S+) "
    r'(?P<token_id>\S+) "(?P<method>\S+) (?P<path>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) '
    r"(?P<bytes_in>\d+) (?P<bytes_out>\d+) (?P<seconds>\d+\.\d{6})"
)


def data_name(blob: bytes) -> str:
    h = hashlib.sha256(blob).hexdigest()
    return f"data/{h[:2]}/{h}"


@pytest.fixture(scope="module")
def json_haven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HavenProcess, Path]]:
    base = Path(tmp_path_factory.mktemp("obs"))
    log = base / "access.jsonl"
    proc = HavenProcess(
        base / "data",
        metrics=True,
        extra=("--access-log", str(log), "--access-log-format", "json"),
    )
    proc.tenant(TENANT, "--quota-bytes", str(QUOTA))
    proc.tenant("free")  # no quota: no quota sample
    proc.start()
    yield proc, log
    proc.stop()


@pytest.fixture(scope="module")
def token(json_haven: tuple[HavenProcess, Path]) -> str:
    return json_haven[0].token(TENANT, "backup")


def entries(log: Path, after: int = 0) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()[after:]]


def wait_lines(log: Path, n: int, after: int = 0) -> list[dict[str, Any]]:
    """The log is written as each response ends: give the server a moment."""
    deadline = time.monotonic() + 10
    while len(found := entries(log, after) if log.exists() else []) < n:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def test_json_access_log_has_one_line_per_request(
    json_haven: tuple[HavenProcess, Path], token: str
) -> None:
    haven, log = json_haven
    before = len(log.read_text().splitlines()) if log.exists() else 0
    blob = os.urandom(1500)
    name = data_name(blob)
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=haven.base, timeout=30) as c:
        assert c.put(f"/{TENANT}/r/o/{name}", content=blob, headers=auth).status_code == 201
        assert (
            c.get(f"/{TENANT}/r/o/{name}", headers={**auth, "range": "bytes=0-99"}).status_code
            == 206
        )
        overwrite = {**auth, "x-kaikyo-overwrite": "1"}
        url = f"/{TENANT}/r/o/{name}?x=kk_secret_in_query"
        assert c.put(url, content=blob, headers=overwrite).status_code == 403
        assert (
            c.get(f"/{TENANT}/r/list", headers={"authorization": "Bearer nope"}).status_code == 401
        )
        assert c.get(f"/{TENANT}/r/o/kk_0123456789abcdef_{'s' * 43}").status_code == 401
    rows = wait_lines(log, 5, before)
    assert len(rows) == 5
    put, ranged, refused, unknown, pasted = rows
    assert set(put) == {
        "time", "remote", "tenant", "token_id", "method", "path", "status",
        "bytes_in", "bytes_out", "seconds",
    }  # fmt: skip
    assert (put["method"], put["path"], put["status"]) == ("PUT", f"/{TENANT}/r/o/{name}", 201)
    assert (put["bytes_in"], put["tenant"], put["remote"]) == (1500, TENANT, "127.0.0.1")
    assert put["token_id"] == token.split("_")[1]
    assert 0 <= put["seconds"] < 30 and put["time"].endswith("Z")
    assert (ranged["status"], ranged["bytes_out"], ranged["bytes_in"]) == (206, 100, 0)
    # A backup token may not overwrite: refused, yet known; the query string is never logged.
    assert (refused["status"], refused["tenant"]) == (403, TENANT)
    assert refused["path"] == f"/{TENANT}/r/o/{name}"
    assert (unknown["status"], unknown["tenant"], unknown["token_id"]) == (401, None, None)
    # A token pasted into a path keeps its public id, never its secret.
    assert pasted["path"] == f"/{TENANT}/r/o/kk_0123456789abcdef_REDACTED"
    text = log.read_text()
    assert token.split("_")[2] not in text and "s" * 43 not in text
    assert "kk_secret_in_query" not in text


def test_metrics_follow_the_conventions(json_haven: tuple[HavenProcess, Path], token: str) -> None:
    haven, _ = json_haven
    blob = os.urandom(2000)
    with httpx.Client(base_url=haven.base, timeout=30) as c:
        r = c.put(
            f"/{TENANT}/m/o/{data_name(blob)}",
            content=blob,
            headers={"authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201
    text = httpx.get(f"{haven.metrics_base}/metrics").text
    assert metrics.convention_problems(text, prefixes=("kaikyo_", "process_")) == []
    families = {
        "kaikyo_haven_requests_total",
        "kaikyo_haven_received_bytes_total",
        "kaikyo_haven_sent_bytes_total",
        "kaikyo_haven_errors_total",
        "kaikyo_haven_request_duration_seconds",
        "kaikyo_tenant_used_bytes",
        "kaikyo_tenant_quota_bytes",
    }
    assert {f"# TYPE {f} " in text for f in families} == {True}
    assert "bytes_in" not in text and "bytes_out" not in text  # the old names are gone
    # Per-tenant usage and quota, as `kaikyo tenant show` reports them.
    shown = haven.op("tenant", "show", TENANT)
    used = metrics.value(text, "kaikyo_tenant_used_bytes", tenant=TENANT)
    assert used == shown["used_bytes"] and used >= 2000
    assert metrics.value(text, "kaikyo_tenant_quota_bytes", tenant=TENANT) == QUOTA
    assert metrics.value(text, "kaikyo_tenant_used_bytes", tenant="free") == 0
    assert metrics.value(text, "kaikyo_tenant_quota_bytes", tenant="free") is None
    received = metrics.value(text, "kaikyo_haven_received_bytes_total", tenant=TENANT)
    assert received is not None and received >= 2000
    count = metrics.value(text, "kaikyo_haven_request_duration_seconds_count", method="PUT")
    inf = metrics.value(
        text, "kaikyo_haven_request_duration_seconds_bucket", method="PUT", le="+Inf"
    )
    assert count is not None and count == inf
    # A quota change shows at the next scrape: the gauges are read from the haven, not cached.
    haven.op("tenant", "quota", TENANT, "--bytes", "20000000")
    again = httpx.get(f"{haven.metrics_base}/metrics").text
    assert metrics.value(again, "kaikyo_tenant_quota_bytes", tenant=TENANT) == 20_000_000


def test_the_convention_check_can_fail() -> None:
    bad = (
        "# HELP a_requests Requests.\n# TYPE a_requests counter\na_requests 1\n"
        "# TYPE b_latency_ms gauge\nb_latency_ms 3\n"
        "# HELP c_bytes_total_in In.\n# TYPE c_bytes_total_in counter\nc_bytes_total_in 2\n"
        "d_orphan 1\n"
    )
    problems = metrics.convention_problems(bad, prefixes=("a_", "b_", "c_", "d_"))
    assert problems == [
        "d_orphan: sample of no declared family",
        "a_requests: a counter that does not end in _total",
        "b_latency_ms: no HELP",
        "b_latency_ms: not in a base unit (seconds, bytes)",
        "c_bytes_total_in: a counter that does not end in _total",
        "c_bytes_total_in: the unit goes before _total (..._bytes_total)",
    ]


def test_text_access_log_on_standard_output(tmp_path: Path) -> None:
    haven = HavenProcess(tmp_path / "data", extra=("--access-log", "-"))
    haven.tenant("plain")
    tok = haven.token("plain", "admin")
    haven.start()
    try:
        with httpx.Client(base_url=haven.base, timeout=30) as c:
            auth = {"authorization": f"Bearer {tok}"}
            assert c.put("/plain/r/o/config", content=b"cfg", headers=auth).status_code == 201
            assert c.get('/plain/r/o/a"b', headers=auth).status_code in (400, 404)
            assert c.request("BREW", "/plain/r/list").status_code == 405
        deadline = time.monotonic() + 10
        while len(lines := [m for ln in haven.log.read_text().splitlines()
                            if (m := TEXT_LINE.fullmatch(ln))]) < 4:  # fmt: skip
            assert time.monotonic() < deadline, haven.log.read_text()
            time.sleep(0.05)
    finally:
        haven.stop()
    by_path = {m["path"]: m for m in lines}
    put = by_path["/plain/r/o/config"]
    assert (put["method"], put["status"], put["bytes_in"], put["tenant"]) == (
        "PUT",
        "201",
        "3",
        "plain",
    )
    assert put["token_id"] == tok.split("_")[1]
    assert '/plain/r/o/a\\"b' in by_path  # the quote is escaped: the line stays parseable
    brew = by_path["/plain/r/list"]
    assert (brew["method"], brew["status"], brew["tenant"]) == ("BREW", "405", "-")
    assert tok.split("_")[2] not in haven.log.read_text()


def test_control_characters_are_escaped_in_text() -> None:
    from kaikyo.server.accesslog import AccessRecord, format_text

    rec = AccessRecord(0.0, None, None, None, "GET", "/a\nb\x1b[31m\u0085\\", 400, 0, 12, 0.5)
    line = format_text(rec)
    assert (
        line == '1970-01-01T00:00:00.000Z - - - "GET /a\\x0ab\\x1b[31m\\x85\\\\" 400 0 12 0.500000'
    )
    assert "\n" not in line


def test_access_log_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, _, err = kaikyo(
        "serve", "--data", data, "--listen", "127.0.0.1:0", "--access-log", tmp_path / "no" / "x"
    )
    assert code == 23
    assert err.startswith("kaikyo: error: cannot open the access log ") and err.count("\n") == 1
    assert not data.exists()  # refused before anything was made
    code, _, err = kaikyo(
        "serve", "--data", data, "--access-log", "-", "--access-log-format", "xml"
    )
    assert code == 64 and "--access-log-format" in err and err.count("\n") == 1
