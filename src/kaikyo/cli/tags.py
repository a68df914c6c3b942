"""Tags as the flags give them: one meaning for every command that takes tags (``backup
--tag``, ``tag --add/--remove/--set``)."""

from __future__ import annotations

from kaikyo.errors import UsageError


def parse_tags(values: list[str], flag: str, *, clear: bool = False) -> list[str]:
    """The tags of repeated ``flag`` values, each split on commas (as restic), in order and
    without repeats. An empty tag is refused (restic drops it silently), but for
    ``--set ''``: no tags at all."""
    tags: list[str] = []
    for value in values:
        if clear and value == "":
            continue
        for tag in value.split(","):
            if not tag:
                raise UsageError(
                    f"empty tag in {flag} {value!r}", "a tag is not empty; 'a,b' gives two tags"
                )
            if tag not in tags:
                tags.append(tag)
    return tags
