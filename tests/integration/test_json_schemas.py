"""--json is an interface: every command's output matches its schema in docs/schemas/
(docs/JSON.md), on a real session of commands, and every schema is exercised here.

A schema that is wrong or an output that drifted fails here; a key a command adds is
allowed (restic's rule: readers ignore what they do not know), a key it drops, a type it
changes or a time that is not RFC 3339 is not.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from kaikyo.testing.trees import JAPANESE_NAME

from .conftest import Kaikyo

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
used: set[str] = set()


def check(name: str, doc: Any) -> Any:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    errors = [str(e) for e in validator.iter_errors(doc)]
    assert not errors, f"{name}: {errors[:3]}"
    used.add(name)
    return doc


def lines(text: str) -> list[Any]:
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Kaikyo, Path, Path]:
    base = tmp_path_factory.mktemp("json")
    src = base / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / JAPANESE_NAME).write_text("海峡\n")
    (src / "big").write_bytes(os.urandom(700_000))
    os.symlink("big", src / "link")
    k = Kaikyo(base / "repo", base / "cache")
    check("init", k("init", "--json").json())
    return k, src, base


def test_engine_commands_match_their_schemas(session: tuple[Kaikyo, Path, Path]) -> None:
    k, src, base = session
    *status, summary = lines(k("backup", src, "--json", "--tag", "夜間").out)
    first = check("backup.summary", summary)
    assert status and all(check("backup.status", s) for s in status)
    (src / "new").write_text("added\n")
    second = check("backup.summary", lines(k("backup", src, "--json").out)[-1])
    check("snapshots", k("snapshots", "--json").json())
    check("snapshots.grouped", k("snapshots", "--group-by", "host,tags", "--json").json())
    check("ls", k("ls", "latest", "--json").json())
    check("find", k("find", "big", "--json").json())
    a, b = first["snapshot_id"][:8], second["snapshot_id"][:8]
    assert check("diff", k("diff", a, b, "--json").json())
    check("stats", k("stats", "--json").json())
    *status, summary = lines(k("check", "--read-data-subset", "1/2", "--json").out)
    check("check.summary", summary)
    assert status and all(check("check.status", s) for s in status)
    assert status[-1]["action"] == "checking snapshots"
    assert status[-1]["snapshots_done"] == status[-1]["total_snapshots"] == summary["snapshots"]
    check("key.list", k("key", "list", "--json").json())
    check("list", k("list", "snapshots", "--json").json())
    check("list.blobs", k("list", "blobs", "--json").json())
    check("version", k("version", "--json").json())
    check("tag", k("tag", a, "--add", "keep", "--json").json())
    check("forget", k("forget", "--keep-last", "1", "--dry-run", "--json").json())
    *status, summary = lines(k("prune", "--dry-run", "--json").out)
    check("prune.summary", summary)
    assert status and all(check("prune.status", s) for s in status)
    check("rewrite", k("rewrite", "--exclude", "/**/link", "--dry-run", "--json").json())
    check("recover", k("recover", "--json").json())


def test_restore_streams_verbose_status_then_a_summary(session: tuple[Kaikyo, Path, Path]) -> None:
    k, src, base = session
    k("backup", src)  # this test also runs alone (pytest -k)
    target = base / "restored"
    shutil.rmtree(target, ignore_errors=True)
    k("restore", f"latest:{src}", "--target", target)
    (target / "d" / JAPANESE_NAME).write_text("changed\n")
    out = k("restore", f"latest:{src}", "-t", target, "--overwrite", "-v", "--json").out
    *lines_, summary = lines(out)
    status = [s for s in lines_ if s["message_type"] == "status"]
    verbose = [s for s in lines_ if s["message_type"] == "verbose_status"]
    assert status and all(check("restore.status", s) for s in status)
    assert lines_ == status + verbose  # the status lines come first: they stream
    for line in verbose:
        check("restore.verbose_status", line)
    assert {s["action"] for s in verbose} >= {"updated", "unchanged"}
    check("restore.summary", summary)
    shutil.rmtree(target)
    run = k("restore", f"latest:{src}", "-t", target, "--verify", "--json")
    assert check("restore.status", run.messages("status")[-1])["action"] == "verifying"
    shutil.rmtree(target)
    last = k("restore", f"latest:{src}", "-t", target, "--json").messages("status")[-1]
    assert check("restore.status", last)["action"] == "restoring"
    done = run.json()
    assert last["files_restored"] == last["total_files"] == done["files_restored"]
    assert last["bytes_restored"] == last["total_bytes"] == done["bytes_written"]
    assert last["percent_done"] == 1


def test_copy_messages(session: tuple[Kaikyo, Path, Path]) -> None:
    k, src, base = session
    dest = Kaikyo(base / "dest", base / "cache2").init()
    env = {"KAIKYO_FROM_PASSWORD": k.env["KAIKYO_PASSWORD"]}
    out = dest("copy", "--from-repo", k.env["KAIKYO_REPOSITORY"], "--json", env=env).out
    *items, summary = lines(out)
    snaps = [s for s in items if s["message_type"] == "snapshot"]
    status = [s for s in items if s["message_type"] == "status"]
    assert snaps and len(snaps) + len(status) == len(items)
    for line in snaps:
        check("copy.snapshot", line)
    assert status and all(check("copy.status", s) for s in status)
    assert status[-1]["snapshots_done"] == status[-1]["total_snapshots"] == len(snaps)
    assert status[-1]["bytes_done"] == summary["bytes_read"]
    check("copy.summary", summary)


def test_an_error_with_json_is_an_exit_error(session: tuple[Kaikyo, Path, Path]) -> None:
    k, _, _ = session
    run = k("restore", "nonexistent", "--target", "/nonexistent-target", "--json", expect=None)
    check("exit_error", json.loads(run.err.splitlines()[-1]))


def test_every_schema_is_exercised() -> None:
    """Runs last in this module (pytest keeps file order): a schema no test validates
    against documents nothing that is checked."""
    mount = {"mount"}  # checked by tests/integration/test_mount.py, where FUSE is set up
    assert {p.stem for p in SCHEMAS.glob("*.json")} - mount == used
