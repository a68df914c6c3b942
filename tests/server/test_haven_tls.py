"""TLS end to end: ``kaikyo serve --tls-cert/--tls-key`` with a certificate made here, and
engine commands that trust it only through ``KAIKYO_CA_FILE`` or ``--ca-file``."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from enginecli import backup_json, run_kaikyo, same_tree
from tlscert import self_signed

from kaikyo.testing.cli import KAIKYO
from kaikyo.testing.haven import HavenProcess, free_port


@pytest.fixture(scope="module")
def tls_haven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HavenProcess]:
    base = Path(tmp_path_factory.mktemp("tls"))
    proc = HavenProcess(base / "data", tls=self_signed(base / "pki"))
    proc.tenant("acme")
    proc.start()
    assert proc.base.startswith("https://127.0.0.1:")
    yield proc
    proc.stop()


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("kaikyo: error: "), stderr
    return lines[0]


def test_backup_and_restore_over_https(tls_haven: HavenProcess, tmp_path: Path) -> None:
    token = tls_haven.token("acme", "admin")
    url = tls_haven.url("acme", "tls")
    assert url.startswith("https://")
    ca = {"KAIKYO_CA_FILE": str(tls_haven.ca_file)}
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "blob.bin").write_bytes(bytes(range(256)) * 8192)
    (source / "sub" / "note.txt").write_text("over TLS\n" * 100)
    run_kaikyo(url, token, "init", env=ca)
    summary = backup_json(url, token, source, env=ca)
    assert summary["summary"]["errors"] == 0
    # The --ca-file flag works as well as the environment variable.
    run_kaikyo(
        url,
        token,
        "restore",
        "latest",
        "--target",
        str(tmp_path / "out"),
        "--ca-file",
        str(tls_haven.ca_file),
    )
    assert same_tree(source, tmp_path / "out" / source.relative_to("/"))
    run_kaikyo(url, token, "check", env=ca)


def test_untrusted_certificate_fails_at_once(tls_haven: HavenProcess, tmp_path: Path) -> None:
    token = tls_haven.token("acme", "backup")
    url = tls_haven.url("acme", "untrusted")
    other_ca, _ = self_signed(tmp_path / "other", "some other ca")
    for env in ({}, {"KAIKYO_CA_FILE": str(other_ca)}):
        started = time.monotonic()
        result = run_kaikyo(url, token, "init", check=False, env=env, timeout=120)
        # A trust failure is a connection failure (18), reported once, never retried.
        assert result.returncode == 18, result.stderr
        line = one_error_line(result.stderr)
        assert "TLS certificate of haven 127.0.0.1 not trusted" in line, line
        assert "KAIKYO_CA_FILE" in line, line
        assert time.monotonic() - started < 30
    # The haven stored nothing for the clients it never talked to.
    repo = tls_haven.data / "objects" / "acme" / "untrusted"
    assert not repo.exists() or not [p for p in repo.rglob("*") if p.is_file()]


def test_https_to_a_plain_port_fails_at_once(haven: HavenProcess) -> None:
    started = time.monotonic()
    url = haven.url("acme", "x").replace("http://", "https://")
    result = run_kaikyo(url, haven.token("acme", "backup"), "init", check=False, timeout=120)
    assert result.returncode == 18, result.stderr
    assert "does not speak TLS" in one_error_line(result.stderr)
    assert time.monotonic() - started < 30


def test_unreadable_ca_file_is_a_config_error(tls_haven: HavenProcess, tmp_path: Path) -> None:
    token = tls_haven.token("acme", "backup")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    for ca, words in (
        (tmp_path / "missing.pem", "cannot read CA file"),
        (garbage, "no usable PEM certificate"),
    ):
        result = run_kaikyo(
            tls_haven.url("acme", "x"),
            token,
            "snapshots",
            check=False,
            env={"KAIKYO_CA_FILE": str(ca)},
            timeout=60,
        )
        assert result.returncode == 23, result.stderr  # ConfigError
        assert words in one_error_line(result.stderr)


def serve(data: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KAIKYO, "serve", "--data", str(data), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]", "192.0.2.7"])
def test_plain_http_off_loopback_is_refused(tmp_path: Path, host: str) -> None:
    result = serve(tmp_path / "data", "--listen", f"{host}:{free_port()}")
    assert result.returncode == 64, result.stderr
    assert "refusing plain HTTP" in one_error_line(result.stderr)


def test_bad_tls_settings_are_one_line(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "a", "a")
    _, other_key = self_signed(tmp_path / "b", "b")
    listen = ("--listen", f"127.0.0.1:{free_port()}")
    half = serve(tmp_path / "data", *listen, "--tls-cert", str(cert))
    assert half.returncode == 64 and "go together" in one_error_line(half.stderr)
    missing = serve(
        tmp_path / "data", *listen, "--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(key)
    )
    assert missing.returncode == 23 and "cannot read TLS" in one_error_line(missing.stderr)
    mismatched = serve(
        tmp_path / "data", *listen, "--tls-cert", str(cert), "--tls-key", str(other_key)
    )
    assert mismatched.returncode == 23, mismatched.stderr
    assert "cannot use TLS certificate" in one_error_line(mismatched.stderr)
