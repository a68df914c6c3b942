"""The haven client believes only the protocol (issue 10, C19-C20): a proxy that redirects
PUTs, or a server that answers with malformed headers or listings, makes a command fail in
one line (exit 18), never print "saved"."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .conftest import Haven, Kaikyo
from .test_errors import assert_error

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def fake_server(answer: Handler) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 whose every request goes to ``answer``."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _any(self) -> None:
            answer(self)

        do_GET = do_HEAD = do_PUT = do_DELETE = _any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _reply(
    h: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    length = int(h.headers.get("content-length") or 0)
    if length:
        h.rfile.read(length)
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    if "content-length" not in {k.lower() for k in (headers or {})}:
        h.send_header("content-length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


def redirecting_proxy(upstream: str) -> Handler:
    """Forwards reads to the real haven; answers every PUT with a redirect, storing nothing."""

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.command == "PUT":
            _reply(h, 307, headers={"location": "https://elsewhere.example/"})
            return
        r = httpx.request(
            h.command,
            upstream + h.path,
            headers={k: v for k, v in h.headers.items() if k.lower() != "host"},
        )
        _reply(
            h,
            r.status_code,
            r.content,
            {
                k: v
                for k, v in r.headers.items()
                if k.lower() in ("content-length", "x-kaikyo-mtime", "content-type")
            },
        )

    return answer


def test_a_redirected_put_is_not_saved(haven: Haven, tmp_path: Path) -> None:
    k = haven.new(tmp_path / "cache").init()
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"data" * 1000)
    url = k.env["KAIKYO_REPOSITORY"]
    base, _, path = url.partition("//")[2].partition("/")
    with fake_server(redirecting_proxy(f"http://{base}")) as proxy:
        run = k(
            "backup",
            src,
            env={"KAIKYO_REPOSITORY": f"{proxy}/{path}", "KAIKYO_RETRY_LIMIT": "20s"},
            expect=None,
        )
    line = assert_error(run, 18, "answered HTTP 307")
    assert "saved" not in run.out and "elsewhere.example" in line
    assert k("snapshots", "--json").json() == []


@pytest.mark.parametrize("bad", ["length", "mtime", "list-json", "list-name", "list-size"])
def test_malformed_answers_are_one_line(tmp_path: Path, bad: str) -> None:
    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.command == "HEAD":
            if bad == "length":
                _reply(h, 200, headers={"content-length": "lots"})
            elif bad == "mtime":
                _reply(h, 200, headers={"x-kaikyo-mtime": "yesterday"})
            else:
                _reply(h, 200)
            return
        if h.path.startswith("/t/r/list"):
            line = {
                "list-json": b"{not json\n",
                "list-name": json.dumps({"name": "../../etc", "size": 1}).encode() + b"\n",
                "list-size": json.dumps({"name": "keys/" + "a" * 64, "size": "big"}).encode()
                + b"\n",
            }.get(bad, b"")
            _reply(h, 200, line, {"content-type": "application/x-ndjson"})
            return
        _reply(h, 404, b'{"error": "ObjectNotFound", "message": "no"}')

    with fake_server(answer) as server:
        k = Kaikyo(
            tmp_path / "unused",
            tmp_path / "cache",
            url=f"{server}/t/r",
            token="kk_0000000000000000_" + "A" * 43,
        )
        # A malformed answer is permanent: no retry (the limit only bounds a wrong guess).
        run = k("snapshots", env={"KAIKYO_RETRY_LIMIT": "20s"}, expect=None)
    assert "retrying" not in run.err
    assert_error(run, 18, "the haven")
