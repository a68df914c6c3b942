"""bash, zsh and fish completions from the parser, through shtab.

shtab completes commands, flags and choices from the parser itself; this module only tells
it which arguments name files or directories (by their metavar), and lists each command
with its one-line help rather than its whole description (shtab prefers the description,
which is a paragraph).
"""

from __future__ import annotations

import argparse

import shtab

from kaikyo.cli.generate.tree import root

SHELLS = ("bash", "zsh", "fish")
_FILES = {"FILE", "PATH", "CA_FILE"}
_DIRS = {"DIR"}


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if action.choices is not None:
            continue
        metavar = action.metavar if isinstance(action.metavar, str) else None
        if metavar in _FILES or action.dest.endswith("_file"):
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif metavar in _DIRS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]


def completion(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (one of :data:`SHELLS`).

    Changes ``parser``'s descriptions to one-line summaries: give it a parser built for this.
    """
    for command in root(parser).walk():
        _mark_paths(command.parser)
        if command.path:
            command.parser.description = command.summary
    return shtab.complete(parser, shell=shell)
