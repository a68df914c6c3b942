"""Commands open the repository key before they load the engine.

Argon2id holds 64 MiB while a key slot opens; with NumPy, the chunker and the codecs already
imported that sat on top of ~48 MiB, without them on ~25 (a restore's peak: 115 -> 97 MiB).
This pins the import graph that makes it so: a command module, and the unlocking itself,
import none of the heavy libraries.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "fastcdc", "zstandard", "orjson")
COMMANDS = ["init", "backup", "restore", "snapshots", "ls", "find", "diff", "check", "repair",
            "forget", "prune", "key", "unlock", "stats", "cat"]


def _loaded_after(statement: str) -> list[str]:
    code = (f"import sys\n{statement}\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


@pytest.mark.parametrize("command", COMMANDS)
def test_command_module_imports_no_engine(command: str) -> None:
    assert _loaded_after(f"import kaikyo.cli.main, kaikyo.cli.commands.{command}") == []


def test_unlocking_a_key_imports_no_engine() -> None:
    assert _loaded_after("import kaikyo.cli.session, kaikyo.repo.slots") == []


def test_lazy_exports_still_resolve() -> None:
    assert _loaded_after("from kaikyo.repo import Repository") != []  # loads the engine
    import kaikyo.core
    import kaikyo.repo
    import kaikyo.snapshot

    assert kaikyo.repo.Repository.__name__ == "Repository"
    assert kaikyo.snapshot.run_backup.__name__ == "run_backup"
    assert kaikyo.core.ChunkerParams().avg_size == 512 * 1024
    with pytest.raises(AttributeError):
        _ = kaikyo.repo.NoSuchThing  # type: ignore[attr-defined]
