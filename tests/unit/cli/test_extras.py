"""The base install carries the engine and the CLI only; the haven and the planner are extras.

What each part imports is read from its source (every import statement, deferred ones too),
mapped to the installed distribution that provides it, and held against pyproject.toml: so a
new import in the server cannot land in the base install unnoticed, and a command whose extra
is missing says which to install (exit 26) instead of printing a traceback.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kaikyo.cli import exitcodes
from kaikyo.cli.extras import COMMAND_EXTRA, EXTRA_MODULES

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src" / "kaikyo"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The packages behind each extra; the CLI modules of its commands come from COMMAND_EXTRA.
# mount imports mfusepy only when a mount starts and says itself what to install (exit 25),
# so its command is in no CLI table.
EXTRA_PACKAGES = {"haven": ("server",), "plan": ("plan", "inventory"), "mount": ("snapshot/mount",)}


def _imports(path: Path) -> set[str]:
    """Top-level names of the third-party modules a file imports, wherever in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.partition(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in {"kaikyo"}}


def _files_of(extra: str) -> list[Path]:
    files = [f for pkg in EXTRA_PACKAGES[extra] for f in (SRC / pkg).rglob("*.py")]
    commands = [c for c, e in COMMAND_EXTRA.items() if e == extra]
    return files + [SRC / "cli" / "commands" / f"{c}.py" for c in commands]


def _engine_files() -> list[Path]:
    """Everything a base install runs: all of kaikyo but the extras' parts and the tests'
    support package."""
    taken = {f for extra in EXTRA_PACKAGES for f in _files_of(extra)}
    return [f for f in SRC.rglob("*.py") if f not in taken and "testing" not in f.parts]


def _modules(files: list[Path]) -> set[str]:
    return set().union(*(_imports(f) for f in files))


def _dists(modules: set[str]) -> set[str]:
    where = packages_distributions()
    missing = sorted(m for m in modules if m not in where)
    assert not missing, f"imported but not installed: {missing}"
    return {canonicalize_name(d) for m in modules for d in where[m]}


def _declared(requirements: list[str]) -> set[str]:
    names = {canonicalize_name(Requirement(r).name) for r in requirements}
    return names - {"kaikyo"}


BASE = _declared(PYPROJECT["project"]["dependencies"])
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def test_the_base_install_is_what_the_engine_imports() -> None:
    engine = _dists(_modules(_engine_files()))
    assert engine <= BASE, f"the engine imports undeclared {sorted(engine - BASE)}"
    assert engine >= BASE, f"the base install carries unused {sorted(BASE - engine)}"


@pytest.mark.parametrize("extra", sorted(EXTRA_PACKAGES))
def test_an_extras_packages_are_declared_there_and_not_in_the_base(extra: str) -> None:
    engine_modules = _modules(_engine_files())
    own_modules = _modules(_files_of(extra)) - engine_modules
    own = _dists(own_modules)
    assert own, "the scan found nothing: the extra's files moved?"
    assert not own & BASE, f"the base install carries the {extra}'s {sorted(own & BASE)}"
    assert own == _declared(EXTRAS[extra]), "pyproject's extra differs from what is imported"
    # The CLI's table names the same modules, so a missing one is reported, not a traceback.
    if extra != "mount":
        assert own_modules == EXTRA_MODULES[extra]


def test_all_and_dev_carry_every_extra() -> None:
    assert EXTRAS["all"] == [f"kaikyo[{','.join(sorted(EXTRA_PACKAGES))}]"]
    assert "kaikyo[all]" in EXTRAS["dev"]


def test_backup_help_imports_neither_the_haven_nor_the_planner() -> None:
    code = (
        "import sys, contextlib, io\n"
        "import kaikyo.cli.main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        kaikyo.cli.main.main(['backup', '--help'])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "assert 'usage: kaikyo backup' in out.getvalue()\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    assert "kaikyo.cli.commands.backup" in loaded
    heavy = {"kaikyo.server", "kaikyo.plan", "kaikyo.inventory", *EXTRA_MODULES["haven"]}
    heavy |= EXTRA_MODULES["plan"] | {"mfusepy"}
    assert sorted(m for m in loaded if m.partition(".")[0] in heavy or m in heavy) == []
    assert not any(m.startswith(("kaikyo.server.", "kaikyo.plan.")) for m in loaded)


def _without(modules: set[str], *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a Python where ``modules`` cannot be imported, as in an install
    without their extra (``sys.modules[name] = None`` makes ``import name`` fail)."""
    code = (
        "import sys\n"
        f"for name in {sorted(modules)!r}:\n"
        "    sys.modules[name] = None\n"
        f"sys.argv = ['kaikyo', *{list(argv)!r}]\n"
        "from kaikyo.cli.main import entry\n"
        "entry()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "argv",
    [
        ("serve", "--listen", "127.0.0.1:1", "--no-such-flag"),
        ("tenant", "list"),
        ("token", "issue", "acme", "--scope", "backup"),
        ("haven", "scrub"),
        ("plan", "--help"),
        ("inventory", "discover", "--redfish", "https://bmc1"),
    ],
)
def test_a_command_without_its_extra_says_what_to_install(argv: tuple[str, ...]) -> None:
    extra = COMMAND_EXTRA[argv[0]]
    run = _without(EXTRA_MODULES[extra], *argv)
    assert run.returncode == 26, run.stderr
    assert run.stdout == ""
    assert run.stderr.startswith(
        f"kaikyo: error: kaikyo {argv[0]} needs the {extra} extra: pip install 'kaikyo[{extra}]'"
        " (the module "
    )
    assert run.stderr.count("\n") == 1, run.stderr  # one line, no traceback


def test_help_lists_the_commands_that_are_not_installed() -> None:
    run = _without(EXTRA_MODULES["haven"] | EXTRA_MODULES["plan"], "--help")
    assert run.returncode == 0, run.stderr
    lines = {ln.split()[0]: ln for ln in run.stdout.splitlines() if ln.startswith("    ")}
    for command, extra in COMMAND_EXTRA.items():
        assert f"(not installed: needs kaikyo[{extra}])" in lines[command]
    assert "not installed" not in lines["backup"]


def test_a_missing_base_module_is_a_bug_not_a_missing_extra() -> None:
    """Only the modules an extra brings are reported as such; a base dependency that is gone
    is a broken install, shown with its traceback (exit 1)."""
    run = _without({"rich"}, "plan", "--help")
    assert run.returncode == 1
    assert "Traceback" in run.stderr and "extra" not in run.stderr


def test_every_exit_code_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    cells = [ln.split("|") for ln in section.splitlines() if ln.startswith("| ")]
    documented = {int(c[1]) for c in cells if c[1].strip().isdigit()}
    codes = {code for _, code in exitcodes.TABLE} | {exitcodes.INTERRUPTED, exitcodes.TERMINATED}
    assert codes <= documented, sorted(codes - documented)
