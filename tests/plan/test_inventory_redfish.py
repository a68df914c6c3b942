"""``kaikyo inventory discover`` against real Redfish services: sushy-static serving the DMTF
mockups (and edited copies), sushy-emulator for refused credentials, and a closed port."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest

from kaikyo.testing.cli import kaikyo as run

pytestmark = pytest.mark.external


def _mockups() -> Path:
    """The DMTF mockups in shared/, which CI places beside the clone (sessions: /work/shared)."""
    for candidate in (
        Path(__file__).resolve().parents[3] / "shared" / "redfish-mockups",
        Path("/work/shared/redfish-mockups"),
    ):
        if candidate.is_dir():
            return candidate
    pytest.skip(
        "the DMTF Redfish mockups (shared/redfish-mockups) are not present", allow_module_level=True
    )


MOCKUPS = _mockups()
BIN = Path(sys.executable).parent
RATED = "220/365"


def free_port() -> int:
    # sushy-static cannot bind port 0 and report it, so pick one and hand it over.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the Redfish server exited early"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def serve(argv: list[str], port: int) -> Iterator[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def static_bmc() -> Iterator[Callable[[Path], str]]:
    """Start sushy-static over a mockup directory; returns a function dir -> base URL."""
    gens: list[Iterator[str]] = []

    def start(directory: Path) -> str:
        port = free_port()
        gen = serve(
            [str(BIN / "sushy-static"), "-i", "127.0.0.1", "-p", str(port), "-m", str(directory)],
            port,
        )
        gens.append(gen)
        return next(gen)

    yield start
    for gen in gens:
        next(gen, None)


def discover_json(*urls: str, extra: tuple[str, ...] = ()) -> tuple[int, list[dict], str]:
    code, out, err = run(
        "inventory",
        "discover",
        "--redfish",
        *urls,
        "--rated-watts",
        RATED,
        "--timeout",
        "3s",
        "--json",
        *extra,
    )
    return code, json.loads(out), err


def test_dmtf_mockups_give_measured_rows(static_bmc):
    rack = static_bmc(MOCKUPS / "public-rackmount1")
    cat = static_bmc(MOCKUPS / "public-catfish")
    code, rows, _ = discover_json(rack, cat)
    assert code == 0
    by_id = {r["id"]: r for r in rows}
    web = by_id["web483"]  # PowerControl with PowerMetrics (30 min): 271/319/489 W
    assert (web["watts_avg"], web["watts_peak"], web["watts_min"]) == (319.0, 489.0, 271.0)
    assert web["power_source"] == "measured" and web["bmc"] == rack.removeprefix("http://")
    assert web["model"] == "3500RX"
    fish = by_id["catfishHostname"]  # only PowerConsumedWatts: current reading for both
    assert (fish["watts_avg"], fish["watts_peak"], fish["power_source"]) == (
        224.0,
        224.0,
        "measured",
    )


def test_environment_metrics_and_unicode_names(static_bmc, tmp_path: Path):
    root = tmp_path / "bmc"
    shutil.copytree(MOCKUPS / "public-rackmount1", root)
    shutil.rmtree(root / "Chassis" / "1U" / "Power")  # only EnvironmentMetrics (374 W) left
    system = root / "Systems" / "437XR1138R2" / "index.json"
    body = json.loads(system.read_text(encoding="utf-8"))
    body["HostName"] = "経理サーバ-01·서버"
    system.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    code, rows, _ = discover_json(static_bmc(root))
    assert code == 0
    assert rows[0]["id"] == "経理サーバ-01·서버"
    assert (rows[0]["watts_avg"], rows[0]["watts_peak"]) == (374.0, 374.0)


def test_missing_power_data_falls_back_to_rated(static_bmc, tmp_path: Path):
    root = tmp_path / "bmc"
    shutil.copytree(MOCKUPS / "public-rackmount1", root)
    for name in ("Power", "EnvironmentMetrics"):
        shutil.rmtree(root / "Chassis" / "1U" / name)
    code, rows, err = discover_json(static_bmc(root))
    assert code == 3
    assert rows[0]["power_source"] == "rated" and rows[0]["id"] == "web483"
    assert (rows[0]["watts_avg"], rows[0]["watts_peak"]) == (220.0, 365.0)
    assert "no power data" in rows[0]["note"] and "no power data" in err


def test_unreachable_bmc_is_a_rated_row_with_a_clear_note():
    url = f"http://127.0.0.1:{free_port()}"
    code, rows, err = discover_json(url)
    assert code == 3 and rows[0]["power_source"] == "rated"
    assert "unreachable" in rows[0]["note"] and "unreachable" in err


def test_refused_credentials(tmp_path: Path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("admin:" + bcrypt.hashpw(b"right", bcrypt.gensalt()).decode() + "\n")
    config = tmp_path / "emulator.conf"
    config.write_text(
        f"SUSHY_EMULATOR_AUTH_FILE = {str(htpasswd)!r}\n"
        "SUSHY_EMULATOR_FAKE_DRIVER = True\n"
        "SUSHY_EMULATOR_FAKE_SYSTEMS = [{'uuid': "
        "'27946b59-9e44-4fa7-8e91-f3527a1ef094', 'name': 'fake', "
        "'power_state': 'On', 'nics': []}]\n"
    )
    port = free_port()
    gen = serve(
        [str(BIN / "sushy-emulator"), "-i", "127.0.0.1", "-p", str(port), "--config", str(config)],
        port,
    )
    url = next(gen)
    try:
        code, rows, err = discover_json(url, extra=("--user", "admin", "--password", "wrong"))
    finally:
        next(gen, None)
    assert code == 3 and rows[0]["power_source"] == "rated"
    assert "refused the credentials" in rows[0]["note"] and "refused" in err


def test_csv_output_uses_fleet_columns(static_bmc, tmp_path: Path):
    url = static_bmc(MOCKUPS / "public-rackmount1")
    code, out, _ = run(
        "inventory", "discover", "--redfish", url, "--csv", str(tmp_path / "fleet.csv")
    )
    assert code == 0 and "web483" in out
    header = (tmp_path / "fleet.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("id,group,site,watts_avg,watts_peak,storage_gb")


def test_bad_flags():
    code, _, err = run("inventory", "discover", "--redfish", "10.0.0.5")
    assert code == 64 and "http://" in err
    code, _, err = run("inventory", "discover", "--redfish", "http://x", "--rated-watts", "9")
    assert code == 64 and "AVG/PEAK" in err
