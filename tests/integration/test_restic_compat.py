"""The same commands with restic (Debian's, which .ci/run installs) and kaikyo on the same tree:
what both have must mean the same. Today: exclude patterns (and --iexclude), --files-from and
--stdin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Kaikyo

RESTIC_PASSWORD = "compat"


def restic_bin() -> str:
    path = shutil.which("restic")
    if path is None:
        pytest.fail("restic is not installed: apt-get install restic (.ci/run does)")
    return path


def restic(repo: Path, *args: str | os.PathLike[str], stdin: bytes | None = None) -> str:
    env = {**os.environ, "RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD": RESTIC_PASSWORD}
    env["RESTIC_CACHE_DIR"] = str(repo.parent / "restic-cache")
    run = subprocess.run(
        [restic_bin(), *map(os.fspath, args)],
        env=env,
        input=stdin,
        capture_output=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode()
    return run.stdout.decode()


def restic_paths(repo: Path) -> set[str]:
    out = restic(repo, "ls", "--json", "latest")
    nodes = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {n["path"] for n in nodes if n.get("struct_type") == "node"}


def kaikyo_paths(k: Kaikyo) -> set[str]:
    return {entry["path"] for entry in k("ls", "--json", "latest").json()}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    for rel in [
        "etc/ssl/cert.pem",
        "etc/ssl2/other.pem",
        "srv/etc/ssl/deep.pem",
        "home/alice/.cache/blob",
        "home/alice/work/.cache/blob",
        "home/alice/notes.TMP",
        "home/alice/notes.tmp",
        "home/alice/keep.log",
        "home/alice/drop.log",
        "home/bob/キャッシュ/x",
        "home/bob/report.txt",
        "var/log/a.log",
    ]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    return root


def both(
    k: Kaikyo, tmp_path: Path, tree: Path, *flags: str, stdin: bytes | None = None
) -> tuple[set[str], set[str]]:
    """Back up ``tree`` with ``flags`` by both tools; the paths each snapshot holds."""
    repo = tmp_path / "restic-repo"
    if not repo.exists():
        restic(repo, "init")
    restic(repo, "backup", *flags, stdin=stdin)
    k("backup", *flags, stdin=stdin or b"")
    return restic_paths(repo), kaikyo_paths(k)


@pytest.mark.parametrize(
    "patterns",
    [
        ["*.tmp"],
        ["etc/ssl"],
        ["/PLACEHOLDER/etc/ssl"],
        ["/PLACEHOLDER/home/*/.cache"],
        ["/PLACEHOLDER/home/**/.cache"],
        ["*.log", "!keep.log"],
        ["キャッシュ"],
        [".cache", "*.txt"],
    ],
)
def test_exclude_patterns_mean_what_they_mean_in_restic(
    local_kaikyo: Kaikyo, tmp_path: Path, tree: Path, patterns: list[str]
) -> None:
    flags = [f"--exclude={p.replace('/PLACEHOLDER', str(tree))}" for p in patterns]
    restic_has, kaikyo_has = both(local_kaikyo, tmp_path, tree, *flags, str(tree))
    assert kaikyo_has == restic_has
    every = {str(p) for p in tree.rglob("*")}
    assert every - kaikyo_has  # the patterns excluded something


def test_iexclude_ignores_case_as_restic(local_kaikyo: Kaikyo, tmp_path: Path, tree: Path) -> None:
    restic_has, kaikyo_has = both(local_kaikyo, tmp_path, tree, "--iexclude=*.tmp", str(tree))
    assert kaikyo_has == restic_has
    assert not any(p.lower().endswith(".tmp") for p in kaikyo_has)


def test_files_from_lists_the_same_paths(local_kaikyo: Kaikyo, tmp_path: Path, tree: Path) -> None:
    listing = tmp_path / "list"
    listing.write_text(f"# a comment\n{tree}/etc\n\n{tree}/home/bob/report.txt\n")
    restic_has, kaikyo_has = both(local_kaikyo, tmp_path, tree, f"--files-from={listing}")
    assert kaikyo_has == restic_has


def test_stdin_is_stored_as_the_same_file(local_kaikyo: Kaikyo, tmp_path: Path, tree: Path) -> None:
    data = "海峡 stdin\n".encode() * 1000
    flags = ("--stdin", "--stdin-filename", "db.sql")
    restic_has, kaikyo_has = both(local_kaikyo, tmp_path, tree, *flags, stdin=data)
    assert kaikyo_has == restic_has == {"/db.sql"}
    assert local_kaikyo.binary("dump", "latest", "/db.sql").data == data
