"""kaikyo generate: completions that a real shell loads and completes with, man pages that
render, all listing every command of the parser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kaikyo.cli.generate.tree import root
from kaikyo.cli.main import build_parser
from kaikyo.testing.cli import kaikyo

from .test_errors import assert_error

TOP = root(build_parser())
COMMANDS = [c.path[0] for c in TOP.children()]
ACTIONS = [c.path for c in TOP.walk() if len(c.path) > 1]
MACROS = {".TH", ".SH", ".SS", ".PP", ".TP", ".nf", ".fi"}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("generated")
    run = kaikyo(
        "generate",
        "--bash-completion", str(d / "kaikyo.bash"),
        "--zsh-completion", str(d / "_kaikyo"),
        "--fish-completion", str(d / "kaikyo.fish"),
        "--man", str(d / "man1"),
        "--json",
        env={"SOURCE_DATE_EPOCH": "1309478400"},
    )  # fmt: skip
    assert run.code == 0, run.err
    assert len(run.json()["written"]) == 3 + 1 + len(COMMANDS)
    return d


def bash_complete(script: Path, line: str) -> list[str]:
    """What bash offers for ``line`` (completing its last word), with the script sourced."""
    words = line.split(" ")
    program = f"""
source {script}
complete -p kaikyo >&2
COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE='{line}'
COMP_POINT={len(line)}
_shtab_kaikyo kaikyo '{words[-1]}' '{words[-2]}'
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    run = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    assert "complete -o bashdefault -F _shtab_kaikyo kaikyo" in run.stderr
    return run.stdout.split()


def test_bash_completion_loads_and_completes(out: Path) -> None:
    script = out / "kaikyo.bash"
    assert bash_complete(script, "kaikyo ten") == ["tenant"]
    assert set(bash_complete(script, "kaikyo ")) >= set(COMMANDS)
    assert "undelete" in bash_complete(script, "kaikyo tenant ")
    assert "--limit-upload" in bash_complete(script, "kaikyo backup --limit-u")
    assert bash_complete(script, "kaikyo dump latest / --archive z") == ["zip"]


def test_bash_completion_to_stdout_is_the_same_script(out: Path) -> None:
    run = kaikyo("generate", "--bash-completion", "-")
    assert run.code == 0 and run.out == (out / "kaikyo.bash").read_text()


def test_zsh_completion_names_every_command(out: Path) -> None:
    text = (out / "_kaikyo").read_text()
    assert text.startswith("#compdef kaikyo")
    for name in COMMANDS + [path[-1] for path in ACTIONS]:
        assert f"{name}:" in text or f'"{name}"' in text or f"{name})" in text, name
    if shutil.which("zsh"):
        subprocess.run(["zsh", "-n", str(out / "_kaikyo")], check=True)


def test_fish_completion_names_every_command(out: Path) -> None:
    text = (out / "kaikyo.fish").read_text()
    for name in COMMANDS:
        assert f"'{name}'" in text or f" {name} " in text or f"{name}\t" in text, name
    if not shutil.which("fish"):
        pytest.skip("fish is not installed: checked the text only")
    offered = subprocess.run(
        ["fish", "-c", f"source {out / 'kaikyo.fish'}; complete -C 'kaikyo ten'"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert [ln.split("\t")[0] for ln in offered.splitlines()] == ["tenant"]
    offered = subprocess.run(
        ["fish", "-c", f"source {out / 'kaikyo.fish'}; complete -C 'kaikyo tenant '"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert {ln.split("\t")[0] for ln in offered.splitlines()} >= {"add", "quota", "undelete"}


def test_one_man_page_per_command(out: Path) -> None:
    pages = sorted(p.name for p in (out / "man1").iterdir())
    assert pages == sorted(["kaikyo.1", *(f"kaikyo-{c}.1" for c in COMMANDS)])
    for page in pages:
        lines = (out / "man1" / page).read_text().splitlines()
        assert lines[0].startswith(f'.TH "{page[:-2].upper().replace("-", chr(92) + "-")}" "1"')
        assert '"2011-07-01"' in lines[0]
        for section in (".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH SEE ALSO"):
            assert section in lines, (page, section)
        # No text line that troff would take for a request (a quote or dot in column 1).
        requests = [ln for ln in lines if ln[:1] in ".'" and ln.split()[0] not in MACROS]
        assert not requests, (page, requests[:3])


def render(page: Path) -> str:
    if shutil.which("groff"):
        check = subprocess.run(
            ["groff", "-man", "-Tutf8", "-ww", "-z", str(page)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0 and not check.stderr, check.stderr
    if not shutil.which("man"):
        pytest.skip("man is not installed: checked the troff structure only")
    env = {"MANWIDTH": "100", "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        ["man", "-l", str(page)], capture_output=True, text=True, check=True, env=env
    )
    return run.stdout


def test_man_pages_render_with_their_examples(out: Path) -> None:
    text = render(out / "man1" / "kaikyo-backup.1")
    assert "kaikyo-backup - back up files and directories" in text
    assert "EXAMPLES" in text
    assert "       kaikyo backup /etc /home --tag nightly\n" in text  # kept line for line
    assert "--exclude PATTERN" in text
    tenant = render(out / "man1" / "kaikyo-tenant.1")
    assert "kaikyo tenant undelete" in tenant and "--quota-bytes SIZE" in tenant
    repair = render(out / "man1" / "kaikyo-repair.1")
    assert "'repair index' rebuilds" in " ".join(repair.split())
    main = render(out / "man1" / "kaikyo.1")
    assert all(f"kaikyo-{c}(1)" in main for c in COMMANDS)


@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [
        ((), 64, "nothing to generate"),
        (("--bash-completion", "-", "--zsh-completion", "-"), 64, "only one output"),
        (("--bash-completion", "-", "--json"), 64, "--json prints a summary"),
        (("--bash-completion", "/nonexistent-kaikyo-dir/x"), 21, "does not exist"),
    ],
)
def test_bad_generate(argv: tuple[str, ...], code: int, needle: str) -> None:
    assert_error(kaikyo("generate", *argv), code, needle)


def test_man_into_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert_error(kaikyo("generate", "--man", str(tmp_path / "f")), 64, "is not a directory")
    assert (tmp_path / "f").read_text() == "x"
