"""Check that a restore reproduces the source, so a tool that restores garbage cannot win.

Content (BLAKE3 of every regular file), file type, symlink target and permission bits must
match exactly; any difference fails the restore. File mtimes (ns) are compared too but only
reported, as tools differ in what metadata they promise.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import blake3

Entry = tuple[str, str, int]  # (kind, content hash or link target, permission bits)


@dataclass
class Verdict:
    ok: bool
    checked: int
    problems: list[str] = field(default_factory=list)
    mtime_mismatches: int = 0

    def summary(self) -> str:
        if self.ok:
            extra = f", {self.mtime_mismatches} mtime differences" if self.mtime_mismatches else ""
            return f"ok ({self.checked:,} entries{extra})"
        return f"FAILED ({len(self.problems)} problems, e.g. {'; '.join(self.problems[:3])})"


def _file_hash(path: str) -> str:
    h = blake3.blake3()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def manifest(root: Path) -> tuple[dict[str, Entry], dict[str, int]]:
    """Every entry under ``root`` (relative path -> entry) and regular files' mtimes."""
    entries: dict[str, Entry] = {}
    mtimes: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            perm = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                entries[rel] = ("link", os.readlink(full), 0)
            elif stat.S_ISDIR(st.st_mode):
                entries[rel] = ("dir", "", perm)
            elif stat.S_ISREG(st.st_mode):
                entries[rel] = ("file", _file_hash(full), perm)
                mtimes[rel] = st.st_mtime_ns
            else:
                entries[rel] = ("other", "", perm)
    return entries, mtimes


def _difference(want: Entry, got: Entry) -> str:
    if want[0] != got[0]:
        return f"{want[0]} restored as {got[0]}"
    if want[1] != got[1]:
        return "link target differs" if want[0] == "link" else "content differs"
    return f"mode {want[2]:o} restored as {got[2]:o}"


def locate(target: Path, source: Path) -> Path:
    """Where a tool put ``source`` inside ``target``: under its absolute path (restic, borg),
    under its base name, or at the top."""
    for candidate in (target / str(source).lstrip("/"), target / source.name):
        if candidate.exists():
            return candidate
    return target


def compare(expected: tuple[dict[str, Entry], dict[str, int]], restored_root: Path) -> Verdict:
    want, want_mtimes = expected
    got, got_mtimes = manifest(restored_root)
    problems: list[str] = []
    for rel in sorted(want.keys() - got.keys())[:20]:
        problems.append(f"missing {rel}")
    for rel in sorted(got.keys() - want.keys())[:20]:
        problems.append(f"extra {rel}")
    missing = len(want.keys() - got.keys())
    extra = len(got.keys() - want.keys())
    wrong = [rel for rel in want.keys() & got.keys() if want[rel] != got[rel]]
    problems += [f"{rel}: {_difference(want[rel], got[rel])}" for rel in sorted(wrong)[:20]]
    mtime_diff = sum(
        1 for rel, ns in want_mtimes.items() if rel in got_mtimes and got_mtimes[rel] != ns
    )
    ok = not (missing or extra or wrong) and bool(want)
    if not want:
        problems.append("nothing expected (empty source?)")
    return Verdict(ok, len(want), problems, mtime_diff)
