"""How ``--help`` lays out descriptions and examples, for every command's parser.

argparse either re-wraps all text (examples lose their lines) or none of it (descriptions
must be wrapped by hand, at one width). This formatter does both: a paragraph is re-wrapped
to the terminal, unless one of its lines after the first is indented, as in

    examples:
      kaikyo backup /etc --tag nightly

which is kept line for line. The man pages (``kaikyo generate --man``) go through the same
formatter, so they show the same text.
"""

from __future__ import annotations

import argparse
import textwrap


def paragraphs(text: str) -> list[list[str]]:
    """The paragraphs of a description or epilog (blank lines between them)."""
    paragraphs: list[list[str]] = [[]]
    for line in textwrap.dedent(text).strip("\n").splitlines():
        if line.strip():
            paragraphs[-1].append(line.rstrip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def is_verbatim(lines: list[str]) -> bool:
    """A paragraph kept line for line: one whose later lines are indented (examples)."""
    return any(line[:1].isspace() for line in lines[1:])


class HelpFormatter(argparse.HelpFormatter):
    """Re-wrap prose paragraphs, keep example blocks (see the module docstring)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for lines in paragraphs(text):
            if is_verbatim(lines):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(
                    textwrap.fill(
                        " ".join(line.strip() for line in lines),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(blocks)
