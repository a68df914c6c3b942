"""The poisoned repository (issue 10, "done means"): for every object kind and every scope
allowed to write it, plant garbage, truncated, oversized and replayed-old objects, then run
the commands users run. Each command works (naming the planted object where it reads that
kind) or refuses in one line, never with a traceback; afterwards the owner cleans up with the
commands the warnings name, and the backup restores byte-exactly and checks clean.

A local repository is attacked with file access (anyone who can write its directory), a haven
repository with the tokens a thief might hold. Scopes that may not write a kind are refused
by the haven (tested here too).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from integration.conftest import Kaikyo
from kaikyo.clock import SYSTEM_CLOCK
from kaikyo.repo import Lock, Repository
from kaikyo.server.settings import OBJECTS_DIR
from kaikyo.store import StoreOptions, open_store
from kaikyo.testing.cli import CliRun, kaikyo
from kaikyo.testing.compare import assert_trees_equal

from .conftest import TENANT, Havens, content_name

pytestmark = pytest.mark.slow

KINDS = ["config", "keys", "locks", "index", "snapshots", "data"]
PLANTS = ["garbage", "truncated", "oversized", "replayed"]
# Who may write each kind at a haven (an admin token may also overwrite config).
WRITERS = {
    "config": ["admin"],
    "keys": ["backup", "admin"],
    "locks": ["restore", "backup", "admin"],
    "index": ["backup", "admin"],
    "snapshots": ["backup", "admin"],
    "data": ["backup", "admin"],
}
OVERSIZE = {
    "config": 3 << 20,
    "keys": 1 << 20,
    "locks": 64 << 10,
    "index": 3 << 20,
    "snapshots": 3 << 20,
    "data": 20 << 20,
}
COMMANDS: list[tuple[str, ...]] = [
    ("snapshots",),
    ("restore",),
    ("backup",),
    ("check",),
    ("forget", "--keep-last", "2"),
    ("prune",),
    ("unlock",),
]
ERROR_CODES = {10, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22}


@dataclass
class Base:
    """A repository with history: two backups, a key added and removed, a lock taken and
    released, the first snapshot forgotten and pruned. ``history`` holds every object it
    ever stored, so old ones can be put back."""

    kind: str  # local or haven
    root: Path  # where its objects lie on disk
    cache: Path
    src: Path
    history: dict[str, bytes] = field(default_factory=dict)
    other_config: bytes = b""


def _objects(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".tmp" not in p.parts
    }


def _tree(base: Path, seed: int) -> Path:
    import random

    rng = random.Random(seed)
    src = base / "src"
    (src / "docs").mkdir(parents=True)
    for i in range(4):
        (src / f"blob{i}").write_bytes(rng.randbytes(700 * 1024))
    (src / "docs" / "報告書.txt").write_text("海峡を越えて\n" * 200)
    (src / "docs" / "보고서.txt").write_text("해협\n" * 200)
    return src


def _record(base: Base) -> None:
    base.history.update(_objects(base.root))


def _build(kind: str, tmp: Path, havens: Havens | None) -> Base:
    src = _tree(tmp, 1)
    if kind == "local":
        k = Kaikyo(tmp / "repo", tmp / "cache").init()
        other = Kaikyo(tmp / "other", tmp / "cache-other").init()
        root, other_root = k.repo, other.repo
    else:
        assert havens is not None
        url = havens.proc.url(TENANT, "poison-base")
        k = Kaikyo(
            havens.proc.data / OBJECTS_DIR / TENANT / "poison-base",
            tmp / "cache",
            url=url,
            token=havens.tokens["admin"],
        ).init()
        other = Kaikyo(
            havens.proc.data / OBJECTS_DIR / TENANT / "poison-other",
            tmp / "cache-other",
            url=havens.proc.url(TENANT, "poison-other"),
            token=havens.tokens["admin"],
        ).init()
        root, other_root = k.repo, other.repo
    base = Base(kind, root, tmp / "cache", src)
    base.other_config = (other_root / "config").read_bytes()
    first = k.backup(src)["snapshot_id"]
    _record(base)
    (src / "blob0").write_bytes(os.urandom(700 * 1024))
    (src / "blob3").unlink()
    k.backup(src)
    k("key", "add", env={"KAIKYO_NEW_PASSWORD": "a second passphrase"})
    _record(base)
    added = [key["key_id"] for key in k("key", "list", "--json").json() if not key["current"]]
    for key_id in added:
        if any(
            key["key_id"] == key_id and key["kind"] == "passphrase"
            for key in k("key", "list", "--json").json()
        ):
            k("key", "remove", key_id)
    base.history.update(_take_and_release_a_lock(k))
    _record(base)
    k("forget", first)
    k("prune")
    return base


def _take_and_release_a_lock(k: Kaikyo) -> dict[str, bytes]:
    """An exclusive lock, as a prune holds one: its bytes, kept before it is released."""
    url = k.env["KAIKYO_REPOSITORY"]
    store = open_store(url, StoreOptions(token=k.env.get("KAIKYO_TOKEN")))
    try:
        repo = Repository.open(store, k.env["KAIKYO_PASSWORD"])
        lock = Lock(repo, SYSTEM_CLOCK, exclusive=True).acquire()
        kept = {lock.name: store.get(lock.name)}
        lock.release()
        return kept
    finally:
        store.close()


_BASES: dict[str, Base] = {}


@pytest.fixture(scope="module")
def bases(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, Base]:
    havens: Havens = request.getfixturevalue("havens")
    out = {}
    for kind in ("local", "haven"):
        out[kind] = _build(
            kind, tmp_path_factory.mktemp(f"poison-{kind}"), havens if kind == "haven" else None
        )
    return out


_COUNT = iter(range(10_000))


@dataclass
class Copy:
    """A fresh copy of a base repository, its owner's CLI and the attacker's hands."""

    base: Base
    k: Kaikyo
    url: str | None
    tokens: dict[str, str] | None

    def put(self, name: str, data: bytes, scope: str, overwrite: bool = False) -> int:
        if self.url is None:
            path = self.k.repo / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not overwrite:
                return 409
            path.write_bytes(data)
            return 201
        assert self.tokens is not None
        headers = {"authorization": f"Bearer {self.tokens[scope]}"}
        if overwrite:
            headers["x-kaikyo-overwrite"] = "1"
        return httpx.put(
            f"{self.url}/o/{name}", content=data, headers=headers, timeout=60
        ).status_code


def _copy(base: Base, tmp: Path, havens: Havens) -> Copy:
    n = next(_COUNT)
    if base.kind == "local":
        root = tmp / f"repo{n}"
        shutil.copytree(base.root, root)
        return Copy(base, Kaikyo(root, tmp / "cache"), None, None)
    name = f"poison{n}"
    root = havens.proc.data / OBJECTS_DIR / TENANT / name
    shutil.copytree(base.root, root)
    # The copy inherits what the haven knows the original deleted (its tombstones).
    with sqlite3.connect(havens.proc.data / "haven.db", timeout=30) as db:
        db.execute(
            "INSERT INTO tombstones SELECT tenant_id, ?, name, deleted_at FROM "
            "tombstones WHERE repo = ?",
            (name, base.root.name),
        )
    url = havens.proc.url(TENANT, name)
    return Copy(
        base, Kaikyo(root, tmp / "cache", url=url, token=havens.tokens["admin"]), url, havens.tokens
    )


def _current(c: Copy, kind: str) -> dict[str, bytes]:
    prefix = "config" if kind == "config" else kind + "/"
    return {n: d for n, d in _objects(c.k.repo).items() if n.startswith(prefix)}


def _material(c: Copy, kind: str, plant: str) -> tuple[str, bytes, bool]:
    """(name, bytes, overwrite) of what to plant."""
    prefix = kind + "/"
    if plant == "garbage":
        data = os.urandom(300)
    elif plant == "oversized":
        data = os.urandom(OVERSIZE[kind])
    elif plant == "truncated":
        real = sorted(_current(c, kind).items()) or sorted(
            (n, d) for n, d in c.base.history.items() if n.startswith(prefix)
        )
        data = real[0][1][: max(1, len(real[0][1]) // 2)]
    else:  # replayed: an object of this kind the repository once held and no longer does
        now = _current(c, kind)
        old = [(n, d) for n, d in c.base.history.items() if n.startswith(prefix) and n not in now]
        if kind == "config":
            return "config", c.base.other_config, True  # another repository's config
        assert old, f"the base has no deleted {kind} to replay"
        name, data = sorted(old)[0]
        return name, data, False
    if kind == "config":
        return "config", data, True
    return content_name(prefix, data), data, False


def _one_line(run: CliRun, argv: tuple[str, ...]) -> None:
    assert "Traceback" not in run.err, (argv, run.err)
    if run.code == 0:
        return
    assert run.code in ERROR_CODES, (argv, run.code, run.err)
    errors = [ln for ln in run.err.splitlines() if ln.startswith("kaikyo: error:")]
    assert len(errors) == 1, (argv, run.err)


def _commands(c: Copy, tmp: Path) -> dict[str, CliRun]:
    runs = {}
    for i, argv in enumerate(COMMANDS):
        if argv[0] == "restore":
            run = c.k.restore(f"latest:{c.base.src}", tmp / f"out{i}", expect=None)
        elif argv[0] == "backup":
            run = c.k("backup", c.base.src, expect=None)
        else:
            run = c.k(*argv, expect=None)
        _one_line(run, argv)
        runs[argv[0]] = run
    return runs


def _clean_up(c: Copy, kind: str, name: str) -> None:
    """What the owner does, following the warnings: the commands they name."""
    k = c.k
    if kind == "config":
        if c.url is None:  # the owner puts the config back from a copy
            (k.repo / "config").write_bytes(c.base.history["config"])
        else:  # the operator brings the tenant's own config back from the trash
            shown = k.repo.name
            k_store = open_store(c.url, StoreOptions(token=k.env["KAIKYO_TOKEN"]))
            k_store.delete("config")
            k_store.close()
            _undelete_config(c, shown)
        return
    # A lock replayed within minutes of being taken looks live: the owner, who knows that
    # nothing runs, removes every lock (what the "repository is locked" hint says).
    k("unlock", "--remove-all")
    k("repair", "snapshots", expect=None)
    k("repair", "index")
    for key in _bad_keys(k):
        k("key", "remove", key)
    damaged = k("prune", "--json").json()["damaged_snapshots"]
    for sid in damaged:  # what prune's warning says: a snapshot whose data is gone
        k("forget", sid)


def _bad_keys(k: Kaikyo) -> list[str]:
    err = k("key", "list").err
    return [
        line.split("keys/")[1][:12]
        for line in err.splitlines()
        if line.startswith("kaikyo: warning: keys/")
    ]


def _undelete_config(c: Copy, repo: str) -> None:
    """The oldest trashed config of this repository is the one the attacker replaced."""
    data = c.k.repo.parents[2]  # <data>/objects/<tenant>/<repo>
    code, out, err = kaikyo("tenant", "trash", TENANT, "--data", str(data), "--json")
    assert code == 0, err
    rows = [r for r in json.loads(out) if r["repo"] == repo and r["name"] == "config"]
    original = min(rows, key=lambda r: r["deleted_at"])
    code, _, err = kaikyo(
        "tenant", "undelete", TENANT, "--data", str(data), "--id", str(original["id"])
    )
    assert code == 0, err
    assert (c.k.repo / "config").read_bytes() == c.base.history["config"]


def _named(run: CliRun, name: str) -> bool:
    return name in run.err or name in run.out


CASES = [
    (kind, plant, scope, where)
    for where in ("local", "haven")
    for kind in KINDS
    for plant in PLANTS
    for scope in (WRITERS[kind] if where == "haven" else ["file"])
]


@pytest.mark.parametrize(
    ("kind", "plant", "scope", "where"), CASES, ids=[f"{w}-{k}-{p}-{s}" for k, p, s, w in CASES]
)
def test_poisoned(
    bases: dict[str, Base],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    kind: str,
    plant: str,
    scope: str,
    where: str,
) -> None:
    havens: Havens = request.getfixturevalue("havens")
    c = _copy(bases[where], tmp_path, havens)
    name, data, overwrite = _material(c, kind, plant)
    status = c.put(name, data, scope, overwrite)
    if status != 201:
        # Refused at the door: a lock over 4 KiB, or a name the haven deleted (a replay).
        expected = {("locks", "oversized"): 403, ("replayed", where): 410}
        assert status == expected.get((kind, plant), expected.get((plant, where))), (
            kind,
            plant,
            status,
        )
        return
    assert not (where == "haven" and plant == "replayed" and kind != "config"), (
        "a replayed object was stored again at the haven"
    )
    runs = _commands(c, tmp_path)
    if plant != "replayed" or kind == "config":
        if kind == "config":
            assert all(r.code in (14, 15) for r in runs.values()), {
                a: (r.code, r.err) for a, r in runs.items()
            }
        else:  # some command met it and said so by name (check reads every kind)
            assert _named(runs["check"], name), (name, runs["check"].err)
    _clean_up(c, kind, name)
    out = tmp_path / "final"
    c.k.restore(f"latest:{c.base.src}", out)
    assert_trees_equal(c.base.src, out)
    final = c.k("check", "--read-data", "--json")
    assert final.json()["ok"], final.out


@pytest.mark.parametrize("kind", KINDS)
def test_scopes_that_may_not_write_a_kind_are_refused(
    bases: dict[str, Base], tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    havens: Havens = request.getfixturevalue("havens")
    c = _copy(bases["haven"], tmp_path, havens)
    for scope in ("backup", "restore", "admin"):
        if scope in WRITERS[kind]:
            continue
        data = os.urandom(200)
        name = "config" if kind == "config" else content_name(kind + "/", data)
        status = c.put(name, data, scope, overwrite=kind == "config")
        assert status == 403, (kind, scope, status)


def test_the_matrix_is_whole() -> None:
    """Every kind, plant and writing scope is a case (the closing note quotes the count)."""
    assert len(CASES) == len(PLANTS) * (sum(len(v) for v in WRITERS.values()) + len(KINDS))
