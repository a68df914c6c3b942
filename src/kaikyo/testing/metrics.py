"""Reading the haven's /metrics in tests: samples by name and labels, and the conventions.

The exposition is parsed by prometheus_client's own text parser (what a Prometheus scrape
must accept), and checked line by line against the naming conventions a reviewer would hold
it to (https://prometheus.io/docs/practices/naming/), which the parser does not enforce.
"""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, frozenset[tuple[str, str]]]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
# Families of a histogram or summary carry these sample suffixes.
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}
# Words that say a unit that is not a base one (Prometheus wants seconds and bytes).
_NOT_BASE = re.compile(
    r"_(milliseconds|microseconds|minutes|hours|kilobytes|megabytes|ms|kb|mb)(_|$)"
)


def samples(text: str) -> dict[Sample, float]:
    """Every sample of an exposition, keyed by (sample name, its labels)."""
    found: dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample ``name`` with exactly ``labels``, or None."""
    return samples(text).get((name, frozenset(labels.items())))


def convention_problems(text: str, prefixes: tuple[str, ...] = ()) -> list[str]:
    """What breaks the conventions: a family without HELP or TYPE (or with them twice), a
    sample outside a declared family, a counter not ending in ``_total``, a unit that is not
    a base unit, a name outside ``prefixes``."""
    problems: list[str] = []
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, *rest = line.split(" ", 3)
            table = helps if kind == "HELP" else types
            if name in table:
                problems.append(f"{name}: {kind} twice")
            table[name] = rest[0] if rest else ""
        elif line and not line.startswith("#"):
            found = _NAME.match(line)
            problems += _sample_problem(found.group(0) if found else line, types)
    for name in sorted(set(helps) | set(types)):
        problems += _family_problems(name, helps.get(name), types.get(name), prefixes)
    return problems


def _family_of(sample: str, types: dict[str, str]) -> str | None:
    if sample in types:
        return sample
    for family, kind in types.items():
        if any(sample == family + s for s in _SUFFIXES.get(kind, ())):
            return family
    return None


def _sample_problem(sample: str, types: dict[str, str]) -> list[str]:
    """A sample must come after the TYPE of its family (so the text is read in order)."""
    return [] if _family_of(sample, types) else [f"{sample}: sample of no declared family"]


def _family_problems(
    name: str, help_: str | None, kind: str | None, prefixes: tuple[str, ...]
) -> list[str]:
    problems = []
    if not help_:
        problems.append(f"{name}: no HELP")
    if kind not in _TYPES:
        problems.append(f"{name}: no TYPE or an unknown one ({kind})")
    if kind == "counter" and not name.endswith("_total"):
        problems.append(f"{name}: a counter that does not end in _total")
    if kind != "counter" and name.endswith("_total"):
        problems.append(f"{name}: _total on a {kind}")
    if _NOT_BASE.search(name):
        problems.append(f"{name}: not in a base unit (seconds, bytes)")
    if kind == "counter" and "bytes" in name and not name.endswith("_bytes_total"):
        problems.append(f"{name}: the unit goes before _total (..._bytes_total)")
    if prefixes and not name.startswith(prefixes):
        problems.append(f"{name}: outside {', '.join(prefixes)}")
    return problems
