"""Every user-facing error: one ``kaikyo: error:`` line, its own exit code, nothing half-written."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaikyo.clock import SYSTEM_CLOCK
from kaikyo.core.format.constants import KIND_LOCK, LOCK_PREFIX
from kaikyo.core.format.envelope import seal_object
from kaikyo.core.ids import object_id
from kaikyo.repo import Repository, acquire_lock
from kaikyo.repo.packer import put_content_addressed
from kaikyo.store.local import LocalStore
from kaikyo.testing import cli
from kaikyo.testing.cli import CliRun
from kaikyo.testing.compare import assert_trees_equal

from .conftest import PASSWORD, Kaikyo

CONTENT_ADDRESSED = ("data", "index", "snapshots", "keys", "locks")


def _exit_errors(err: str, code: int) -> list[str]:
    """With --json the error is restic's exit_error message: as the line people get."""
    lines = []
    for ln in err.splitlines():
        if ln.startswith("{") and '"exit_error"' in ln:
            doc = json.loads(ln)
            assert doc["message_type"] == "exit_error" and doc["code"] == code, ln
            hint = f" ({doc['hint']})" if doc.get("hint") else ""
            lines.append(f"kaikyo: error: {doc['message']}{hint}")
    return lines


def assert_error(run: CliRun, code: int, *needles: str) -> str:
    """Exactly one error line (or, with --json, one exit_error message), no traceback, the
    expected exit code; returns the line."""
    assert run.code == code, f"exit {run.code}, expected {code}: {run.err}"
    assert "Traceback" not in run.err
    lines = [ln for ln in run.err.splitlines() if ln.startswith("kaikyo: error:")]
    lines += _exit_errors(run.err, code)
    assert len(lines) == 1, run.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def repo_files(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*") if p.is_file()}


def assert_repo_consistent(repo: Path) -> None:
    """No partial object: every content-addressed object's bytes match its name."""
    for top in CONTENT_ADDRESSED:
        for p in (repo / top).rglob("*"):
            if p.is_file():
                assert hashlib.sha256(p.read_bytes()).hexdigest() == p.name, p
    tmp = repo / ".tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "big").write_bytes(os.urandom(3 * 1024 * 1024))
    (d / "small").write_bytes(b"small file\n")
    return d


# ---- opening ----------------------------------------------------------------------------


def test_wrong_passphrase(kaikyo: Kaikyo, src: Path) -> None:
    kaikyo.backup(src)
    before = repo_files(kaikyo.repo)
    for argv in (("snapshots",), ("backup", str(src)), ("prune",)):
        run = kaikyo(*argv, env={"KAIKYO_PASSWORD": "wrong"}, expect=None)
        assert_error(run, 12, "wrong passphrase")
        assert run.out == ""
    assert repo_files(kaikyo.repo) == before  # no lock, no pack left behind


def test_missing_repository(kaikyo: Kaikyo, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    run = kaikyo("snapshots", env={"KAIKYO_REPOSITORY": str(missing)}, expect=None)
    assert_error(run, 10, "no repository at", str(missing))
    run = kaikyo("backup", str(tmp_path), "-r", str(missing), expect=None)
    assert_error(run, 10)
    assert not missing.exists()


def test_init_over_existing(kaikyo: Kaikyo) -> None:
    before = repo_files(kaikyo.repo)
    run = kaikyo("init", expect=None)
    assert_error(run, 11, "already exists")
    assert repo_files(kaikyo.repo) == before


def test_unsupported_format_version(kaikyo: Kaikyo) -> None:
    config = kaikyo.repo / "config"
    raw = bytearray(config.read_bytes())
    raw[0] = 2  # the sealed-object version byte
    config.write_bytes(bytes(raw))
    assert_error(kaikyo("snapshots", expect=None), 14, "unsupported format version")


# ---- corruption -------------------------------------------------------------------------


def _data_pack(kaikyo: Kaikyo) -> tuple[Path, int]:
    """The pack holding the largest data blob (a chunk of ``big``), and that blob's offset.

    Files may be spread over several packs (workers own packs), so pick by content."""
    best: tuple[int, str, int] | None = None
    for entry in kaikyo("cat", "index").json():
        for b in kaikyo("cat", "pack", entry["pack"]).json():
            if b["type"] == 0 and (best is None or b["raw_length"] > best[0]):
                best = (b["raw_length"], entry["pack"], b["offset"])
    assert best is not None, "no data pack"
    _, pid, offset = best
    return kaikyo.repo / "data" / pid[:2] / pid, offset


def test_corrupt_pack(kaikyo: Kaikyo, src: Path, tmp_path: Path) -> None:
    sid = kaikyo.backup(src)["snapshot_id"]
    pack, offset = _data_pack(kaikyo)
    raw = bytearray(pack.read_bytes())
    raw[offset + 100] ^= 0x01
    pack.write_bytes(bytes(raw))
    kaikyo("check")  # structure only: still fine
    run = kaikyo("check", "--read-data", expect=None)
    assert_error(run, 15, "check found 1 error")
    assert f"pack {pack.name[:8]}" in run.err
    assert f"affects snapshots: {sid[:8]}" in run.err
    assert f"affects: {src}/big" in run.err
    doc = kaikyo("check", "--read-data", "--json", expect=15).json()
    [finding] = [f for f in doc["findings"] if f["severity"] == "error"]
    assert finding["pack"] == pack.name and finding["snapshots"] == [sid]
    assert f"{src}/big" in finding["files"]
    run = kaikyo.restore(f"{sid}:{src}/big", tmp_path / "out", expect=None)
    assert_error(run, 15, "does not authenticate")


def test_truncated_index(kaikyo: Kaikyo, src: Path, tmp_path: Path) -> None:
    """A cut index file is skipped with a warning that names it and its remedy; the packs it
    named are read by their headers, so restore and backup go on; check reports it."""
    kaikyo.backup(src)
    [index] = list((kaikyo.repo / "index").iterdir())
    index.write_bytes(index.read_bytes()[:-10])
    warning = (
        f"index/{index.name}: does not match its name (corrupt or truncated); skipped "
        "(remove it with 'kaikyo repair index')"
    )
    run = kaikyo.restore(f"latest:{src}", tmp_path / "out")
    assert warning in run.err and "Traceback" not in run.err
    assert_trees_equal(src, tmp_path / "out")
    assert_error(kaikyo("check", expect=None), 15)
    run = kaikyo("backup", src)
    assert warning in run.err
    # repair rebuilds the index from the packs; then everything is clean again.
    kaikyo("repair")
    run = kaikyo("check", "--read-data")
    assert "warning" not in run.err
    out = tmp_path / "restored"
    kaikyo.restore(f"latest:{src}", out)
    assert_trees_equal(src, out)


# ---- the repository's filesystem ---------------------------------------------------------


@contextlib.contextmanager
def mounted(*argv: str) -> Iterator[None]:
    """Run a mount command; skip the test cleanly when mounting is not possible."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting needs root")
    proc = subprocess.run(["mount", *argv], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here: {proc.stderr.strip()}")
    target = argv[-1]
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def test_disk_full(tmp_path: Path, src: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)):
        k = Kaikyo(mnt / "repo", tmp_path / "cache").init()
        first = k.backup(src / "small")["snapshot_id"]
        big = tmp_path / "incompressible"
        big.mkdir()
        for i in range(3):
            (big / f"f{i}").write_bytes(os.urandom(1024 * 1024))
        run = k("backup", big, expect=None)
        assert_error(run, 16, "no space left")
        # Free the space (as an operator would) and the repository is as it was.
        assert_repo_consistent(k.repo)
        assert list((k.repo / "locks").iterdir()) == []
        assert [s["id"] for s in k("snapshots", "--json").json()] == [first]
        k("check", "--read-data")
        out = tmp_path / "out"
        k.restore(f"{first}:{src}", out)
        assert (out / "small").read_bytes() == b"small file\n"


def test_restore_onto_a_full_disk(kaikyo: Kaikyo, src: Path, tmp_path: Path) -> None:
    """Disk full while restore's threads write: one line, exit 16, and after freeing space
    the same restore with --overwrite completes."""
    sid = kaikyo.backup(src)["snapshot_id"]  # 'big' is 3 MiB of random data
    mnt = tmp_path / "small-target"
    mnt.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)):
        run = kaikyo("restore", f"{sid}:{src}", "--target", mnt / "out", expect=None)
        assert_error(run, 16, "no space left")
    out = tmp_path / "out"
    kaikyo.restore(f"{sid}:{src}", out)
    assert (out / "big").read_bytes() == (src / "big").read_bytes()


def test_restore_into_a_target_without_permission(
    kaikyo: Kaikyo, src: Path, tmp_path: Path
) -> None:
    sid = kaikyo.backup(src)["snapshot_id"]
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        with mounted("-t", "tmpfs", "-o", "size=8m,ro", "tmpfs", str(ro)):
            run = kaikyo("restore", f"{sid}:{src}", "--target", ro / "out", expect=None)
    else:
        ro.chmod(0o555)
        try:
            run = kaikyo("restore", f"{sid}:{src}", "--target", ro / "out", expect=None)
        finally:
            ro.chmod(0o755)
    assert_error(run, 17, "permission denied")


def test_permission_denied_on_repository(local_kaikyo: Kaikyo, src: Path, tmp_path: Path) -> None:
    kaikyo = local_kaikyo
    sid = kaikyo.backup(src / "small")["snapshot_id"]
    before = repo_files(kaikyo.repo)
    repo = str(kaikyo.repo)
    if os.geteuid() == 0:
        # chmod does not stop root: make the repository a read-only bind mount instead.
        with mounted("--bind", repo, repo):
            proc = subprocess.run(
                ["mount", "-o", "remount,ro,bind", repo],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                pytest.skip(f"cannot remount read-only: {proc.stderr.strip()}")
            _assert_read_only_repo(kaikyo, src, sid, tmp_path)
    else:
        for p in [kaikyo.repo, *kaikyo.repo.rglob("*")]:
            if p.is_dir():
                p.chmod(0o555)
        try:
            _assert_read_only_repo(kaikyo, src, sid, tmp_path)
        finally:
            for p in [kaikyo.repo, *kaikyo.repo.rglob("*")]:
                if p.is_dir():
                    p.chmod(0o755)
    assert repo_files(kaikyo.repo) == before


def _assert_read_only_repo(kaikyo: Kaikyo, src: Path, sid: str, tmp_path: Path) -> None:
    assert_error(kaikyo("backup", src, expect=None), 17, "permission denied")
    assert_error(kaikyo("prune", expect=None), 17, "permission denied")
    # Reading still works from a read-only repository.
    assert [s["id"] for s in kaikyo("snapshots", "--json").json()] == [sid]
    kaikyo.restore(f"{sid}:{src}", tmp_path / "ro-out")
    assert (tmp_path / "ro-out" / "small").read_bytes() == b"small file\n"


# ---- locks ------------------------------------------------------------------------------


def _write_lock(repo: Repository, pid: int, exclusive: bool) -> str:
    import socket

    doc = {
        "host": socket.gethostname(),
        "pid": pid,
        "time": SYSTEM_CLOCK.now(),
        "exclusive": exclusive,
        "nonce": os.urandom(8).hex(),
    }
    sealed = seal_object(repo.cipher, repo.compressor, KIND_LOCK, json.dumps(doc).encode())
    name = LOCK_PREFIX + object_id(sealed)
    put_content_addressed(repo.store, name, sealed)
    return name


def _open(kaikyo: Kaikyo) -> Repository:
    return Repository.open(LocalStore(kaikyo.repo), PASSWORD)


def test_locked_repository(kaikyo: Kaikyo, src: Path) -> None:
    from kaikyo.clock import SYSTEM_CLOCK

    repo = _open(kaikyo)
    with acquire_lock(repo, SYSTEM_CLOCK, exclusive=True):  # held by this live process
        run = kaikyo("backup", src, expect=None)
        assert_error(run, 13, "repository is locked", f"exclusive lock by pid {os.getpid()}")
        assert_error(kaikyo("check", expect=None), 13)
        kaikyo("snapshots")  # reading needs no lock
        assert len(list((kaikyo.repo / "locks").iterdir())) == 1  # ours withdrawn
    with acquire_lock(repo, SYSTEM_CLOCK, exclusive=False):
        kaikyo.backup(src)  # shared + shared is fine
        assert_error(kaikyo("prune", expect=None), 13, "shared lock")
    assert list((kaikyo.repo / "locks").iterdir()) == []


def test_stale_lock_of_dead_process(kaikyo: Kaikyo, src: Path) -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    repo = _open(kaikyo)
    _write_lock(repo, child.pid, exclusive=True)
    run = kaikyo("backup", src)  # a dead pid on this host: stale, ignored, and said so
    assert f"ignoring a stale exclusive lock by pid {child.pid}" in run.err
    kaikyo("prune")
    removed = kaikyo("unlock", "--json").json()["removed"]
    assert removed == [f"exclusive lock by pid {child.pid} on {os.uname().nodename}"]
    assert list((kaikyo.repo / "locks").iterdir()) == []
    # A live holder is not stale: unlock leaves it, --remove-all removes it.
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        _write_lock(repo, sleeper.pid, exclusive=True)
        assert_error(kaikyo("backup", src, expect=None), 13)
        assert kaikyo("unlock", "--json").json()["removed"] == []
        assert len(kaikyo("unlock", "--remove-all", "--json").json()["removed"]) == 1
        kaikyo.backup(src)
    finally:
        sleeper.kill()
        sleeper.wait()


# ---- usage and lookups ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("backup", "--no-such-flag", "x"),
        ("restore", "latest"),  # --target is required
        ("forget",),  # neither ids nor a policy
        ("forget", "--keep-within", "soon"),
        ("nonsense-command",),
        ("cat", "tree"),
        ("key", "remove"),
    ],
)
def test_bad_usage(kaikyo: Kaikyo, argv: tuple[str, ...]) -> None:
    assert_error(kaikyo(*argv, expect=None), 64)


def test_no_repository_given(kaikyo: Kaikyo) -> None:
    assert_error(
        kaikyo("snapshots", env={"KAIKYO_REPOSITORY": ""}, expect=None), 64, "no repository given"
    )


def test_unknown_snapshot(kaikyo: Kaikyo, src: Path, tmp_path: Path) -> None:
    assert_error(
        kaikyo("restore", "latest", "-t", tmp_path / "o", expect=None), 21, "no snapshots yet"
    )
    sid = kaikyo.backup(src)["snapshot_id"]
    missing = "0123456789" if not sid.startswith("0123") else "fedcba9876"
    for argv in (
        ("restore", missing, "-t", str(tmp_path / "o")),
        ("ls", missing),
        ("diff", sid, missing),
        ("forget", missing),
        ("cat", "snapshot", missing),
    ):
        assert_error(kaikyo(*argv, expect=None), 21, "no snapshot matches")
    assert_error(
        kaikyo("restore", f"{sid}:/no/such/path", "-t", tmp_path / "o", expect=None),
        21,
        "not in the snapshot",
    )
    assert not (tmp_path / "o").exists()


# ---- issue 10, part D: what a rerun, a target and a path may hold -----------------------


def test_backup_of_paths_that_do_not_exist_saves_nothing(
    kaikyo: Kaikyo, src: Path, tmp_path: Path
) -> None:
    real = kaikyo.backup(src)["snapshot_id"]
    run = kaikyo("backup", tmp_path / "no-such", tmp_path / "nor-this", expect=None)
    assert_error(run, 21, "none of the paths to back up could be read")
    assert [s["id"] for s in kaikyo("snapshots", "--json").json()] == [real]


def test_overwrite_never_writes_through_a_symlink(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    (src / "etc").mkdir(parents=True)
    (src / "etc" / "passwd").write_text("from the snapshot\n")
    (src / "note").write_text("a file\n")
    kaikyo.backup(src)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "passwd").write_text("must not change\n")
    target = tmp_path / "target"
    target.mkdir()
    (target / "etc").symlink_to(elsewhere)  # a link where the snapshot has a directory
    (target / "note").symlink_to(elsewhere / "passwd")  # a link where it has a file
    run = kaikyo.restore(f"latest:{src}", target, "--overwrite")
    assert "Traceback" not in run.err
    assert (elsewhere / "passwd").read_text() == "must not change\n"
    assert not (target / "etc").is_symlink() and not (target / "note").is_symlink()
    assert_trees_equal(src, target)


def test_a_directory_where_the_snapshot_has_a_file(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    src.mkdir()
    (src / "f").write_text("file\n")
    kaikyo.backup(src)
    target = tmp_path / "target"
    (target / "f" / "below").mkdir(parents=True)
    # Without --overwrite the target must be empty; with it, the directory gives way.
    run = kaikyo.restore(f"latest:{src}", target, expect=None)
    assert_error(run, 22, "not empty")
    kaikyo.restore(f"latest:{src}", target, "--overwrite")
    assert_trees_equal(src, target)


def test_another_interrupted_restore_is_named(kaikyo: Kaikyo, src: Path, tmp_path: Path) -> None:
    kaikyo.backup(src)
    target = tmp_path / "target"
    target.mkdir()
    (target / ".kaikyo-restore-in-progress").write_text('{"tree": "other"}')
    (target / "partial").write_text("x")
    run = kaikyo.restore(f"latest:{src}", target, expect=None)
    assert_error(run, 22, "interrupted restore of another snapshot or path")


def test_with_json_an_error_is_an_exit_error_message(tmp_path: Path) -> None:
    """restic's convention: the last word on stderr is JSON, stdout holds no half answer."""
    run = cli.kaikyo(
        "snapshots", "--json", "-r", str(tmp_path / "none"), env={"KAIKYO_PASSWORD": "x"}
    )
    assert run.out == ""
    [line] = run.err.splitlines()
    doc = json.loads(line)
    assert doc == {
        "message_type": "exit_error",
        "code": run.code,
        **{k: doc[k] for k in ("message", "hint")},
    }
    assert run.code == 10 and "no repository at" in doc["message"]
    usage = cli.kaikyo("restore", "--json", "--overwrite=sometimes")
    assert json.loads(usage.err)["code"] == 64 == usage.code
    # After "--" an argument is the command's, not kaikyo's.
    plain = cli.kaikyo(
        "backup", "--stdin-from-command", "--", "false", "--json", env={"KAIKYO_PASSWORD": "x"}
    )
    assert plain.err.startswith("kaikyo: error:")
