"""Commands open the repository key before they load the engine.

Argon2id holds 48 MiB while a key slot opens; with NumPy, the chunker and the codecs already
imported that sat on top of ~48 MiB, without them on ~30, and without `cryptography` (loaded
just after the stretching) on ~23. This pins the import graph that makes it so: a command
module, and the unlocking itself, import none of the heavy libraries.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import kaikyo

HEAVY = ("numpy", "fastcdc", "zstandard", "orjson")
COMMANDS = [
    "init",
    "backup",
    "restore",
    "dump",
    "mount",
    "copy",
    "snapshots",
    "ls",
    "find",
    "diff",
    "check",
    "repair",
    "forget",
    "tag",
    "rewrite",
    "recover",
    "prune",
    "key",
    "unlock",
    "stats",
    "cat",
    "list",
    "version",
    "generate",
]


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.parametrize("command", COMMANDS)
def test_command_module_imports_no_engine(command: str) -> None:
    assert _loaded_after(f"import kaikyo.cli.main, kaikyo.cli.commands.{command}") == []


def test_version_flag_imports_no_command_module() -> None:
    """``kaikyo --version`` answers before the parser is built: the planner's and the
    server's imports alone took 1-3 s."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kaikyo", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout == f"kaikyo {kaikyo.__version__}\n"
    imported = {ln.rsplit("|", 1)[-1].strip() for ln in run.stderr.splitlines() if "|" in ln}
    assert "kaikyo.cli.main" in imported  # the -X importtime output was read
    heavy = [
        "kaikyo.cli.commands",
        "kaikyo.plan",
        "kaikyo.server",
        "kaikyo.repo",
        "kaikyo.snapshot",
    ]
    assert sorted(m for m in imported if any(m == h or m.startswith(f"{h}.") for h in heavy)) == []


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


def test_passphrase_is_stretched_before_cryptography_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kaikyo.core.crypto.keys import MasterKey, make_key_slot

    master = MasterKey.generate()
    slot = tmp_path / "slot"
    slot.write_bytes(make_key_slot(master, b"pw", time_cost=1, memory_kib=64))
    code = f"""
import sys
import kaikyo.cli.session, kaikyo.repo.slots
import kaikyo.core.crypto.keys as keys
seen = []
real = keys.derive_kek
def probe(secret, params):
    seen.append("cryptography" in sys.modules)
    return real(secret, params)
keys.derive_kek = probe
master = keys.open_key_slot(open({str(slot)!r}, "rb").read(), b"pw")
print(seen, master.secret.hex())
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["[False]", master.secret.hex()]


def test_mount_looks_for_fuse_before_loading_the_engine() -> None:
    """``mount`` checks for FUSE before the passphrase; that check loads no engine."""
    statement = (
        "import kaikyo.cli.commands.mount\n"
        "from kaikyo.snapshot.mount import load_fuse\n"
        "from kaikyo.errors import UnavailableError\n"
        "try:\n    load_fuse()\nexcept UnavailableError:\n    pass"
    )
    assert _loaded_after(statement) == []
