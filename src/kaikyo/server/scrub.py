"""Scrubbing: re-hash every stored object whose name is the hash of its bytes, without any key.

Bit rot, a bad disk or a tampering operator shows up as an object whose bytes no longer hash to
its name. ``config`` (and, for tenants that do not verify names, everything else) cannot be
checked this way and is only counted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from kaikyo.server.objects import ObjectArea, expected_sha256
from kaikyo.store.errors import StoreError

CHUNK = 1024 * 1024


@dataclass(slots=True)
class ScrubReport:
    checked: int = 0
    unverifiable: int = 0
    bytes: int = 0
    corrupt: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.corrupt


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def scrub(area: ObjectArea, tenants: list[str], report: ScrubReport | None = None) -> ScrubReport:
    """Check every object of the given tenants; corrupt ones are listed as tenant/repo/name."""
    report = report or ScrubReport()
    for tenant in tenants:
        for repo in area.repositories(tenant):
            for label, path, want in _objects(area, tenant, repo):
                if want is None:
                    report.unverifiable += 1
                    continue
                report.checked += 1
                try:
                    if _sha256_file(path) != want:
                        report.corrupt.append(label)
                except OSError:
                    report.corrupt.append(label)
    return report


def _objects(area: ObjectArea, tenant: str, repo: str) -> Iterator[tuple[str, str, str | None]]:
    store = area.store(tenant, repo)
    for info in store.list(""):
        try:
            want = expected_sha256(info.name, verify=True)
        except StoreError:
            want = None
        yield f"{tenant}/{repo}/{info.name}", str(store.root / info.name), want
