"""backup --stdin, --stdin-from-command and --files-from(-verbatim, -raw), as restic's.

Standard input or a command's output becomes one file at the snapshot's root; a command that
fails saves nothing and is named in one line; the command never outlives kaikyo. Path lists
add to the positional paths, bytes exact.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kaikyo.testing.processes import alive, children, gone_within
from kaikyo.testing.times import unix_ns

from .conftest import Kaikyo
from .test_errors import assert_error

MIB = 1024 * 1024
PY = sys.executable
KAIKYO = str(Path(sys.executable).parent / "kaikyo")
# A command writing 10 MiB that are the same every time (random.Random(7).randbytes).
TEN_MIB = "import random, sys; sys.stdout.buffer.write(random.Random(7).randbytes(10 * 2**20))"


def snapshot_ids(k: Kaikyo) -> list[str]:
    return [s["id"] for s in k("snapshots", "--json").json()]


# ---- --stdin ----------------------------------------------------------------------------


def test_stdin_is_one_file_at_the_root_and_dedups(kaikyo: Kaikyo, tmp_path: Path) -> None:
    data = random.Random(1).randbytes(3 * MIB) + b"-- the end of the dump --\n" * 1000
    before = time.time_ns()
    first = kaikyo("backup", "--stdin", "--stdin-filename", "db.sql", "--json", stdin=data).json()
    after = time.time_ns()
    s = first["summary"]
    assert s["files_new"] == 1 and s["bytes_read"] == len(data) and s["data_added"] == len(data)
    [snap] = kaikyo("snapshots", "--json").json()
    assert snap["paths"] == ["/db.sql"]
    [node] = kaikyo("ls", "--json", first["snapshot_id"]).json()
    assert node["path"] == "/db.sql" and node["type"] == "file" and node["size"] == len(data)
    assert node["mode"] == 0o644 and node["uid"] == os.getuid() and node["gid"] == os.getgid()
    assert before - 10**9 <= unix_ns(node["mtime"]) <= after + 10**9
    kaikyo.restore("latest", tmp_path / "out")
    assert (tmp_path / "out" / "db.sql").read_bytes() == data
    # The same input again: every chunk is already stored.
    again = kaikyo("backup", "--stdin", "--stdin-filename", "db.sql", "--json", stdin=data).json()
    assert again["summary"]["data_added"] == 0 and again["summary"]["data_blobs"] == 0
    assert again["snapshot_id"] != first["snapshot_id"]


def test_stdin_default_name_and_empty_input(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    sid = local_kaikyo("backup", "--stdin", "--json").json()["snapshot_id"]
    assert [n["path"] for n in local_kaikyo("ls", "--json", sid).json()] == ["/stdin"]
    local_kaikyo.restore(sid, tmp_path / "out")
    assert (tmp_path / "out" / "stdin").read_bytes() == b""


def test_dry_run_of_stdin_stores_nothing(local_kaikyo: Kaikyo) -> None:
    doc = local_kaikyo("backup", "--stdin", "--dry-run", "--json", stdin=b"x" * 100_000).json()
    assert doc["snapshot_id"] is None and doc["summary"]["bytes_read"] == 100_000
    assert snapshot_ids(local_kaikyo) == []


# ---- --stdin-from-command -----------------------------------------------------------------


def test_a_commands_output_restores_byte_exact(kaikyo: Kaikyo, tmp_path: Path) -> None:
    argv = ("backup", "--stdin-from-command", "--stdin-filename", "ten.bin", "--json")
    doc = kaikyo(*argv, "--", PY, "-c", TEN_MIB).json()
    assert doc["summary"]["bytes_read"] == 10 * MIB
    kaikyo.restore("latest", tmp_path / "out")
    assert (tmp_path / "out" / "ten.bin").read_bytes() == random.Random(7).randbytes(10 * MIB)
    again = kaikyo(*argv, "--", PY, "-c", TEN_MIB).json()
    assert again["summary"]["data_added"] == 0


@pytest.mark.parametrize(
    ("code", "needle"),
    [
        ("import sys; sys.exit(3)", "exited with status 3"),
        # Half a dump, then a failure: what was read is not saved either.
        ("import sys; sys.stdout.buffer.write(b'x' * 3 * 2**20); sys.exit(1)", "status 1"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL"),
    ],
)
def test_a_command_that_fails_saves_nothing(
    local_kaikyo: Kaikyo, tmp_path: Path, code: str, needle: str
) -> None:
    k = local_kaikyo
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_bytes(b"the last good backup\n")
    good = k.backup(tmp_path / "src")["snapshot_id"]
    listed = k("snapshots", "--json").json()
    run = k("backup", "--stdin-from-command", "--", PY, "-c", code, expect=None)
    line = assert_error(run, 24, "command ", needle, "nothing was saved")
    assert PY in line
    assert k("snapshots", "--json").json() == listed
    k.restore("latest", tmp_path / "out")  # 'latest' is still the good one
    assert (tmp_path / "out" / str(tmp_path / "src" / "f").lstrip("/")).exists()
    assert snapshot_ids(k) == [good]
    k("check")


# ---- --files-from, --files-from-verbatim, --files-from-raw -------------------------------


def _backed_up(k: Kaikyo, sid: str) -> set[str]:
    return {n["path"] for n in k("ls", "--json", sid).json() if n["type"] == "file"}


def test_files_from_comments_blanks_and_globs(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.txt", ".hidden.txt", "c.log", "d.bin", "sub/e"):
        (src / name).write_text(name)
    listing = tmp_path / "list"
    listing.write_text(
        f"# what to back up\n\n{src}/*.txt\n   {src}/c.log   \r\n{src}/nothing-*.zip\n"
    )
    run = local_kaikyo("backup", "--json", "--files-from", listing, src / "sub")
    assert "no file matches" in run.err and "nothing-*.zip" in run.err
    assert _backed_up(local_kaikyo, run.json()["snapshot_id"]) == {
        f"{src}/{n}" for n in ("a.txt", "b.txt", ".hidden.txt", "c.log", "sub/e")
    }
    # '-' is standard input
    sid = local_kaikyo("backup", "--json", "--files-from", "-", stdin=f"{src}/d.bin\n".encode())
    assert _backed_up(local_kaikyo, sid.json()["snapshot_id"]) == {f"{src}/d.bin"}


def test_files_from_verbatim_takes_lines_as_they_are(
    local_kaikyo: Kaikyo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    names = ["#not-a-comment", " leading blank", "[x]", "plain"]
    for name in names:
        (src / name).write_text(name)
    (src / "x").write_text("what [x] would match as a pattern")
    monkeypatch.chdir(src)  # relative paths, as restic: from the working directory
    listing = tmp_path / "list"
    listing.write_text("\n".join(names[:3]) + "\n\n")
    sid = local_kaikyo(
        "backup",
        "--json",
        "--files-from-verbatim",
        listing,
        "--files-from-verbatim",
        "-",
        stdin=b"plain\n",
    ).json()["snapshot_id"]
    assert _backed_up(local_kaikyo, sid) == {f"{src}/{n}" for n in names}


def test_files_from_raw_keeps_any_bytes(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = os.fsencode(tmp_path / "src")
    os.mkdir(src)
    names = [b"caf\xe9", b"two\nlines", b"\xff\xfe not utf-8 ", "日本語".encode()]
    for name in names:
        with open(src + b"/" + name, "wb") as fh:
            fh.write(name)
    listing = b"".join(src + b"/" + n + b"\0" for n in names)
    local_kaikyo("backup", "--files-from-raw", "-", stdin=listing)
    out = tmp_path / "out"
    local_kaikyo.restore("latest", out)
    restored = os.fsencode(out) + src
    assert sorted(os.listdir(restored)) == sorted(names)
    for name in names:
        with open(restored + b"/" + name, "rb") as fh:
            assert fh.read() == name


def test_listed_paths_that_do_not_exist(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    (tmp_path / "here").write_text("here")
    listing = tmp_path / "list"
    listing.write_text(f"{tmp_path}/here\n{tmp_path}/not-here\n")
    run = local_kaikyo("backup", "--json", "--files-from-verbatim", listing, expect=3)
    assert [e["path"] for e in run.json()["errors"]] == [f"{tmp_path}/not-here"]
    saved = snapshot_ids(local_kaikyo)
    assert len(saved) == 1
    listing.write_text(f"{tmp_path}/not-here\n{tmp_path}/nor-this\n")
    run = local_kaikyo("backup", "--files-from", listing, expect=None)
    assert_error(run, 21, "none of the paths to back up could be read")
    assert snapshot_ids(local_kaikyo) == saved


# ---- errors: one line each, its exit code, nothing saved ---------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [
        (("--stdin", "some/path"), 64, "--stdin takes no paths"),
        (("--stdin", "--stdin-filename", "a/b"), 64, "without '/'"),
        (("--stdin", "--stdin-filename", ""), 64, "a file name is needed"),
        (("--stdin", "--stdin-filename", ".."), 64, "a file name is needed"),
        (("--stdin-from-command",), 64, "needs a command"),
        (("--stdin", "--stdin-from-command", "--", "true"), 64, "exclude each other"),
        (("--stdin", "--files-from", "-"), 64, "cannot be combined"),
        (("--stdin-filename", "x", "/etc/hostname"), 64, "needs --stdin"),
        ((), 64, "no paths to back up"),
        (("--stdin-from-command", "--", "kaikyo-no-such-command"), 21, "no such command"),
        (("--files-from", "{tmp}/missing"), 23, "cannot read --files-from file"),
        (("--files-from-raw", "{tmp}/no-nul"), 23, "does not end in a NUL byte"),
        (("--files-from-raw", "{tmp}/empty-entry"), 23, "an empty path"),
        (("--files-from", "{tmp}/comments"), 21, "name no path"),
        (("--files-from-verbatim", "{tmp}/empty"), 21, "name no path"),
    ],
)
def test_usage_and_input_errors(
    local_kaikyo: Kaikyo, tmp_path: Path, argv: tuple[str, ...], code: int, needle: str
) -> None:
    (tmp_path / "no-nul").write_bytes(b"/etc/hostname")
    (tmp_path / "empty-entry").write_bytes(b"/etc/hostname\0\0")
    (tmp_path / "comments").write_text("# nothing\n\n   \n")
    (tmp_path / "empty").write_bytes(b"")
    args = [a.format(tmp=tmp_path) for a in argv]
    assert_error(local_kaikyo("backup", *args, expect=None), code, needle)
    assert snapshot_ids(local_kaikyo) == []


# ---- real processes: the command's stderr, and never a command left behind ----------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "KAIKYO_REPOSITORY": str(tmp_path / "repo"),
        "KAIKYO_PASSWORD": "pw",
        "KAIKYO_CACHE_DIR": str(tmp_path / "cache"),
    }
    subprocess.run([KAIKYO, "init"], env=env, check=True, capture_output=True)
    return env


def _snapshots(env: dict[str, str]) -> list[object]:
    done = subprocess.run([KAIKYO, "snapshots", "--json"], env=env, check=True, capture_output=True)
    listed: list[object] = json.loads(done.stdout)
    return listed


def test_the_commands_stderr_passes_through(env: dict[str, str]) -> None:
    code = "import sys; print('pg_dump: connection refused', file=sys.stderr); sys.exit(2)"
    done = subprocess.run(
        [KAIKYO, "backup", "--stdin-from-command", "--", PY, "-c", code],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == 24, err
    assert "pg_dump: connection refused" in err and "exited with status 2" in err
    assert _snapshots(env) == []


def _sleeper(proc: subprocess.Popen[bytes]) -> int:
    """The pid of the ``sleep`` the backup started."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        for pid in children(proc.pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if fh.read().split(b"\0")[0].endswith(b"sleep"):
                        return pid
            except FileNotFoundError:
                continue
        time.sleep(0.02)
    raise AssertionError(f"no sleep appeared (kaikyo exited {proc.poll()})")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_command_never_outlives_kaikyo(env: dict[str, str], sig: int) -> None:
    proc = subprocess.Popen(
        [KAIKYO, "backup", "--stdin-from-command", "--", "sleep", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    sleeper = _sleeper(proc)
    try:
        os.kill(proc.pid, sig)  # kaikyo only, as `kill`, systemd or the OOM killer would
        proc.wait(timeout=60)  # not communicate(): a surviving sleep holds the pipes open
        assert gone_within([sleeper], 5), f"sleep {sleeper} still running"
    finally:
        if alive(sleeper):
            os.kill(sleeper, signal.SIGKILL)
    _, err = proc.communicate(timeout=10)
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and "Traceback" not in err.decode()
    else:
        assert proc.returncode == -signal.SIGKILL
    assert _snapshots(env) == []
