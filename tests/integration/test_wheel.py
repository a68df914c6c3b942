"""The wheel as pip builds and installs it: what it carries, what its metadata says, and that
an install of it runs (the planner on the examples it ships; the base install without the
haven's and planner's packages, where their commands say what to install).

The wheel is built from this checkout's files (those git tracks or would track), offline:
``pip wheel --no-deps --no-build-isolation`` with the setuptools of the dev environment.
"""

from __future__ import annotations

import email.parser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import kaikyo

ROOT = Path(__file__).resolve().parents[2]
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
DATA = f"kaikyo-{kaikyo.__version__}.data/data/share/kaikyo"
DIST_INFO = f"kaikyo-{kaikyo.__version__}.dist-info"


def _source_copy(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():  # deleted but not yet committed: not part of the tree
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / os.fsdecode(name))
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = Path(tmp_path_factory.mktemp("wheel"))
    source = _source_copy(base / "src")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(base / "dist"), str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (built,) = (base / "dist").glob("kaikyo-*.whl")
    yield built


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as z:
        return email.parser.Parser().parsestr(z.read(f"{DIST_INFO}/METADATA").decode())


def test_the_wheel_carries_the_package_license_examples_and_units(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        license_text = z.read(f"{DIST_INFO}/licenses/LICENSE").decode()
    assert {"kaikyo/__init__.py", "kaikyo/cli/main.py", "kaikyo/py.typed"} <= names
    assert "kaikyo/server/accesslog.py" in names and "kaikyo/plan/planner.py" in names
    examples = {n.removeprefix(f"{DATA}/examples/") for n in names if "/examples/" in n}
    assert examples == {p.name for p in (ROOT / "examples").iterdir() if p.is_file()}
    units = {n.removeprefix(f"{DATA}/systemd/") for n in names if "/systemd/" in n}
    assert units == {p.name for p in (ROOT / "contrib" / "systemd").iterdir()}
    assert license_text == (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0" in license_text
    assert not [n for n in names if n.startswith(("tests/", "bench/", "scripts/"))]


def test_the_metadata_says_license_urls_and_extras(wheel: Path) -> None:
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert set(urls) == {"Homepage", "Documentation", "Changelog", "Issues"}
    assert all(u.startswith("https://") for u in urls.values())
    assert set(meta.get_all("Provides-Extra") or []) == {"haven", "plan", "mount", "all", "dev"}
    base = [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]
    names = {r.split("<")[0].split(">")[0].split("=")[0].strip().lower() for r in base}
    assert "numpy" in names and "cryptography" in names
    assert not names & {"sqlalchemy", "starlette", "uvicorn", "scipy", "matplotlib", "pyyaml"}


def test_an_installed_wheel_plans_with_the_examples_it_ships(wheel: Path, tmp_path: Path) -> None:
    """Installed into a prefix of its own (the dependencies are this environment's), the
    wheel's own kaikyo runs the README's plan on the examples under PREFIX/share/kaikyo."""
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip uninstalls this environment's kaikyo first.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
         "--prefix", str(prefix), str(wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    here = subprocess.run(
        [sys.executable, "-c", "import kaikyo; print(kaikyo.__file__)"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert here.startswith(str(ROOT))  # this checkout's kaikyo is still the one installed
    site = prefix / "lib" / PY / "site-packages"
    shared = prefix / "share" / "kaikyo"
    assert (shared / "systemd" / "kaikyo-haven.service").is_file()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import kaikyo; print(kaikyo.__file__)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(site))  # the wheel's copy, not this checkout's
    examples = shared / "examples"
    run = subprocess.run(
        [str(prefix / "bin" / "kaikyo"), "plan", "--fleet", str(examples / "fleet-tokyo.csv"),
         "--site", str(examples / "site-tokyo.yaml"), "--target", "15%",
         "--start", "2011-05-01", "--deadline", "2011-07-01", "--json"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["moves"]


@pytest.mark.slow
def test_the_base_install_has_no_haven_or_planner(wheel: Path, tmp_path: Path) -> None:
    """A fresh environment with the wheel and only its base dependencies, at the pins of
    requirements.lock (from the package index, or uv's cache): the engine works, the haven's
    and the planner's commands say which extra to install."""
    uv = Path(sys.executable).parent / "uv"
    venv = tmp_path / "venv"
    pins = tmp_path / "constraints.txt"
    pins.write_text(
        "\n".join(
            ln.split()[0]
            for ln in (ROOT / "requirements.lock").read_text().splitlines()
            if "==" in ln and not ln.startswith((" ", "#"))
        )  # fmt: skip
    )
    subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
         "-c", str(pins), str(wheel)],
        check=True,
    )  # fmt: skip
    installed = subprocess.run(
        [str(uv), "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    dists = {d["name"].lower() for d in json.loads(installed)}
    assert "kaikyo" in dists and "numpy" in dists
    assert not dists & {"sqlalchemy", "starlette", "uvicorn", "scipy", "matplotlib", "pyyaml"}
    bin_ = venv / "bin" / "kaikyo"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KAIKYO_PASSWORD": "pw",
           "KAIKYO_REPOSITORY": str(tmp_path / "repo")}  # fmt: skip
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ファイル").write_text("kept\n")
    for argv in (["init"], ["backup", str(tmp_path / "data")], ["check"]):
        run = subprocess.run([bin_, *argv], env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, (argv, run.stderr)
    for argv, extra in ((["serve"], "haven"), (["tenant", "list"], "haven"), (["plan"], "plan")):
        run = subprocess.run([bin_, *argv], env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 26, run.stderr
        assert run.stderr.startswith(
            f"kaikyo: error: kaikyo {argv[0]} needs the {extra} extra: "
            f"pip install 'kaikyo[{extra}]' (the module "
        )
        assert run.stderr.count("\n") == 1
