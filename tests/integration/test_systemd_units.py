"""The systemd units in contrib/systemd: systemd accepts them, they are hardened, and the
command lines they run work.

``systemd-analyze verify`` (Debian's systemd package) reads each unit as systemd would, with
ExecStart pointed at this checkout's kaikyo (verify checks that the program exists); where it
is missing, the units are read with configparser instead. Either way, each unit's ExecStart is
then expanded as systemd expands it (specifiers, ``$VAR`` split into words, ``${VAR}`` kept
whole) with the shipped example settings, and run for real: the haven serves, the backup saves
a snapshot.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kaikyo.cli.main import build_parser
from kaikyo.testing.cli import kaikyo
from kaikyo.testing.haven import free_port

UNITS = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
SHIPPED_KAIKYO = "/opt/kaikyo/bin/kaikyo"
KAIKYO_BIN = str(Path(sys.executable).parent / "kaikyo")
ANALYZE = shutil.which("systemd-analyze")
UNIT_FILES = ["kaikyo-haven.service", "kaikyo-backup@.service", "kaikyo-backup@.timer"]


def read_unit(name: str) -> configparser.ConfigParser:
    """A unit as configparser reads it: keys keep their case, a repeated key keeps its last
    value (systemd appends some, such as Environment=: see :func:`values`)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text(), source=name)
    return parser


def values(name: str, section: str, key: str) -> list[str]:
    """Every value of a key that may repeat, in order."""
    pattern = re.compile(rf"^{re.escape(key)}=(.*)$")
    lines, current = [], ""
    for line in (UNITS / name).read_text().splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and (m := pattern.match(line)):
            lines.append(m.group(1))
    return lines


def env_file(path: Path) -> dict[str, str]:
    """An EnvironmentFile= as systemd reads it: KEY=VALUE lines, # comments."""
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def specified(text: str, specifiers: dict[str, str]) -> str:
    for spec, value in specifiers.items():
        text = text.replace(f"%{spec}", value)
    return text


def unit_environment(name: str, specifiers: dict[str, str]) -> dict[str, str]:
    """The unit's Environment= settings, specifiers expanded."""
    env = {}
    for value in values(name, "Service", "Environment"):
        for word in shlex.split(value):
            key, _, val = word.partition("=")
            env[key] = specified(val, specifiers)
    return env


def expand(command: str, env: dict[str, str], specifiers: dict[str, str]) -> list[str]:
    """ExecStart= as systemd runs it: %-specifiers, then ``$VAR`` alone as a word becomes
    that many words (none when unset), ``${VAR}`` is replaced in place."""
    command = specified(command, specifiers)
    argv: list[str] = []
    for word in shlex.split(command):
        alone = re.fullmatch(r"\$(\w+)", word)
        if alone:
            argv += env.get(alone.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), word))
    return argv


def test_units_and_examples_are_shipped() -> None:
    present = {p.name for p in UNITS.iterdir()}
    assert {*UNIT_FILES, "haven.env", "backup.env", "kaikyo.sysusers"} <= present
    assert (UNITS / "kaikyo.sysusers").read_text().splitlines()[-1].split()[:2] == ["u", "kaikyo"]


def _verify_copies(tmp_path: Path) -> list[Path]:
    """The units with ExecStart at this checkout's kaikyo, and the templates instantiated (a
    template alone is not checked as fully)."""
    copies = []
    for name in UNIT_FILES:
        text = (UNITS / name).read_text().replace(SHIPPED_KAIKYO, KAIKYO_BIN)
        target = tmp_path / name.replace("@.", "@nightly.")
        target.write_text(text)
        copies.append(target)
    return copies


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    assert ANALYZE is not None
    copies = _verify_copies(tmp_path)
    run = subprocess.run(
        [ANALYZE, "verify", "--man=no", *map(str, copies)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    # verify exits 0 on an unknown key but says so: any word about our files is a finding.
    ours = [ln for ln in (run.stdout + run.stderr).splitlines() if "kaikyo" in ln]
    assert (run.returncode, ours) == (0, [])
    # ... and it does catch what a typo would do.
    bad = tmp_path / "kaikyo-bad.service"
    bad.write_text(copies[0].read_text().replace("NoNewPrivileges=", "NoNewPrivilege="))
    caught = subprocess.run(
        [ANALYZE, "verify", "--man=no", str(bad)], capture_output=True, text=True, check=False
    )
    assert "Unknown key 'NoNewPrivilege'" in caught.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize(
    ("unit", "ceiling"), [("kaikyo-haven.service", 2.0), ("kaikyo-backup@nightly.service", 3.0)]
)
def test_the_services_are_hardened(tmp_path: Path, unit: str, ceiling: float) -> None:
    """systemd's own exposure score (0 = locked down, 10 = unprotected); the backup reads
    every file as root, so it scores higher than the haven."""
    assert ANALYZE is not None
    copy = next(p for p in _verify_copies(tmp_path) if p.name == unit)
    run = subprocess.run(
        [ANALYZE, "security", "--offline=yes", str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout + run.stderr)
    assert found, run.stdout + run.stderr
    assert float(found.group(1)) <= ceiling


def test_the_units_say_what_they_must() -> None:
    """Read without systemd: the settings the docs promise are there."""
    haven = read_unit("kaikyo-haven.service")["Service"]
    for key, value in {
        "User": "kaikyo",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "kaikyo-haven",
        "CapabilityBoundingSet": "",
        "EnvironmentFile": "-/etc/kaikyo/haven.env",
    }.items():
        assert haven.get(key) == value, key
    assert haven["ExecStart"].startswith(f"{SHIPPED_KAIKYO} serve ")
    assert "KAIKYO_HAVEN_DATA=%S/kaikyo-haven" in values(
        "kaikyo-haven.service", "Service", "Environment"
    )
    backup = read_unit("kaikyo-backup@.service")["Service"]
    assert backup["Type"] == "oneshot"
    assert backup["EnvironmentFile"] == "/etc/kaikyo/%i.env"
    assert (backup["ProtectSystem"], backup["NoNewPrivileges"]) == ("strict", "yes")
    assert backup["CapabilityBoundingSet"] == "CAP_DAC_READ_SEARCH"
    timer = read_unit("kaikyo-backup@.timer")
    assert timer["Timer"]["Unit"] == "kaikyo-backup@%i.service"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_the_example_settings_are_flags_kaikyo_takes() -> None:
    serve = env_file(UNITS / "haven.env")["KAIKYO_SERVE_ARGS"].split()
    args = build_parser("serve").parse_args(["serve", *serve])
    assert (args.access_log, args.access_log_format) == ("-", "json")
    assert args.metrics_listen == "127.0.0.1:9720" and args.tls_cert
    backup = env_file(UNITS / "backup.env")
    args = build_parser("backup").parse_args(
        ["backup", *backup["KAIKYO_BACKUP_ARGS"].split(), *backup["KAIKYO_BACKUP_PATHS"].split()]
    )
    assert args.paths == ["/etc", "/home", "/srv"]
    assert set(backup) >= {"KAIKYO_REPOSITORY", "KAIKYO_PASSWORD_FILE", "KAIKYO_TOKEN"}


def test_the_haven_unit_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()  # StateDirectory= makes it
    env = unit_environment("kaikyo-haven.service", {"S": str(state)})
    assert env["KAIKYO_HAVEN_DATA"] == str(state / "kaikyo-haven")
    port = free_port()
    env["KAIKYO_SERVE_ARGS"] = env["KAIKYO_SERVE_ARGS"].replace(":8720", f":{port}")
    command = read_unit("kaikyo-haven.service")["Service"]["ExecStart"]
    argv = expand(command, env, {"S": str(state)})
    assert argv[0] == SHIPPED_KAIKYO
    proc = subprocess.Popen(
        [KAIKYO_BIN, *argv[1:]],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)  # as systemctl stop does
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert '"GET /healthz" 200' in out  # the access log, on standard output: the journal
    assert (state / "kaikyo-haven" / "haven.db").exists()


def test_the_backup_unit_runs(tmp_path: Path) -> None:
    settings = env_file(UNITS / "backup.env")
    (tmp_path / "pass").write_text("unit test passphrase\n")
    tree = tmp_path / "srv"
    (tree / "データ").mkdir(parents=True)
    (tree / "データ" / "설정.conf").write_text("a = 1\n")
    settings.update(
        KAIKYO_REPOSITORY=str(tmp_path / "repo"),
        KAIKYO_PASSWORD_FILE=str(tmp_path / "pass"),
        KAIKYO_BACKUP_PATHS=str(tree),
    )
    del settings["KAIKYO_TOKEN"]
    code, _, err = kaikyo("init", env=settings)
    assert code == 0, err
    unit = "kaikyo-backup@.service"
    specifiers = {"i": "web", "C": str(tmp_path / "cache")}
    assert (
        specified(read_unit(unit)["Service"]["EnvironmentFile"], specifiers)
        == "/etc/kaikyo/web.env"
    )
    env = {**settings, **unit_environment(unit, specifiers)}
    argv = expand(read_unit(unit)["Service"]["ExecStart"], env, specifiers)
    run = subprocess.run(
        [KAIKYO_BIN, *argv[1:]],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert env["KAIKYO_CACHE_DIR"] == str(tmp_path / "cache" / "kaikyo")
    assert any((tmp_path / "cache" / "kaikyo").rglob("*"))  # the files cache went there
    code, out, err = kaikyo("snapshots", "--json", env=settings)
    assert code == 0, err
    assert '"systemd"' in out  # the example's --tag
    code, out, _ = kaikyo("ls", "latest", env=settings)
    assert "설정.conf" in out
