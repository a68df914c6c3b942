"""The three contenders: how to install them, how to drive them, what version they are.

Each tool gets its own repository, cache and config directory under the run directory,
so nothing leaks between tools or between runs. All commands run non-interactively
with stdout/stderr captured to files (no progress bars on a terminal for anyone).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
BORG_VERSION = "1.4.5"
BORG_VENV = BENCH_DIR / ".venv-borg"
# Found out on Debian bookworm / Python 3.11: PyPI has no binary wheel of borgbackup 1.4.5,
# so pip builds it from the sdist (about a minute on 2 cores). These are the build deps
# (libssl-dev was already there; gcc usually is).
BORG_BUILD_DEBS = (
    "gcc",
    "pkg-config",
    "libacl1-dev",
    "libssl-dev",
    "liblz4-dev",
    "libzstd-dev",
    "libxxhash-dev",
)
PASSWORD = "kaikyo-bench-password"  # noqa: S105 - throwaway repositories


def _run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)


def _say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- installation


def _apt_has_candidate(package: str) -> bool:
    out = _run(["apt-cache", "policy", package]).stdout
    for line in out.splitlines():
        if line.strip().startswith("Candidate:"):
            return "(none)" not in line
    return False


def _apt_install(packages: list[str]) -> None:
    if not all(_apt_has_candidate(p) for p in packages):
        _say("apt-get update")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
    _say(f"apt-get install -y {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *packages],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def ensure_restic() -> str:
    """restic from Debian (bookworm ships 0.14.0)."""
    path = shutil.which("restic")
    if path is None:
        _apt_install(["restic"])
        path = shutil.which("restic")
    if path is None:
        raise RuntimeError("restic is still missing after apt-get install")
    return path


def _borg_ok(borg: Path) -> bool:
    if not borg.exists():
        return False
    out = _run([str(borg), "--version"])
    return out.returncode == 0 and out.stdout.split()[-1:] == [BORG_VERSION]


def ensure_borg() -> str:
    """BorgBackup from PyPI into bench/.venv-borg (a binary wheel if there is one)."""
    borg = BORG_VENV / "bin" / "borg"
    if _borg_ok(borg):
        return str(borg)
    pip = BORG_VENV / "bin" / "pip"
    if not pip.exists():
        base = getattr(sys, "_base_executable", sys.executable)
        _say(f"creating {BORG_VENV}")
        subprocess.run([base, "-m", "venv", str(BORG_VENV)], check=True)
    spec = f"borgbackup=={BORG_VERSION}"
    wheel = _run([str(pip), "install", "-q", "--only-binary=:all:", spec])
    if wheel.returncode != 0:
        _say(f"no binary wheel for {spec}; building from source")
        _apt_install(list(BORG_BUILD_DEBS))
        subprocess.run([str(pip), "install", "-q", spec], check=True)
    if not _borg_ok(borg):
        raise RuntimeError(f"{borg} does not report version {BORG_VERSION}")
    return str(borg)


# ---------------------------------------------------------------- the tools


@dataclass(frozen=True)
class Command:
    argv: list[str]
    cwd: Path | None = None
    ok_codes: tuple[int, ...] = (0,)
    warn_codes: tuple[int, ...] = ()


class Tool(ABC):
    """One contender with its own repository and caches under ``home``."""

    name: str

    def __init__(self, home: Path) -> None:
        self.home = home
        self.repo = home / "repo"
        self.cache = home / "cache"

    def prepare(self) -> None:
        if self.home.exists():
            shutil.rmtree(self.home)
        self.cache.mkdir(parents=True)

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "BORG_"))}
        base.update(
            XDG_CACHE_HOME=str(self.cache),
            XDG_CONFIG_HOME=str(self.home / "config"),
            XDG_DATA_HOME=str(self.home / "data"),
            LC_ALL="C.UTF-8",
        )
        return base

    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def init(self) -> Command: ...

    @abstractmethod
    def backup(self, path: Path, name: str) -> Command: ...

    @abstractmethod
    def restore_latest(self, name: str, target: Path) -> Command:
        """Restore the most recent snapshot (whose name we know) into ``target``."""

    def stats(self) -> Command | None:
        return None

    def _version_of(self, argv: list[str]) -> str:
        try:
            out = _run(argv, env=self.env())
        except OSError as exc:
            return f"n/a ({exc})"
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text and out.returncode == 0 else f"n/a (exit {out.returncode})"


class Kaikyo(Tool):
    name = "kaikyo"

    def __init__(self, home: Path, binary: Path | None = None) -> None:
        super().__init__(home)
        self.binary = str(binary or REPO_ROOT / ".venv" / "bin" / "kaikyo")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in super().env().items() if not k.startswith("KAIKYO_")}
        env.update(KAIKYO_REPOSITORY=str(self.repo), KAIKYO_PASSWORD=PASSWORD)
        return env

    def version(self) -> str:
        return self._version_of([self.binary, "--version"])

    def init(self) -> Command:
        return Command([self.binary, "init"])

    def backup(self, path: Path, name: str) -> Command:
        # exit 3 = incomplete snapshot (some file unreadable), as restic
        return Command([self.binary, "backup", str(path)], warn_codes=(3,))

    def restore_latest(self, name: str, target: Path) -> Command:
        return Command([self.binary, "restore", "latest", "--target", str(target)])

    def stats(self) -> Command | None:
        return Command([self.binary, "stats", "--json"])


class Restic(Tool):
    name = "restic"

    def __init__(self, home: Path, binary: str = "restic") -> None:
        super().__init__(home)
        self.binary = binary

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(
            RESTIC_REPOSITORY=str(self.repo),
            RESTIC_PASSWORD=PASSWORD,
            RESTIC_CACHE_DIR=str(self.cache / "restic"),
        )
        return env

    def version(self) -> str:
        return self._version_of([self.binary, "version"])

    def init(self) -> Command:
        # restic >= 0.14 creates a v2 repository: compression "auto" (zstd), AES-256-CTR+Poly1305
        return Command([self.binary, "init"])

    def backup(self, path: Path, name: str) -> Command:
        return Command(
            [self.binary, "backup", "--quiet", "--host", "bench", "--tag", name, str(path)],
            warn_codes=(3,),
        )

    def restore_latest(self, name: str, target: Path) -> Command:
        return Command([self.binary, "restore", "--quiet", "latest", "--target", str(target)])

    def stats(self) -> Command | None:
        return Command([self.binary, "stats", "--json", "--mode", "raw-data"])


class Borg(Tool):
    """``home`` is the parent: each compression setting gets its own ``home/<name>``."""

    def __init__(self, run_dir: Path, binary: str, compression: str = "lz4") -> None:
        self.name = self.name_for(compression)
        super().__init__(run_dir / self.name)
        self.binary = binary
        self.compression = compression

    @staticmethod
    def name_for(compression: str) -> str:
        return "borg" if compression == "lz4" else f"borg-{compression.replace(',', '')}"

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(
            BORG_REPO=str(self.repo),
            BORG_PASSPHRASE=PASSWORD,
            BORG_BASE_DIR=str(self.home / "base"),
            BORG_CACHE_DIR=str(self.cache / "borg"),
            BORG_RELOCATED_REPO_ACCESS_IS_OK="yes",
            BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="no",
        )
        return env

    def version(self) -> str:
        return f"{self._version_of([self.binary, '--version'])} (compression {self.compression})"

    def init(self) -> Command:
        return Command([self.binary, "init", "--encryption", "repokey-blake2"])

    def backup(self, path: Path, name: str) -> Command:
        # exit 1 = warning (e.g. a file changed while read), the archive is complete
        return Command(
            [self.binary, "create", "--compression", self.compression, f"::{name}", str(path)],
            warn_codes=(1,),
        )

    def restore_latest(self, name: str, target: Path) -> Command:
        # borg extracts into the current directory, paths without the leading "/"
        return Command([self.binary, "extract", f"::{name}"], cwd=target, warn_codes=(1,))

    def stats(self) -> Command | None:
        return Command([self.binary, "info", "--json"])
