"""Every command says what it does and shows how; every argument says what it takes.

Walks the whole parser, as ``kaikyo`` builds it: a new flag without help, or a new command
without a description or examples, fails here instead of showing an empty line in --help,
the man pages and the shell completions (all three come from this parser).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from kaikyo.cli.helpformat import is_verbatim, paragraphs
from kaikyo.cli.main import COMMAND_MODULES, build_parser


def walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from walk(child)


PARSERS = list(walk(build_parser()))


def _id(parser: argparse.ArgumentParser) -> str:
    return parser.prog


def test_the_walk_sees_every_command() -> None:
    progs = {p.prog for p in PARSERS}
    assert {f"kaikyo {name}" for name in COMMAND_MODULES} <= progs
    assert {"kaikyo tenant add", "kaikyo haven audit verify"} <= progs
    assert len(PARSERS) > len(COMMAND_MODULES)


@pytest.mark.parametrize("parser", PARSERS, ids=_id)
def test_every_argument_has_help(parser: argparse.ArgumentParser) -> None:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            missing += [c.dest for c in action._choices_actions if not (c.help or "").strip()]
            continue
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
            missing.append("/".join(action.option_strings) or action.dest)
    assert not missing, f"{parser.prog}: no help for {missing}"


@pytest.mark.parametrize("parser", PARSERS, ids=_id)
def test_every_command_has_a_description_and_examples(parser: argparse.ArgumentParser) -> None:
    assert (parser.description or "").strip(), f"{parser.prog}: no description"
    blocks = paragraphs(parser.epilog or "")
    examples = [b for b in blocks if b[0] == "examples:" and is_verbatim(b)]
    assert examples, f"{parser.prog}: no 'examples:' block in its epilog"
    lines = _commands(examples[0][1:])
    assert all("kaikyo " in line for line in lines), lines
    words = " ".join(parser.prog.split()[1:])
    ran = not words or any(f" {words} " in f" {line} " for line in lines)
    assert ran, f"no example runs {parser.prog}"


def test_a_command_flag_is_not_taken_for_a_global_abbreviation() -> None:
    argv = ["inventory", "discover", "--redfish", "https://bmc", "--password", "pw"]
    assert build_parser().parse_args(argv).password == "pw"


def _commands(block: list[str]) -> list[str]:
    """The example lines, a line continued with a backslash joined to the next."""
    lines: list[str] = []
    continued = False
    for line in block:
        if continued:
            lines[-1] = lines[-1].rstrip("\\ ") + " " + line.strip()
        else:
            lines.append(line.strip())
        continued = line.endswith("\\")
    return lines


@pytest.mark.parametrize("parser", PARSERS, ids=_id)
def test_help_renders(parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert parser.prog in text and "examples:" in text
    assert "%(" not in text  # a stray format directive argparse did not expand
