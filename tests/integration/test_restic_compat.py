"""The same commands with restic (Debian's, which .ci/run installs) and kaikyo on the same tree:
what both have must mean the same. Today: exclude patterns (and --iexclude), --exclude-caches,
--exclude-if-present, --exclude-larger-than, --files-from and --stdin; and restore's --include,
--exclude, --iinclude and --iexclude. (restic 0.14 has each of these flags.)"""

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


def make_tree(root: Path) -> Path:
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


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src")


@pytest.fixture(scope="module")
def restic_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One restic repository for the module's tests that need only its latest snapshot
    (restic's init, with its key derivation, is most of such a test's time)."""
    repo = tmp_path_factory.mktemp("restic") / "repo"
    restic(repo, "init")
    return repo


def both(
    k: Kaikyo,
    tmp_path: Path,
    tree: Path,
    *flags: str,
    stdin: bytes | None = None,
    repo: Path | None = None,
) -> tuple[set[str], set[str]]:
    """Back up ``tree`` with ``flags`` by both tools; the paths each snapshot holds."""
    repo = repo or tmp_path / "restic-repo"
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
        ["/PLACEHOLDER/home/alice/**"],  # restic's trailing ** takes the directory too
        ["alice/**", "!alice/keep.log"],
        ["キャッシュ"],
        [".cache", "*.txt"],
    ],
)
def test_exclude_patterns_mean_what_they_mean_in_restic(
    local_kaikyo: Kaikyo, tmp_path: Path, tree: Path, patterns: list[str], restic_repo: Path
) -> None:
    flags = [f"--exclude={p.replace('/PLACEHOLDER', str(tree))}" for p in patterns]
    restic_has, kaikyo_has = both(local_kaikyo, tmp_path, tree, *flags, str(tree), repo=restic_repo)
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


@pytest.fixture
def tagged(tree: Path) -> Path:
    """``tree`` with cache directories, tag files and files of several sizes."""
    signature = b"Signature: 8a477f597d28d172789f06886806bc55"
    for rel, data in {
        "home/alice/.cache/CACHEDIR.TAG": signature + b"\n# a cache\n",
        "home/bob/キャッシュ/CACHEDIR.TAG": signature,
        "var/cache/CACHEDIR.TAG": b"Signature: 0000 (not a cache)",
        "srv/.nobackup": b"",
        "etc/.tag": b"skip this\n",
        "home/bob/.tag": b"keep this\n",
        "sizes/1023": b"a" * 1023,
        "sizes/1024": b"b" * 1024,
        "sizes/1025": b"c" * 1025,
        "sizes/big/3m": os.urandom(3 * 1024 * 1024),
    }.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    os.symlink("x" * 2000, tree / "sizes" / "long-link")  # a symlink's size: its target's
    return tree


@pytest.mark.parametrize(
    "flags",
    [
        ["--exclude-caches"],
        ["--exclude-if-present", ".nobackup"],
        ["--exclude-if-present", ".tag:skip"],
        ["--exclude-if-present", ".nobackup", "--exclude-if-present", "CACHEDIR.TAG"],
        ["--exclude-larger-than", "1K"],
        ["--exclude-larger-than", "2m"],
        ["--exclude-larger-than", "1024"],
        ["--exclude-caches", "--exclude-larger-than", "1k", "--exclude", "*.log"],
    ],
)
def test_what_the_walk_leaves_out_is_what_restic_leaves_out(
    local_kaikyo: Kaikyo, tmp_path: Path, tagged: Path, flags: list[str], restic_repo: Path
) -> None:
    restic_has, kaikyo_has = both(
        local_kaikyo, tmp_path, tagged, *flags, str(tagged), repo=restic_repo
    )
    assert kaikyo_has == restic_has
    every = {str(p) for p in tagged.rglob("*")}
    assert every - kaikyo_has  # the flags left something out


def restored(target: Path) -> set[str]:
    return {str(p.relative_to(target)) for p in target.rglob("*")}


@pytest.fixture(scope="module")
def backed_up(
    tmp_path_factory: pytest.TempPathFactory, restic_repo: Path
) -> tuple[Path, str, Kaikyo]:
    """One tree backed up once by each tool, for the restore tests: the tree, restic's
    snapshot id, and the kaikyo repository."""
    base = tmp_path_factory.mktemp("restore-compat")
    tree = make_tree(base / "src")
    out = restic(restic_repo, "backup", "--json", str(tree))
    sid = json.loads(out.splitlines()[-1])["snapshot_id"]
    k = Kaikyo(base / "repo", base / "cache").init()
    k("backup", tree)
    return tree, sid, k


@pytest.mark.parametrize(
    "flags",
    [
        ["--include", "/PLACEHOLDER/home/alice"],
        ["--include", "*.pem"],
        ["--include", "etc/ssl"],
        ["--include", "alice/**"],
        ["--include", "/PLACEHOLDER/home/*/.cache", "--include", "report.txt"],
        ["--iinclude", "*.TMP"],
        ["--iinclude", "/PLACEHOLDER/HOME/BOB"],
        ["--exclude", "home"],
        ["--exclude", "*.log", "--exclude", "/PLACEHOLDER/etc"],
        ["--iexclude", "*.TMP", "--iexclude", "キャッシュ"],
    ],
)
def test_restore_filters_restore_what_restic_restores(
    tmp_path: Path, restic_repo: Path, backed_up: tuple[Path, str, Kaikyo], flags: list[str]
) -> None:
    tree, sid, k = backed_up
    flags = [f.replace("/PLACEHOLDER", str(tree)) for f in flags]
    restic(restic_repo, "restore", sid, "--target", tmp_path / "by-restic", *flags)
    k.restore("latest", tmp_path / "by-kaikyo", *flags)
    restic_has, kaikyo_has = restored(tmp_path / "by-restic"), restored(tmp_path / "by-kaikyo")
    assert kaikyo_has == restic_has
    everything = {str(p.relative_to("/")) for p in tree.rglob("*")}
    assert kaikyo_has and everything - kaikyo_has  # the filters kept some, not all
