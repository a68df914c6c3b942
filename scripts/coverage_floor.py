"""Combine the coverage data of a test run, print branch coverage per package, check floors.

The pytest process and every process the tests start (the CLI, `kaikyo serve`, forked
backup workers) leave a data file of their own; they are combined into `.coverage` first.
A package's figure is coverage.py's with branch measurement on: covered statements and
branches over all statements and branches. The floors are `[tool.kaikyo.coverage-floor]`
in pyproject.toml; the exit status is 1 if a package is below its floor.
"""

from __future__ import annotations

import json
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "src" / "kaikyo"


@dataclass
class Tally:
    statements: int = 0
    covered_lines: int = 0
    branches: int = 0
    covered_branches: int = 0

    def add(self, summary: dict[str, int]) -> None:
        self.statements += summary["num_statements"]
        self.covered_lines += summary["covered_lines"]
        self.branches += summary.get("num_branches", 0)
        self.covered_branches += summary.get("covered_branches", 0)

    @property
    def percent(self) -> float:
        total = self.statements + self.branches
        return 100.0 * (self.covered_lines + self.covered_branches) / total if total else 100.0

    @property
    def branch_percent(self) -> float:
        return 100.0 * self.covered_branches / self.branches if self.branches else 100.0


def package_of(filename: str) -> str:
    """`kaikyo.core` for src/kaikyo/core/..., `kaikyo` for a module at the top."""
    rel = Path(filename).resolve().relative_to(PACKAGE_DIR)
    return "kaikyo" if len(rel.parts) == 1 else f"kaikyo.{rel.parts[0]}"


def combined() -> coverage.Coverage:
    cov = coverage.Coverage(config_file=str(ROOT / "pyproject.toml"))
    data_file = Path(cov.config.data_file)
    if list(data_file.parent.glob(data_file.name + ".*")):
        cov.combine(keep=False)
        cov.save()
    cov.load()
    return cov


def tallies(cov: coverage.Coverage) -> dict[str, Tally]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(out))
        files = json.loads(out.read_text())["files"]
    by_package: dict[str, Tally] = {}
    for filename, entry in files.items():
        if not Path(filename).resolve().is_relative_to(PACKAGE_DIR):
            continue  # a copy outside the checkout that [tool.coverage.paths] did not map
        by_package.setdefault(package_of(filename), Tally()).add(entry["summary"])
    return dict(sorted(by_package.items()))


def main() -> int:
    floors = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["kaikyo"][
        "coverage-floor"
    ]
    by_package = tallies(combined())
    print(f"{'package':<18} {'stmts':>6} {'branches':>8} {'branch%':>8} {'cover':>6}  floor")
    below = []
    for name, t in by_package.items():
        floor = floors.get(name)
        mark = ""
        if floor is not None:
            mark = f"{floor:>5}" + ("  BELOW" if t.percent < floor else "")
            if t.percent < floor:
                below.append(name)
        print(
            f"{name:<18} {t.statements:>6} {t.branches:>8} {t.branch_percent:>7.1f}% "
            f"{t.percent:>5.1f}%  {mark}"
        )
    missing = sorted(set(floors) - set(by_package))
    for name in missing:
        print(f"{name}: no coverage data at all (floor {floors[name]})")
    if below or missing:
        print(f"coverage below the floor: {', '.join(below + missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
