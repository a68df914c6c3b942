"""The tree and the helpers the rewrite and recover tests share (a module, not a conftest:
its names are imported where used)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kaikyo.repo import Repository, pack_name
from kaikyo.store.local import LocalStore
from kaikyo.testing.compare import Entry

from .conftest import PASSWORD, Kaikyo

SECRET_DIR = "秘密"


def make_src(tmp_path: Path) -> Path:
    """A tree with what should never have left the primary: a directory of keys, temp files."""
    d = tmp_path / "src"
    for rel, data in (
        ("big", os.urandom(300_000)),
        ("docs/報告書.txt", "海峡を越えて\n".encode()),
        ("docs/draft.tmp", b"scratch"),
        (f"docs/{SECRET_DIR}/鍵.pem", b"-----BEGIN KEY-----" * 50),
        (f"docs/{SECRET_DIR}/deeper/two.pem", b"two"),
        ("app/보고서.TMP", b"upper case"),
        ("app/main.py", b"print('hi')\n"),
    ):
        path = d / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return d


def snapshots(k: Kaikyo) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in k("snapshots", "--json").json()}


def stored(k: Kaikyo, top: str = "") -> dict[str, int]:
    """The objects under ``top`` as they lie on disk (local or at the haven): name -> size."""
    root = k.repo / top if top else k.repo
    return {
        str(p.relative_to(k.repo)): p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and "locks" not in p.relative_to(k.repo).parts
    }


def without(before: dict[bytes, Entry], src: Path, *gone: str) -> dict[bytes, Entry]:
    """A scan of ``src`` without the entries at or below the ``gone`` paths (relative)."""
    cut = [b"/" + os.fsencode(g) for g in gone]
    return {
        rel: e
        for rel, e in before.items()
        if not any(rel == c or rel.startswith(c + b"/") for c in cut)
    }


def listed(k: Kaikyo, sid: str) -> set[str]:
    return set(k("ls", sid).out.splitlines())


def spoil_tree(k: Kaikyo, tree: str) -> None:
    """Flip a byte inside the stored tree blob ``tree`` (a local repository): it no longer
    authenticates, the rest of its pack still does."""
    repo = Repository.open(LocalStore(k.repo), PASSWORD)
    repo.load_index()
    loc = repo.index.lookup(bytes.fromhex(tree))
    assert loc is not None
    pack = k.repo / pack_name(loc.pack_id)
    data = bytearray(pack.read_bytes())
    data[loc.offset + loc.length // 2] ^= 0xFF
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
