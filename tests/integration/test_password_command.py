"""--password-command / KAIKYO_PASSWORD_COMMAND, as restic's: real commands, real repositories.

The command's first line is the passphrase; it outranks KAIKYO_PASSWORD; a file and a
command together are refused; a command that fails, cannot start or prints nothing is one
line (exit 23) naming it and its exit status.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from .conftest import PASSWORD, Kaikyo
from .test_errors import assert_error


def py(code: str) -> str:
    """A --password-command that runs ``code`` in this Python (no shell involved)."""
    return shlex.join([sys.executable, "-c", code])


PRINTS_IT = py(f"print({PASSWORD!r}); print('not the passphrase')")
WRONG = {"KAIKYO_PASSWORD": "wrong"}


def test_the_first_line_is_the_passphrase_and_outranks_the_variable(
    local_kaikyo: Kaikyo,
) -> None:
    assert local_kaikyo("snapshots", "--json", env=WRONG, expect=None).code == 12
    assert local_kaikyo("snapshots", "--password-command", PRINTS_IT, env=WRONG).code == 0
    env = {**WRONG, "KAIKYO_PASSWORD_COMMAND": PRINTS_IT}
    assert local_kaikyo("snapshots", "--json", env=env).json() == []
    # Before the command, as restic takes global flags: the same.
    assert local_kaikyo("--password-command", PRINTS_IT, "snapshots", env=WRONG).code == 0


def test_init_with_a_command(tmp_path: Path) -> None:
    k = Kaikyo(tmp_path / "repo", tmp_path / "cache", password="unused")
    env = {"KAIKYO_PASSWORD_COMMAND": py("print('from a vault')")}
    assert k("init", "--json", env={**env, "KAIKYO_PASSWORD": ""}).json()["recovery_key"]
    assert k("snapshots", env=env).code == 0
    assert k("snapshots", env={"KAIKYO_PASSWORD": "from a vault"}).code == 0


def test_a_wrong_passphrase_from_the_command_is_exit_12(local_kaikyo: Kaikyo) -> None:
    run = local_kaikyo("snapshots", "--password-command", py("print('nope')"), expect=None)
    assert_error(run, 12)


def test_file_and_command_together_are_refused(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    both = ("--password-file", str(pw), "--password-command", PRINTS_IT)
    assert_error(local_kaikyo("snapshots", *both, expect=None), 64, "both given")
    env = {"KAIKYO_PASSWORD_FILE": str(pw), "KAIKYO_PASSWORD_COMMAND": PRINTS_IT}
    assert_error(local_kaikyo("snapshots", env=env, expect=None), 64, "both given")
    # A flag outranks the other one's variable.
    bad_command = {"KAIKYO_PASSWORD_COMMAND": py("raise SystemExit(9)")}
    assert local_kaikyo("snapshots", "--password-file", pw, env=bad_command).code == 0
    assert (
        local_kaikyo(
            "snapshots",
            "--password-command",
            PRINTS_IT,
            env={"KAIKYO_PASSWORD_FILE": "/nonexistent"},
        ).code
        == 0
    )


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        (py("import sys; print('vault sealed', file=sys.stderr); sys.exit(3)"),
         "exited with status 3"),
        (py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), "was killed by SIGKILL"),
        (py("pass"), "printed no passphrase"),
        (py("print(); print('second')"), "printed no passphrase"),
        ("/nonexistent/kaikyo-vault --get", "cannot run password command"),
    ],
)  # fmt: skip
def test_a_failing_command_is_one_line_exit_23(
    local_kaikyo: Kaikyo, command: str, needle: str
) -> None:
    run = local_kaikyo("snapshots", "--password-command", command, env=WRONG, expect=None)
    line = assert_error(run, 23, needle)
    assert "KAIKYO_PASSWORD_COMMAND" in line
    if "status 3" in needle:
        assert "vault sealed" in run.err  # the command's own stderr is kaikyo's


def test_an_unsplittable_or_empty_command_is_usage(local_kaikyo: Kaikyo) -> None:
    for command, needle in (("'unclosed", "cannot split"), ("", "")):
        env = {**WRONG, "KAIKYO_PASSWORD_COMMAND": " "} if not command else WRONG
        argv = ("--password-command", command) if command else ()
        run = local_kaikyo("snapshots", *argv, env=env, expect=None)
        assert_error(run, 64, needle or "is empty")


def test_the_command_never_reads_what_backup_stdin_stores(local_kaikyo: Kaikyo) -> None:
    greedy = py(f"import sys; sys.stdin.read(); print({PASSWORD!r})")
    data = b"a database dump\n" * 1000
    sid = local_kaikyo(
        "backup", "--stdin", "--json", "--password-command", greedy, env=WRONG, stdin=data
    ).json()["snapshot_id"]
    dumped = local_kaikyo.binary("dump", sid, "/stdin")
    assert dumped.data == data
