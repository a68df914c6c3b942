"""The haven's ASGI app called in this process: no server, no socket, no subprocess.

A real :class:`~kaikyo.server.admin.Haven` (SQLite database and object area in a temporary
directory, a :class:`FakeClock` for its time) behind :func:`~kaikyo.server.app.create_app`,
driven through ``httpx.ASGITransport``. Pins what the object protocol answers: status codes,
which scope may do what, the name and segment grammars, Content-Length and size limits,
ranges, receive times, listings, trash and tombstones, and the operator listener. The same
rules against a real ``kaikyo serve`` process: test_haven_access.py, test_haven_hardening.py.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import string
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kaikyo.server import Haven, create_app
from kaikyo.server.handlers import READ_CHUNK
from kaikyo.server.openapi import openapi_document
from kaikyo.server.settings import HavenSettings
from kaikyo.server.tokens import Scope
from kaikyo.store.errors import InvalidName
from kaikyo.store.names import validate_name
from kaikyo.store.wire import MAX_LOCK_BYTES
from kaikyo.testing import metrics
from kaikyo.testing.clock import FakeClock

T0 = 1_750_000_000.5  # exact in binary: receive times read back as the very same float
PORT, METRICS_PORT = 8080, 9100
MAX_BODY = READ_CHUNK * 5 // 2  # room for a streamed (multi-chunk) object, still cheap
MAX_LOCKS = 3


def named(prefix: str, data: bytes) -> str:
    h = hashlib.sha256(data).hexdigest()
    return f"data/{h[:2]}/{h}" if prefix == "data/" else prefix + h


def quoted(text: str) -> str:
    """Every byte percent-encoded: the app sees exactly ``text`` (no dot-segment folding)."""
    return "".join(f"%{b:02X}" for b in text.encode())


class Local:
    """One haven in this process: data directory, clock, ASGI app."""

    def __init__(self, root: Path) -> None:
        self.data = root / "data"
        self.clock = FakeClock(T0)
        settings = HavenSettings(
            data_dir=self.data, max_body=MAX_BODY, max_locks_per_token=MAX_LOCKS
        )
        self.haven = Haven(settings, self.clock, create=True)
        self.app = create_app(self.haven, metrics_port=METRICS_PORT)
        self._repos = itertools.count()

    def repo(self) -> str:
        return f"r{next(self._repos)}"

    def token(self, tenant: str, scope: str, expires_at: float | None = None) -> str:
        return self.haven.issue_token(tenant, Scope(scope), expires_at).text

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        content: bytes | AsyncIterator[bytes] | None = None,
        headers: dict[str, str | bytes] | None = None,
        port: int = PORT,
    ) -> httpx.Response:
        sent: dict[str, str | bytes] = {"authorization": f"Bearer {token}"} if token else {}
        sent.update(headers or {})

        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=f"http://h:{port}") as c:
                return await c.request(method, path, content=content, headers=sent)

        response = anyio.run(call)
        if response.status_code >= 400:  # the wire's promise: no server paths in messages
            assert str(self.data) not in response.text
        return response

    def put(self, url: str, token: str, data: bytes, **headers: str | bytes) -> httpx.Response:
        return self.request("PUT", url, token, data, dict(headers))

    def files(self) -> set[Path]:
        """Every file under the object area and the trash, temporary uploads included."""
        return {
            p
            for area in (self.haven.settings.objects_root, self.haven.settings.trash_root)
            for p in area.rglob("*")
            if p.is_file()
        }

    def usage(self, tenant: str) -> tuple[int, int]:
        shown = self.haven.show_tenant(tenant)
        return shown["used_bytes"], shown["used_objects"]


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    local = Local(tmp_path_factory.mktemp("inprocess"))
    local.haven.add_tenant("acme")
    local.haven.add_tenant("loose", verify_names=False)
    local.haven.add_tenant("globex")
    yield local
    local.haven.close()


@pytest.fixture(scope="module")
def admin(h: Local) -> str:
    return h.token("acme", "admin")


def error(r: httpx.Response) -> str:
    kind: str = r.json()["error"]
    return kind


# ---- which scope may do what, through the Guard ---------------------------------------------

OPS = ("get", "head", "list", "put-new", "put-existing", "overwrite", "delete", "lock", "unlock")
EXPECTED = {
    "backup": (200, 200, 200, 201, 409, 403, 403, 201, 204),
    "restore": (200, 200, 200, 403, 403, 403, 403, 201, 204),
    "admin": (200, 200, 200, 201, 409, 201, 204, 201, 204),
}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("scope", sorted(EXPECTED))
def test_what_each_scope_may_do(h: Local, admin: str, scope: str, op: str) -> None:
    base = f"/acme/{h.repo()}"
    stored = os.urandom(100)
    assert h.put(f"{base}/o/config", admin, b"config v1").status_code == 201
    assert h.put(f"{base}/o/{named('data/', stored)}", admin, stored).status_code == 201
    token = h.token("acme", scope)  # fresh: its locks are its own
    fresh, lock = os.urandom(100), os.urandom(100)
    before = h.files()
    if op == "get":
        r = h.request("GET", f"{base}/o/{named('data/', stored)}", token)
        assert r.content == stored
    elif op == "head":
        r = h.request("HEAD", f"{base}/o/{named('data/', stored)}", token)
        assert r.headers["content-length"] == "100" and r.content == b""
    elif op == "list":
        r = h.request("GET", f"{base}/list", token)
        assert {json.loads(line)["name"] for line in r.text.splitlines()} == {
            "config",
            named("data/", stored),
        }
    elif op == "put-new":
        r = h.put(f"{base}/o/{named('data/', fresh)}", token, fresh)
    elif op == "put-existing":  # never an overwrite, even with the same bytes
        r = h.put(f"{base}/o/{named('data/', stored)}", token, stored)
    elif op == "overwrite":
        r = h.put(f"{base}/o/config", token, b"config v2", **{"x-kaikyo-overwrite": "1"})
        v = h.request("GET", f"{base}/o/config", admin).content
        assert v == (b"config v2" if r.status_code == 201 else b"config v1")
    elif op == "delete":
        r = h.request("DELETE", f"{base}/o/{named('data/', stored)}", token)
        left = h.request("HEAD", f"{base}/o/{named('data/', stored)}", admin).status_code
        assert left == (404 if r.status_code == 204 else 200)
    elif op == "lock":
        r = h.put(f"{base}/o/{named('locks/', lock)}", token, lock)
    else:
        assert h.put(f"{base}/o/{named('locks/', lock)}", token, lock).status_code == 201
        r = h.request("DELETE", f"{base}/o/{named('locks/', lock)}", token)
        assert h.request("HEAD", f"{base}/o/{named('locks/', lock)}", admin).status_code == 404
    assert r.status_code == EXPECTED[scope][OPS.index(op)], r.text
    if r.status_code == 403:
        assert error(r) == "StorePermissionDenied"
        assert r.json()["message"].startswith(f"a {scope} token may not ")
        assert h.files() == before  # a refusal changes nothing on disk
    if r.status_code == 409:
        assert error(r) == "ObjectExists"


def test_a_refusal_is_audited_and_a_read_is_not(h: Local) -> None:
    token = h.token("acme", "backup")
    base = f"/acme/{h.repo()}"
    data = os.urandom(50)
    assert h.put(f"{base}/o/{named('data/', data)}", token, data).status_code == 201
    assert h.request("GET", f"{base}/o/{named('data/', data)}", token).status_code == 200
    assert h.request("DELETE", f"{base}/o/{named('data/', data)}", token).status_code == 403
    token_id = token.split("_")[1]
    rows = [r for r in h.haven.show_tenant("acme", 200)["audit_tail"] if r["token_id"] == token_id]
    assert [(r["action"], r["result"], r["object"]) for r in rows] == [
        ("put", "ok", named("data/", data)),
        ("delete", "StorePermissionDenied", named("data/", data)),
    ]
    assert rows[0]["bytes"] == 50


# ---- credentials ----------------------------------------------------------------------------


def test_missing_malformed_and_unknown_tokens_are_401(h: Local, admin: str) -> None:
    tid = admin.split("_")[1]
    for header in (
        None,
        "",
        "Bearer",
        "Bearer kk_nothing",
        f"Basic {admin}",  # right token, wrong scheme
        f"Bearer kk_{tid}_" + "A" * 43,  # right id, wrong secret
        "Bearer kk_0123456789abcdef_" + "A" * 43,
    ):
        headers = {} if header is None else {"authorization": header}
        r = h.request("GET", "/acme/main/list", headers=headers)
        assert r.status_code == 401 and error(r) == "StoreAuthFailed", header
        assert h.request("HEAD", "/acme/main/o/config", headers=headers).content == b""
    assert h.request("GET", "/acme/main/list", admin).status_code == 200


def test_a_token_reaches_only_its_own_tenant(h: Local) -> None:
    data = os.urandom(64)
    acme = h.token("acme", "admin")
    assert h.put(f"/acme/iso/o/{named('data/', data)}", acme, data).status_code == 201
    intruder = h.token("globex", "admin")
    for method in ("GET", "HEAD", "DELETE"):
        r = h.request(method, f"/acme/iso/o/{named('data/', data)}", intruder)
        assert r.status_code == 403, method
    r = h.request("GET", "/acme/iso/list", intruder)
    assert r.status_code == 403 and "not valid for tenant acme" in r.json()["message"]
    assert h.put(f"/acme/iso/o/{named('data/', b'x')}", intruder, b"x").status_code == 403
    assert h.request("GET", "/globex/iso/list", intruder).text == ""  # its own: empty


def test_revoked_and_expired_tokens_by_the_havens_clock(h: Local) -> None:
    revoked = h.token("acme", "restore")
    assert h.request("GET", "/acme/main/list", revoked).status_code == 200
    h.haven.revoke_token(revoked)
    r = h.request("GET", "/acme/main/list", revoked)
    assert r.status_code == 401 and r.json()["message"] == "token revoked"
    expiring = h.token("acme", "restore", expires_at=h.clock.now() + 60)
    h.clock.advance(59)
    assert h.request("GET", "/acme/main/list", expiring).status_code == 200
    h.clock.advance(1)  # expires_at <= now: expired
    r = h.request("GET", "/acme/main/list", expiring)
    assert r.status_code == 401 and r.json()["message"] == "token expired"


def test_a_suspended_tenant_is_refused_until_resumed(h: Local) -> None:
    h.haven.add_tenant("initech")
    token = h.token("initech", "admin")
    h.haven.set_suspended("initech", True)
    r = h.request("GET", "/initech/main/list", token)
    assert r.status_code == 403 and "suspended" in r.json()["message"]
    h.haven.set_suspended("initech", False)
    assert h.request("GET", "/initech/main/list", token).status_code == 200


# ---- names ----------------------------------------------------------------------------------

STORE_CHARS = string.ascii_lowercase + string.digits + "._-"
segments = st.text(alphabet=STORE_CHARS + "A/ .é\x00\\%\n\r", max_size=12)
# Near the grammar (its own characters, a few outside it, dots, slashes) and anything at all.
any_names = st.one_of(
    st.lists(segments, min_size=1, max_size=6).map("/".join),
    st.text(max_size=300),
    st.text(alphabet=STORE_CHARS, min_size=250, max_size=300),
)


def store_grammar(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidName:
        return False
    return True


@settings(max_examples=150, deadline=None)
@given(name=any_names)
def test_any_name_outside_the_grammar_is_refused_by_every_method(
    h: Local, admin: str, name: str
) -> None:
    assume(not store_grammar(name))
    # A control character anywhere in the path is refused before routing; any other name
    # reaches the handlers and is refused there, by name: 400 InvalidName either way.
    refusals = {400}
    loose = h.token("loose", "admin")
    before = h.files()
    for tenant, token in (("acme", admin), ("loose", loose)):
        url = f"/{tenant}/names/o/{quoted(name)}"
        for method in ("PUT", "GET", "DELETE", "HEAD"):
            r = h.request(method, url, token, b"x" if method == "PUT" else None)
            assert r.status_code in refusals, (method, name, r.text)
            if r.status_code == 400:
                assert r.content == b"" if method == "HEAD" else error(r) == "InvalidName"
    assert h.files() == before


@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x7f", "\t"])
def test_a_name_with_a_control_character_is_refused(h: Local, char: str) -> None:
    """Route patterns end in '$', which also matches before a final newline: without the
    guard, /o/config%0A was stored as config."""
    token = h.token("loose", "admin")
    repo = h.repo()
    for name in (f"config{char}", f"ind{char}ex/ab", f"config{char}/"):
        r = h.put(f"/loose/{repo}/o/{quoted(name)}", token, b"x")
        assert r.status_code == 400 and error(r) == "InvalidName", (name, r.status_code)
    assert h.request("GET", f"/loose/{repo}/o/config", token).status_code == 404


store_names = st.lists(
    st.text(alphabet=STORE_CHARS, min_size=1, max_size=20), min_size=1, max_size=4
).map("/".join)


@settings(max_examples=100, deadline=None)
@given(name=store_names)
def test_a_store_name_is_kept_only_by_a_tenant_that_does_not_verify_names(
    h: Local, admin: str, name: str
) -> None:
    """Outside the repository grammar (a hash-named object, or config): refused by a tenant
    that verifies names (the default), stored as sent by one that does not."""
    assume(store_grammar(name) and name != "config")
    repo = h.repo()
    r = h.put(f"/acme/{repo}/o/{quoted(name)}", admin, b"some bytes")
    assert r.status_code == 400 and error(r) == "InvalidName"
    assert "not part of a kaikyo repository" in r.json()["message"]
    loose = h.token("loose", "admin")
    assert h.put(f"/loose/{repo}/o/{quoted(name)}", loose, b"some bytes").status_code == 201
    assert h.request("GET", f"/loose/{repo}/o/{quoted(name)}", loose).content == b"some bytes"


@pytest.mark.parametrize("prefix", ["data/", "index/", "snapshots/", "keys/", "locks/"])
def test_content_must_be_the_hash_of_its_name(h: Local, admin: str, prefix: str) -> None:
    base = f"/acme/{h.repo()}"
    real = os.urandom(300)
    name = named(prefix, real)
    forged = real[:-1] + bytes([real[-1] ^ 1])
    usage, before = h.usage("acme"), h.files()
    r = h.put(f"{base}/o/{name}", admin, forged)
    assert r.status_code == 422 and r.json() == {
        "error": "StoreCorrupt",
        "message": f"content of {name} does not match its name",
    }
    assert h.files() == before and h.usage("acme") == usage  # no object, no temp, no usage
    assert h.put(f"{base}/o/{name}", admin, real).status_code == 201
    assert h.usage("acme") == (usage[0] + 300, usage[1] + 1)
    upper = name[: -len(real.hex())] + hashlib.sha256(real).hexdigest().upper()
    assert h.put(f"{base}/o/{upper}", admin, real).status_code == 400


def test_the_fan_out_directory_must_match_the_hash(h: Local, admin: str) -> None:
    data = os.urandom(10)
    digest = hashlib.sha256(data).hexdigest()
    wrong = "00" if digest[:2] != "00" else "01"
    r = h.put(f"/acme/{h.repo()}/o/data/{wrong}/{digest}", admin, data)
    assert r.status_code == 400 and "fan-out directory" in r.json()["message"]


LOWER_DIGITS = string.ascii_lowercase + string.digits


def segment_grammar(text: str) -> bool:
    """1 to 64 of [a-z0-9._-], starting with a letter or a digit."""
    return 1 <= len(text) <= 64 and text[0] in LOWER_DIGITS and set(text) <= set(STORE_CHARS)


any_segments = st.one_of(
    st.text(alphabet=STORE_CHARS + "A.é\x00 %", min_size=1, max_size=8),
    st.text(alphabet=LOWER_DIGITS, min_size=60, max_size=70),
    st.sampled_from([".", "..", "-x", "_x", ".x", "x.", "ACME", "a" * 64, "a" * 65]),
    st.text(min_size=1, max_size=70),
).filter(lambda s: "/" not in s and not s.endswith("\n"))


@settings(max_examples=200, deadline=None)
@given(segment=any_segments)
def test_tenant_and_repository_names_are_checked_before_the_token(
    h: Local, admin: str, segment: str
) -> None:
    r = h.request("GET", f"/{quoted(segment)}/main/list")  # no token at all
    assert r.status_code == (401 if segment_grammar(segment) else 400), (segment, r.text)
    r = h.request("GET", f"/acme/{quoted(segment)}/list", admin)
    assert r.status_code == (200 if segment_grammar(segment) else 400), (segment, r.text)
    if r.status_code == 400:
        assert error(r) == "InvalidName"


# ---- Content-Length, sizes, quotas and locks ------------------------------------------------


@pytest.mark.parametrize(
    "length", ["", "abc", "-1", "+1", "1e3", "0x10", "1 0", "1" * 20, "²".encode()]
)
def test_a_put_needs_a_content_length_of_ascii_digits(
    h: Local, admin: str, length: str | bytes
) -> None:
    r = h.put(f"/acme/{h.repo()}/o/config", admin, b"x", **{"content-length": length})
    assert r.status_code == 411 and error(r) == "Refused"


def test_a_streamed_put_without_a_length_is_411(h: Local, admin: str) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"config"

    r = h.request("PUT", f"/acme/{h.repo()}/o/config", admin, body())
    assert r.status_code == 411 and "Content-Length" in r.json()["message"]


def test_the_body_limit_is_inclusive(h: Local) -> None:
    token = h.token("loose", "admin")
    base = f"/loose/{h.repo()}"
    before = h.usage("loose")
    r = h.put(f"{base}/o/too-big", token, bytes(MAX_BODY + 1))
    assert r.status_code == 413 and error(r) == "Refused"
    assert r.json()["message"] == (
        f"object of {MAX_BODY + 1} bytes exceeds the haven's limit of {MAX_BODY}"
    )
    assert h.usage("loose") == before
    assert h.put(f"{base}/o/just-fits", token, bytes(MAX_BODY)).status_code == 201
    assert h.usage("loose") == (before[0] + MAX_BODY, before[1] + 1)


@pytest.mark.parametrize(
    ("declared", "sent", "message"),
    [(100, 60, "ended after 60 of 100"), (60, 100, "longer than its Content-Length")],
)
def test_a_body_that_is_not_its_length_leaves_nothing(
    h: Local, admin: str, declared: int, sent: int, message: str
) -> None:
    usage, before = h.usage("acme"), h.files()
    url = f"/acme/{h.repo()}/o/config"
    r = h.put(url, admin, os.urandom(sent), **{"content-length": str(declared)})
    assert r.status_code == 422 and error(r) == "StoreCorrupt" and message in r.json()["message"]
    assert h.usage("acme") == usage  # the reservation is released
    assert h.files() == before  # no object, no temporary upload
    assert h.request("HEAD", url, admin).status_code == 404


def test_quota_is_reserved_before_any_byte(h: Local) -> None:
    h.haven.add_tenant("tiny", quota_bytes=1000, quota_objects=2)
    token = h.token("tiny", "backup")
    blobs = [os.urandom(600), os.urandom(600), os.urandom(400), os.urandom(1)]
    statuses = [h.put(f"/tiny/q/o/{named('data/', b)}", token, b).status_code for b in blobs]
    assert statuses == [201, 507, 201, 507]  # 600 + 400 = 1000 bytes: full, and 2 objects
    r = h.put(f"/tiny/q/o/{named('data/', blobs[1])}", token, blobs[1])
    assert error(r) == "StoreQuotaExceeded" and "1000 of 1000 bytes" in r.json()["message"]
    assert h.usage("tiny") == (1000, 2)
    # A name that exists is refused as such before any quota is asked for.
    r = h.put(f"/tiny/q/o/{named('data/', blobs[0])}", token, blobs[0])
    assert r.status_code == 409 and error(r) == "ObjectExists"
    assert h.request("HEAD", f"/tiny/q/o/{named('data/', blobs[1])}", token).status_code == 404


def test_locks_are_small_few_and_need_a_repository(h: Local, admin: str) -> None:
    repo = h.repo()
    assert h.put(f"/acme/{repo}/o/config", admin, b"c").status_code == 201
    token = h.token("acme", "restore")
    at_limit, over = os.urandom(MAX_LOCK_BYTES), os.urandom(MAX_LOCK_BYTES + 1)
    r = h.put(f"/acme/{repo}/o/{named('locks/', over)}", token, over)
    assert r.status_code == 403 and f"larger than the {MAX_LOCK_BYTES}" in r.json()["message"]
    made = [at_limit] + [os.urandom(10) for _ in range(MAX_LOCKS - 1)]
    for lock in made:
        assert h.put(f"/acme/{repo}/o/{named('locks/', lock)}", token, lock).status_code == 201
    one_more = os.urandom(10)
    r = h.put(f"/acme/{repo}/o/{named('locks/', one_more)}", token, one_more)
    assert r.status_code == 403 and f"already holds {MAX_LOCKS} locks" in r.json()["message"]
    assert (
        h.request("DELETE", f"/acme/{repo}/o/{named('locks/', made[0])}", token).status_code == 204
    )
    assert h.put(f"/acme/{repo}/o/{named('locks/', one_more)}", token, one_more).status_code == 201
    # A restore token cannot make a repository by locking it.
    other = h.token("acme", "restore")
    r = h.put(f"/acme/nowhere/o/{named('locks/', one_more)}", other, one_more)
    assert r.status_code == 403 and "may not create repository nowhere" in r.json()["message"]
    assert not (h.haven.settings.objects_root / "acme" / "nowhere").exists()


def test_only_the_maker_or_an_admin_removes_a_lock_and_at_once(h: Local, admin: str) -> None:
    repo = h.repo()
    maker, other = h.token("acme", "backup"), h.token("acme", "backup")
    lock = os.urandom(200)
    url = f"/acme/{repo}/o/{named('locks/', lock)}"
    usage = h.usage("acme")
    assert h.put(url, maker, lock).status_code == 201
    r = h.request("DELETE", url, other)
    assert r.status_code == 403 and "was made by token" in r.json()["message"]
    assert h.request("DELETE", url, admin).status_code == 204
    assert h.request("HEAD", url, admin).status_code == 404
    assert h.usage("acme") == usage  # released at once: a lock never goes to the trash
    assert [t for t in h.haven.list_trash("acme") if t["repo"] == repo] == []


# ---- reads: ranges, HEAD, listings ----------------------------------------------------------

SIZES = (0, 1, 100, 257)


@pytest.fixture(scope="module")
def objects(h: Local, admin: str) -> dict[int, tuple[str, bytes]]:
    """Objects of a few sizes in repository ``ranges``: size -> (url, bytes)."""
    out = {}
    for size in SIZES:
        data = os.urandom(size) if size else b""
        url = f"/acme/ranges/o/{named('data/', data)}"
        assert h.put(url, admin, data).status_code in (201, 409)
        out[size] = (url, data)
    return out


@settings(max_examples=300, deadline=None)
@given(size=st.sampled_from(SIZES), a=st.integers(0, 300), b=st.none() | st.integers(0, 300))
def test_a_range_is_served_exactly_or_refused_with_416(
    h: Local, admin: str, objects: dict[int, tuple[str, bytes]], size: int, a: int, b: int | None
) -> None:
    url, data = objects[size]
    end = size if b is None else b + 1  # exclusive; "bytes=a-" runs to the end
    r = h.request("GET", url, admin, headers={"range": f"bytes={a}-{'' if b is None else b}"})
    if a <= end <= size:  # "bytes=5-4" is the empty range at 5: how a client reads 0 bytes
        assert r.status_code == 206
        assert r.content == data[a:end]
        assert r.headers["content-length"] == str(end - a)
        assert r.headers["content-range"] == f"bytes {a}-{end - 1}/{size}"
    else:
        assert r.status_code == 416 and error(r) == "InvalidRange"


@pytest.mark.parametrize(
    "header", ["bytes=-5", "bytes=1-2,4-5", "items=0-1", "bytes=a-b", "bytes=1-" + "9" * 20]
)
def test_ranges_other_than_one_first_last_pair_are_416(
    h: Local, admin: str, objects: dict[int, tuple[str, bytes]], header: str
) -> None:
    r = h.request("GET", objects[100][0], admin, headers={"range": header})
    assert r.status_code == 416 and error(r) == "InvalidRange"
    arabic = "bytes=٠-٤".encode()  # digits, but not ASCII ones
    assert h.request("GET", objects[100][0], admin, headers={"range": arabic}).status_code == 416


def test_a_whole_get_says_it_accepts_ranges(
    h: Local, admin: str, objects: dict[int, tuple[str, bytes]]
) -> None:
    url, data = objects[257]
    r = h.request("GET", url, admin)
    assert (r.status_code, r.content) == (200, data)
    assert r.headers["accept-ranges"] == "bytes" and "content-range" not in r.headers
    assert r.headers["content-type"] == "application/octet-stream"


def test_an_object_larger_than_a_read_chunk_streams_whole_and_in_ranges(
    h: Local, admin: str
) -> None:
    data = os.urandom(READ_CHUNK * 2 + 12345)
    url = f"/acme/{h.repo()}/o/{named('index/', data)}"
    assert h.put(url, admin, data).status_code == 201
    assert h.request("GET", url, admin).content == data
    a, b = READ_CHUNK - 10, 2 * READ_CHUNK + 10  # across both chunk boundaries
    r = h.request("GET", url, admin, headers={"range": f"bytes={a}-{b}"})
    assert r.status_code == 206 and r.content == data[a : b + 1]
    r = h.request("GET", url, admin, headers={"range": f"bytes=0-{len(data)}"})  # one past
    assert r.status_code == 416 and error(r) == "InvalidRange"


def test_receive_time_is_the_havens_clock_in_head_and_listing(h: Local, admin: str) -> None:
    repo = h.repo()
    data = os.urandom(77)
    h.clock.advance(1000.25)
    received = h.clock.now()
    assert h.put(f"/acme/{repo}/o/{named('snapshots/', data)}", admin, data).status_code == 201
    h.clock.advance(5)
    r = h.request("HEAD", f"/acme/{repo}/o/{named('snapshots/', data)}", admin)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == "77"
    assert r.headers["x-kaikyo-mtime"] == repr(received)
    [line] = h.request("GET", f"/acme/{repo}/list", admin).text.splitlines()
    assert json.loads(line) == {"name": named("snapshots/", data), "size": 77, "mtime": received}


def test_a_listing_is_ndjson_filtered_by_prefix(h: Local, admin: str) -> None:
    repo = h.repo()
    blobs = {p: os.urandom(20) for p in ("data/", "index/", "snapshots/")}
    for prefix, data in blobs.items():
        assert h.put(f"/acme/{repo}/o/{named(prefix, data)}", admin, data).status_code == 201
    assert h.put(f"/acme/{repo}/o/config", admin, b"cfg").status_code == 201

    def names(prefix: str) -> list[str]:
        r = h.request("GET", f"/acme/{repo}/list?prefix={prefix}", admin)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/x-ndjson"
        return sorted(json.loads(line)["name"] for line in r.text.splitlines())

    everything = sorted([*(named(p, d) for p, d in blobs.items()), "config"])
    assert names("") == everything
    assert names("index/") == [named("index/", blobs["index/"])]
    assert names("data/") == [named("data/", blobs["data/"])]
    assert names("con") == ["config"]
    assert names("keys/") == []
    r = h.request("GET", f"/acme/{repo}/list?prefix=../", admin)
    assert r.status_code == 400 and error(r) == "InvalidName"
    assert h.request("GET", "/acme/never-made/list", admin).text == ""  # empty, not made
    assert not (h.haven.settings.objects_root / "acme" / "never-made").exists()


def test_missing_objects_and_directories_are_404(h: Local, admin: str) -> None:
    repo = h.repo()
    data = os.urandom(30)
    assert h.put(f"/acme/{repo}/o/{named('data/', data)}", admin, data).status_code == 201
    loose = h.token("loose", "admin")
    for tenant, token, name in (
        ("acme", admin, named("data/", os.urandom(30))),
        ("acme", admin, "data/" + named("data/", data)[5:7]),  # a directory, not an object
        ("loose", loose, "data"),
    ):
        for method in ("GET", "DELETE"):
            r = h.request(method, f"/{tenant}/{repo}/o/{name}", token)
            assert r.status_code == 404 and error(r) == "ObjectNotFound", (method, name)
        assert h.request("HEAD", f"/{tenant}/{repo}/o/{name}", token).status_code == 404


# ---- deletion: trash, tombstones, overwrite -------------------------------------------------


def test_a_deleted_name_goes_to_the_trash_and_is_never_stored_again(h: Local, admin: str) -> None:
    repo = h.repo()
    data = os.urandom(500)
    url = f"/acme/{repo}/o/{named('index/', data)}"
    assert h.put(url, admin, data).status_code == 201
    usage = h.usage("acme")
    deleted_at = h.clock.now()
    assert h.request("DELETE", url, admin).status_code == 204
    assert h.request("GET", url, admin).status_code == 404
    [row] = [t for t in h.haven.list_trash("acme") if t["repo"] == repo]
    assert (row["name"], row["size"], row["deleted_at"]) == (named("index/", data), 500, deleted_at)
    assert h.usage("acme") == usage  # the trash counts until it is purged
    # The same bytes put back (a replay) are refused, whoever sends them.
    r = h.put(url, h.token("acme", "backup"), data)
    assert r.status_code == 410 and error(r) == "ObjectGone"
    assert h.haven.undelete("acme", repo, named("index/", data)).restored == [
        f"{repo}/{named('index/', data)}"
    ]
    assert h.request("GET", url, admin).content == data


def test_config_and_tenants_that_do_not_verify_names_have_no_tombstones(
    h: Local, admin: str
) -> None:
    loose = h.token("loose", "admin")
    for url, token in ((f"/acme/{h.repo()}/o/config", admin), (f"/loose/{h.repo()}/o/x", loose)):
        assert h.put(url, token, b"one").status_code == 201
        assert h.request("DELETE", url, token).status_code == 204
        assert h.put(url, token, b"two").status_code == 201
        assert h.request("GET", url, token).content == b"two"


def test_an_overwrite_keeps_the_old_object_in_the_trash_or_in_place(h: Local, admin: str) -> None:
    repo = h.repo()
    url = f"/acme/{repo}/o/config"
    assert h.put(url, admin, b"old").status_code == 201
    assert h.put(url, admin, b"new").status_code == 409  # no header: no overwrite
    assert h.put(url, admin, b"new", **{"x-kaikyo-overwrite": "1"}).status_code == 201
    assert h.request("GET", url, admin).content == b"new"
    trashed = [(t["name"], t["size"]) for t in h.haven.list_trash("acme") if t["repo"] == repo]
    assert trashed == [("config", 3)]
    # An overwrite whose body does not match its name: 422, the old object stays, no trash.
    data = os.urandom(64)
    named_url = f"/acme/{repo}/o/{named('keys/', data)}"
    assert h.put(named_url, admin, data).status_code == 201
    forged = bytes(64)
    r = h.put(named_url, admin, forged, **{"x-kaikyo-overwrite": "1"})
    assert r.status_code == 422
    assert h.request("GET", named_url, admin).content == data
    assert len([t for t in h.haven.list_trash("acme") if t["repo"] == repo]) == 1


# ---- the app: health, description, operator listener ----------------------------------------


def test_health_and_description_need_no_token(h: Local) -> None:
    r = h.request("GET", "/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    assert h.request("GET", "/openapi.json").json() == openapi_document()
    assert h.request("POST", "/healthz").status_code == 405
    assert h.request("GET", "/nothing/here").status_code == 404


def test_metrics_only_on_the_operator_listener(h: Local, admin: str) -> None:
    repo = h.repo()
    assert h.put(f"/acme/{repo}/o/config", admin, b"abc").status_code == 201
    for i in range(3):
        assert h.request(f"M{i}X", f"/acme/{repo}/list", admin).status_code == 405
    assert h.request("GET", "/metrics").status_code == 404
    r = h.request("GET", "/metrics", port=METRICS_PORT)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    requests = "kaikyo_haven_requests_total"
    put_201 = metrics.value(r.text, requests, tenant="acme", method="PUT", status="201")
    assert put_201 is not None and put_201 >= 1
    other_405 = metrics.value(r.text, requests, tenant="-", method="OTHER", status="405")
    assert other_405 is not None and other_405 >= 3
    assert "M0X" not in r.text  # made-up methods: one bounded label
    assert h.request("GET", "/healthz", port=METRICS_PORT).json() == {"status": "ok"}
    assert h.request("GET", f"/acme/{repo}/list", admin, port=METRICS_PORT).status_code == 404
