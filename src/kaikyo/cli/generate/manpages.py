"""Man pages from the parser: ``kaikyo.1`` and one ``kaikyo-COMMAND.1`` per command.

Written here, not with argparse-manpage: that library puts a parser's epilog (kaikyo's
examples) under COMMENTS as filled text, so the examples lose their lines; it escapes only
backslashes and hyphens, so a help line that starts with a quote or a dot (``'repair index'
rebuilds ...``) becomes a troff request and vanishes; and a page for the whole parser holds
every command in full. Here every text line goes through :func:`_line`, examples stay
line for line (``.nf``), and kaikyo.1 lists the commands, each with a page of its own
holding its actions (``tenant add`` ...) as subsections.

Usage lines are laid out at a fixed width, so a page does not depend on the terminal it was
generated on.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from kaikyo.cli.generate.tree import Command, root
from kaikyo.cli.helpformat import is_verbatim, paragraphs

WIDTH = 68  # usage lines: a man page's text is indented by 7 on an 80-column terminal
_GROUP_TITLES = {"positional arguments": "ARGUMENTS", "options": "OPTIONS"}


def _esc(text: str) -> str:
    return text.replace("\\", "\\e").replace("-", "\\-")


def _line(text: str) -> str:
    """One line of text, safe as troff input (never read as a request)."""
    escaped = _esc(text)
    return "\\&" + escaped if escaped[:1] in (".", "'") else escaped


def _bold(text: str) -> str:
    return f"\\fB{_esc(text)}\\fR"


def _italic(text: str) -> str:
    return f"\\fI{_esc(text)}\\fR"


def _text(text: str) -> list[str]:
    """Prose paragraphs filled by troff; example blocks kept line for line."""
    out: list[str] = []
    for lines in paragraphs(text):
        out.append(".PP")
        if is_verbatim(lines):
            out += [".nf", *(_line(ln) for ln in lines), ".fi"]
        else:
            out.append(_line(" ".join(ln.strip() for ln in lines)))
    return out


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    formatter = parser.formatter_class(prog=parser.prog)
    formatter._width = WIDTH  # the terminal's width otherwise: pages would differ by terminal
    return formatter


def _synopsis(parser: argparse.ArgumentParser) -> list[str]:
    formatter = _formatter(parser)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, "")
    usage = formatter.format_help().strip("\n")
    return [".nf", *(_line(ln) for ln in usage.splitlines()), ".fi"]


def _invocation(formatter: argparse.HelpFormatter, action: argparse.Action) -> str:
    if not action.option_strings:
        (metavar,) = formatter._metavar_formatter(action, action.dest)(1)
        return _bold(metavar)
    flags = ", ".join(_bold(flag) for flag in action.option_strings)
    if action.nargs == 0:
        return flags
    return f"{flags} {_italic(formatter._format_args(action, action.dest.upper()))}"


def _actions(parser: argparse.ArgumentParser) -> Iterator[tuple[str, list[argparse.Action]]]:
    for group in parser._action_groups:
        actions = [
            a
            for a in group._group_actions
            if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
            and a.help != argparse.SUPPRESS
        ]
        if actions:
            title = group.title or "options"
            yield _GROUP_TITLES.get(title, f"{title.upper()} OPTIONS"), actions


def _options(parser: argparse.ArgumentParser, heading: str) -> list[str]:
    """Each group of arguments as a list: under ``.SH`` (heading ``SH``) or, in a command's
    subsection, under a bold line."""
    formatter = _formatter(parser)
    out: list[str] = []
    for title, actions in _actions(parser):
        out += [f".SH {title}"] if heading == "SH" else [".PP", _bold(title.capitalize() + ":")]
        for action in actions:
            out += [".TP", _invocation(formatter, action)]
            out.append(_line(" ".join(formatter._expand_help(action).split())))
    return out


def _subsections(command: Command) -> list[str]:
    out: list[str] = []
    for child in command.walk():
        if child is command:
            continue
        out += [f'.SS "{_esc(" ".join((command.parser.prog.split()[0], *child.path)))}"']
        out += [_line(child.summary), ".PP", *_synopsis(child.parser)]
        out += _text(child.parser.description or "")
        out += _options(child.parser, "SS")
        out += _text(child.parser.epilog or "")
    return out


def _header(command: Command, date: str, version: str, summary: str) -> list[str]:
    return [
        f'.TH "{_esc(command.name.upper())}" "1" "{date}" "kaikyo {_esc(version)}" "kaikyo manual"',
        ".SH NAME",
        f"{_esc(command.name)} \\- {_line(summary)}",
        ".SH SYNOPSIS",
        *_synopsis(command.parser),
    ]


def command_page(command: Command, date: str, version: str) -> str:
    """The page of one top-level command (its actions, if any, as subsections)."""
    lines = _header(command, date, version, command.summary)
    lines += [".SH DESCRIPTION", *_text(command.parser.description or "")]
    lines += _options(command.parser, "SH")
    if command.children():
        lines += [".SH COMMANDS", *_subsections(command)]
    if command.parser.epilog:
        lines += [".SH EXAMPLES", *_text(command.parser.epilog)]
    lines += [".SH SEE ALSO", f"{_bold('kaikyo')}(1)"]
    return "\n".join(lines) + "\n"


def main_page(top: Command, date: str, version: str) -> str:
    """kaikyo.1: what kaikyo is, the global options, and the commands with their pages."""
    first = (top.parser.description or "").split(". ")[0].rstrip(".")
    summary = first[:1].lower() + first[1:]
    lines = _header(top, date, version, summary)
    lines += [".SH DESCRIPTION", *_text(top.parser.description or "")]
    lines += _options(top.parser, "SH")
    lines.append(".SH COMMANDS")
    for child in top.children():
        lines += [".TP", f"{_bold(child.name)}(1)", _line(child.summary)]
    if top.parser.epilog:
        lines += [".SH NOTES", *_text(top.parser.epilog)]
    pages = ",\n".join(f"{_bold(c.name)}(1)" for c in top.children())
    lines += [".SH SEE ALSO", pages]
    return "\n".join(lines) + "\n"


def pages(parser: argparse.ArgumentParser, date: str, version: str) -> dict[str, str]:
    """File name -> troff text: ``kaikyo.1`` and ``kaikyo-COMMAND.1`` for each command."""
    top = root(parser)
    out = {f"{top.name}.1": main_page(top, date, version)}
    for child in top.children():
        out[f"{child.name}.1"] = command_page(child, date, version)
    return out
