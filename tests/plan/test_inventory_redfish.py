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


def discover_json(
    *urls: str, extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> tuple[int, list[dict], str]:
    code, out, err = run(
        "inventory",
        "discover",
        *(["--redfish", *urls] if urls else []),
        "--rated-watts",
        RATED,
        "--timeout",
        "3s",
        "--json",
        *extra,
        env=env,
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
    fish = by_id["catfishHostname"]  # only PowerConsumedWatts: one spot reading for both
    assert (fish["watts_avg"], fish["watts_peak"], fish["power_source"]) == (
        224.0,
        224.0,
        "spot",
    )
    assert "not an average" in fish["note"]


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
        wrong = tmp_path / "password"
        wrong.write_text("wrong\n")
        code, rows, err = discover_json(
            url, extra=("--user", "admin", "--password-file", str(wrong))
        )
        code2, rows2, _ = discover_json(
            url, env={"KAIKYO_BMC_USER": "admin", "KAIKYO_BMC_PASSWORD": "right"}
        )
    finally:
        next(gen, None)
    assert code == 3 and rows[0]["power_source"] == "rated"
    assert "refused the credentials" in rows[0]["note"] and "refused" in err
    assert code2 != 3 or "refused" not in rows2[0]["note"]  # the right one from the env


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


def test_a_password_on_the_command_line_is_refused():
    code, _, err = run(
        "inventory", "discover", "--redfish", "http://x", "--user", "a", "--password", "pw"
    )
    assert code == 64 and "KAIKYO_BMC_PASSWORD" in err and err.count("\n") == 1


def test_hosts_file_asks_many_bmcs_at_once_in_its_order(static_bmc, tmp_path: Path):
    rack = static_bmc(MOCKUPS / "public-rackmount1")
    cat = static_bmc(MOCKUPS / "public-catfish")
    dead = f"http://127.0.0.1:{free_port()}"
    hosts = tmp_path / "bmcs.txt"
    hosts.write_text(f"# the server room\n{cat}\n\n{dead}  # retired\n{rack}\n", "utf-8")
    code, rows, err = discover_json(extra=("--hosts", str(hosts), "--concurrency", "3"))
    assert code == 3  # the dead one is a rated row
    assert [r["id"] for r in rows] == ["catfishHostname", dead.removeprefix("http://"), "web483"]
    bad = tmp_path / "bad.txt"
    bad.write_text("10.0.0.5\n", "utf-8")
    code, _, err = run("inventory", "discover", "--hosts", str(bad))
    assert code == 23 and "line 1" in err


def test_sampling_derives_average_and_peak_from_repeated_readings(static_bmc, tmp_path: Path):
    import threading

    root = tmp_path / "fish"
    shutil.copytree(MOCKUPS / "public-catfish", root)
    power = root / "Chassis" / "1" / "Power" / "index.json"
    url = static_bmc(root)
    result: list[tuple[int, list[dict], str]] = []
    worker = threading.Thread(
        target=lambda: result.append(
            discover_json(url, extra=("--sample", "1.6s", "--interval", "0.2s"))
        )
    )
    worker.start()
    time.sleep(0.8)  # halfway, the server draws more
    power.write_text(
        power.read_text("utf-8").replace('"PowerConsumedWatts": 224', '"PowerConsumedWatts": 300'),
        "utf-8",
    )
    worker.join(30)
    [(code, rows, _)] = result
    row = rows[0]
    assert code == 0 and row["power_source"] == "sampled" and "readings over" in row["note"]
    assert row["watts_min"] == 224.0 and row["watts_peak"] == 300.0
    assert 224.0 < row["watts_avg"] < 300.0
    code, _, err = run("inventory", "discover", "--redfish", url, "--sample", "1s",
                       "--interval", "5s")  # fmt: skip
    assert code == 64 and "--interval" in err


def test_merge_takes_measured_watts_into_the_fleet_and_plans(static_bmc, tmp_path: Path):
    rack = static_bmc(MOCKUPS / "public-rackmount1")
    cat = static_bmc(MOCKUPS / "public-catfish")
    dead = f"http://127.0.0.1:{free_port()}"
    discovered = tmp_path / "discovered.csv"
    code, _, _ = run("inventory", "discover", "--redfish", rack, cat, dead, "--timeout", "3s",
                     "--csv", str(discovered))  # fmt: skip
    assert code == 3
    fleet = tmp_path / "fleet.csv"
    fleet.write_text(
        "id,group,watts_avg,watts_peak,storage_gb,residency,power_source,bmc\n"
        "web483,web,220,365,500,may-leave,rated,\n"  # matched by id
        f"魚-01,fish,220,365,300,may-leave,rated,{cat.removeprefix('http://')}\n"  # by BMC
        "db-01,db,300,400,900,must-stay,measured,\n",  # not discovered: as it was
        "utf-8",
    )
    out = tmp_path / "fleet-live.csv"
    code, text, err = run("inventory", "merge", "--fleet", str(fleet), "--discovered",
                          str(discovered), "--out", str(out), "--json")  # fmt: skip
    report = json.loads(text)
    assert code == 3 and report["replaced"] == 2  # the dead BMC's row matches nothing
    assert report["by_source"] == {"measured": 1, "spot": 1}
    assert report["unmatched"] == [dead.removeprefix("http://")] and "no fleet row" in err
    import csv as _csv

    with out.open(encoding="utf-8") as fh:
        rows = {r["id"]: r for r in _csv.DictReader(fh)}
    assert (rows["web483"]["watts_avg"], rows["web483"]["watts_peak"]) == ("319.0", "489.0")
    assert rows["web483"]["power_source"] == "measured" and "measured by" in rows["web483"]["note"]
    assert rows["魚-01"]["power_source"] == "spot" and rows["魚-01"]["watts_avg"] == "224.0"
    assert rows["db-01"]["watts_avg"] == "300" and rows["db-01"]["storage_gb"] == "900"
    site = tmp_path / "site.yaml"
    site.write_text("baseline_peak_kw: 10\n", "utf-8")
    code, _, _ = run("plan", "--fleet", str(out), "--site", str(site), "--start", "2011-05-02",
                     "--deadline", "2011-06-01", "--target", "1%")  # fmt: skip
    assert code in (0, 2)  # it plans (discover's own output alone exits 23)
    code, _, _ = run("plan", "--fleet", str(discovered), "--site", str(site), "--start",
                     "2011-05-02", "--deadline", "2011-06-01")  # fmt: skip
    assert code == 23


def test_merge_keeps_better_evidence_and_refuses_a_format_change(tmp_path: Path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps([{"id": "a", "storage_gb": 1, "residency": "may-leave",
                                  "watts_avg": 250, "watts_peak": 300,
                                  "power_source": "measured"}]), "utf-8")  # fmt: skip
    found = tmp_path / "found.json"
    found.write_text(json.dumps([{"id": "a", "watts_avg": 100, "watts_peak": 120,
                                  "power_source": "spot", "storage_gb": "",
                                  "residency": ""}]), "utf-8")  # fmt: skip
    out = tmp_path / "out.json"
    code, text, _ = run("inventory", "merge", "--fleet", str(fleet), "--discovered",
                        str(found), "--out", str(out), "--json")  # fmt: skip
    assert code == 0 and json.loads(text)["replaced"] == 0
    assert json.loads(out.read_text("utf-8"))[0]["watts_avg"] == 250
    code, _, err = run("inventory", "merge", "--fleet", str(fleet), "--discovered",
                       str(found), "--out", str(tmp_path / "out.csv"))  # fmt: skip
    assert code == 64 and "format" in err and not (tmp_path / "out.csv").exists()
