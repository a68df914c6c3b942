"""Fail if an installed dependency of kaikyo (every extra included) misses its range.

`make install` installs requirements.lock, then kaikyo without dependencies; `pip check`
sees only the runtime ones. A dependency added to pyproject.toml but not locked, or a range
that no longer admits the locked version, is caught here: run `make lock`.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, metadata, requires, version

from packaging.requirements import Requirement


def problems(extras: tuple[str, ...] | None = None) -> list[str]:
    """What misses its range; by default for the base and every extra (haven, plan, dev...),
    as requirements.lock covers them all."""
    if extras is None:
        extras = ("", *(metadata("kaikyo").get_all("Provides-Extra") or []))
    found = []
    for line in requires("kaikyo") or []:
        req = Requirement(line)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras):
            continue
        try:
            have = version(req.name)
        except PackageNotFoundError:
            found.append(f"{req} is not installed")
            continue
        if not req.specifier.contains(have, prereleases=True):
            found.append(f"{req} is wanted, {req.name} {have} is installed")
    return found


def main() -> int:
    found = problems()
    for p in found:
        print(f"check_deps: {p}", file=sys.stderr)
    if found:
        print("check_deps: requirements.lock is out of date: run `make lock`", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
