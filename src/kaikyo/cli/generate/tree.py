"""The command tree of an argparse parser: each command's parser, path and one-line help."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    """One command (``kaikyo``, ``kaikyo backup``, ``kaikyo tenant add`` ...)."""

    path: tuple[str, ...]  # the words after ``kaikyo``; () for kaikyo itself
    parser: argparse.ArgumentParser
    summary: str  # the one-line help its parent lists it with

    @property
    def name(self) -> str:
        """``kaikyo``, ``kaikyo-backup``, ``kaikyo-tenant-add``: the man page's name."""
        return "-".join((self.parser.prog.split()[0], *self.path))

    def children(self) -> list[Command]:
        action = subcommands(self.parser)
        if action is None:
            return []
        helps = {c.dest: c.help or "" for c in action._choices_actions}
        seen: set[int] = set()
        out = []
        for word, parser in action.choices.items():
            if id(parser) in seen:  # an alias names a parser listed already
                continue
            seen.add(id(parser))
            out.append(Command((*self.path, word), parser, helps.get(word, "")))
        return out

    def walk(self) -> Iterator[Command]:
        yield self
        for child in self.children():
            yield from child.walk()


def subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def root(parser: argparse.ArgumentParser) -> Command:
    return Command((), parser, parser.description or "")
