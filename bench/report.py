"""Rendering of the results dictionary: rich tables with kaikyo's ratios to each anchor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

MB = 1_000_000
MiB = 1 << 20
Cell = dict[str, Any]
Getter = Callable[[Cell], float | None]

# How the memory of a process tree is counted (kaikyo forks a worker; restic and Borg are one
# process, where all three measures agree up to pages shared with other programs).
MEMORY_MEASURES = (
    # Exact: the union of the physical pages mapped by the tree. A page shared by the main
    # process and its worker is held once by the machine and counted once; for one process
    # this is its RSS. Needs root (page frame numbers); the figure is absent otherwise.
    ("peak_unique", "resident pages of the process tree, each counted once"),
    # Summed RSS counts a shared page once per process sharing it.
    ("peak_rss", "summed RSS of the process tree"),
    # PSS divides a shared page between all its sharers, other programs included.
    ("peak_pss", "summed PSS of the process tree"),
)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "+MB":
        return f"+{value:,.1f}" if value >= 1 else f"+{value:.3f}"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "n/a"
    r = a / b
    style = "green" if r < 1 else ("red" if r > 1 else "")
    return f"[{style}]{r:.2f}[/]" if style else f"{r:.2f}"


def _cell_text(cell: Cell | None, get: Getter, unit: str) -> str:
    if cell is None:
        return "-"
    if cell.get("error"):
        return f"[red]n/a (error: {str(cell['error']).split(':')[0][:24]})[/]"
    text = _fmt(get(cell), unit)
    verdict = cell.get("verify")
    if verdict is not None and unit == "s":
        text += " ✓" if verdict["ok"] else " [red]✗ restore wrong[/]"
    if cell.get("warning"):
        text += " [yellow](warn)[/]"
    return text


def _value(cell: Cell | None, get: Getter) -> float | None:
    if cell is None or cell.get("error"):
        return None
    if cell.get("verify") is not None and not cell["verify"]["ok"]:
        return None  # a wrong restore has no time worth comparing
    return get(cell)


def _metric_table(
    results: dict[str, Any], title: str, get: Getter, unit: str, steps: list[str] | None = None
) -> Table:
    tools: list[str] = results["tools"]
    anchors = [t for t in tools if t != "kaikyo"]
    table = Table(title=title, title_justify="left")
    table.add_column("step")
    for tool in tools:
        table.add_column(tool, justify="right")
    if "kaikyo" in tools:
        for anchor in anchors:
            table.add_column(f"kaikyo/{anchor}", justify="right")
    for step in results["steps"]:
        if steps is not None and step["key"] not in steps:
            continue
        cells = step["results"]
        row = [step["title"]] + [_cell_text(cells.get(t), get, unit) for t in tools]
        if "kaikyo" in tools:
            k = _value(cells.get("kaikyo"), get)
            row += [_ratio(k, _value(cells.get(a), get)) for a in anchors]
        table.add_row(*row)
    return table


def _peak_row(results: dict[str, Any], key: str) -> dict[str, float | None]:
    peaks: dict[str, float | None] = {}
    for tool in results["tools"]:
        values = [
            s["results"][tool][key] / MiB
            for s in results["steps"]
            if tool in s["results"]
            and not s["results"][tool].get("error")
            and s["results"][tool].get(key) is not None
        ]
        peaks[tool] = max(values) if values else None
    return peaks


def _ceiling_table(results: dict[str, Any]) -> Table:
    table = Table(title="Machine ceilings (tree; image)", title_justify="left")
    for col in ("when", "what", "seconds", "MB/s"):
        table.add_column(col, justify="right" if col in ("seconds", "MB/s") else "left")
    for when, ceil in results["ceilings"].items():
        for what, item in ceil.items():
            rate = item["bytes"] / item["seconds"] / MB if item["seconds"] else 0.0
            table.add_row(when, what, f"{item['seconds']:.2f}", f"{rate:,.0f}")
    return table


def render(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(width=max(Console().width, 140))
    meta = results["meta"]
    console.print(
        f"[bold]kaikyo bench[/] scale {meta['scale']:g}, seed {meta['seed']}, "
        f"{meta['machine']['cpus']} CPUs ({meta['machine']['cpu']}), "
        f"kernel {meta['machine']['kernel']}"
    )
    for tool, version in meta["versions"].items():
        console.print(f"  {tool}: {version}")
    for name, info in meta["datasets"].items():
        console.print(f"  dataset {name}: {info}")
    console.print(_ceiling_table(results))
    console.print(_metric_table(results, "Time (seconds, wall clock)", lambda c: c["seconds"], "s"))
    console.print(
        _metric_table(
            results,
            "Repository growth per step (MB, apparent size of the repository directory)",
            lambda c: c.get("repo_growth", 0) / MB if "repo_growth" in c else None,
            "+MB",
            steps=[s["key"] for s in results["steps"] if "repo_growth" in _any_cell(s)],
        )
    )
    console.print(_size_totals(results))
    for key, what in MEMORY_MEASURES:
        mem = _metric_table(
            results,
            f"Peak memory (MiB, {what}, 50 ms samples)",
            lambda c, k=key: c[k] / MiB if c.get(k) is not None else None,
            "MiB",
        )
        _add_peak_row(mem, results, key)
        console.print(mem)
    if "kaikyo" in results["tools"]:
        console.print(goals_table(results))
    _print_problems(results, console)


def _any_cell(step: dict[str, Any]) -> Cell:
    for cell in step["results"].values():
        return dict(cell)
    return {}


def _size_totals(results: dict[str, Any]) -> Table:
    tools: list[str] = results["tools"]
    table = Table(title="Repository size at the end (MB)", title_justify="left")
    table.add_column("")
    for tool in tools:
        table.add_column(tool, justify="right")
    anchors = [t for t in tools if t != "kaikyo"]
    if "kaikyo" in tools:
        for anchor in anchors:
            table.add_column(f"kaikyo/{anchor}", justify="right")
    sizes = {t: results["repo_bytes"].get(t) for t in tools}
    row = ["total"] + [_fmt(sizes[t] / MB if sizes[t] else None) for t in tools]
    if "kaikyo" in tools:
        k = sizes["kaikyo"] / MB if sizes.get("kaikyo") else None
        row += [_ratio(k, sizes[a] / MB if sizes[a] else None) for a in anchors]
    table.add_row(*row)
    return table


def _add_peak_row(table: Table, results: dict[str, Any], key: str) -> None:
    peaks = _peak_row(results, key)
    tools: list[str] = results["tools"]
    row = ["[bold]max over steps[/]"] + [_fmt(peaks[t]) for t in tools]
    if "kaikyo" in tools:
        row += [_ratio(peaks["kaikyo"], peaks[a]) for a in tools if a != "kaikyo"]
    table.add_row(*row)


def _print_problems(results: dict[str, Any], console: Console) -> None:
    seen: set[tuple[str, str]] = set()
    for step in results["steps"]:
        for tool, cell in step["results"].items():
            if cell.get("error"):
                if (tool, cell["error"]) not in seen:
                    console.print(f"[red]{step['key']} {tool}: {cell['error']}[/]")
                seen.add((tool, cell["error"]))
            elif cell.get("warning"):
                console.print(f"[yellow]{step['key']} {tool}: {cell['warning']}[/]")
            verdict = cell.get("verify")
            if verdict is not None:
                colour = "green" if verdict["ok"] else "red"
                console.print(f"[{colour}]{step['key']} {tool}: restore {verdict['summary']}[/]")


# ---------------------------------------------------------------- issue 2 section 7 goals


def _cell(results: dict[str, Any], key: str, tool: str) -> Cell | None:
    for step in results["steps"]:
        if step["key"] == key:
            cell: Cell | None = step["results"].get(tool)
            return cell
    return None


def _faster(results: dict[str, Any], key: str) -> tuple[str, str]:
    """(verdict, detail) for "kaikyo faster than every anchor at step ``key``"."""
    anchors = [t for t in results["tools"] if t != "kaikyo"]
    mine = _value(_cell(results, key, "kaikyo"), lambda c: c["seconds"])
    theirs = {a: _value(_cell(results, key, a), lambda c: c["seconds"]) for a in anchors}
    detail = f"kaikyo {_fmt(mine)} s; " + ", ".join(f"{a} {_fmt(v)} s" for a, v in theirs.items())
    if mine is None or any(v is None for v in theirs.values()):
        return "n/a", detail
    return _verdict(all(mine < v for v in theirs.values() if v is not None)), detail


def _verdict(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]not met[/]"


def _ceiling_share(
    results: dict[str, Any], key: str, ceiling: str, cores: int = 1, goal: float = 0.7
) -> tuple[str, str]:
    """kaikyo's backup throughput as a share of a ceiling (mean of start/end), the ceiling's
    one-thread rate multiplied by ``cores``."""
    rates = [
        c[ceiling]["bytes"] / c[ceiling]["seconds"]
        for c in results["ceilings"].values()
        if c.get(ceiling, {}).get("seconds")
    ]
    nbytes = next((c[ceiling]["bytes"] for c in results["ceilings"].values() if ceiling in c), 0)
    secs = _value(_cell(results, key, "kaikyo"), lambda c: c["seconds"])
    if not rates or not secs:
        return "n/a", "kaikyo has no time for this step"
    rate = cores * sum(rates) / len(rates)
    share = nbytes / secs / rate
    detail = f"{nbytes / secs / MB:,.0f} MB/s vs ceiling {rate / MB:,.0f} MB/s = {share:.0%}"
    return _verdict(share >= goal), detail


def _not_larger(
    results: dict[str, Any], keys: list[str], get: Getter, what: str
) -> tuple[str, str]:
    if "restic" not in results["tools"]:
        return "n/a", "restic not in this run"
    parts, verdicts = [], []
    for key in keys:
        mine = _value(_cell(results, key, "kaikyo"), get)
        theirs = _value(_cell(results, key, "restic"), get)
        parts.append(f"{key}: {_fmt(mine)} vs {_fmt(theirs)} {what}")
        verdicts.append(None if mine is None or theirs is None else mine <= theirs)
    if None in verdicts:
        return "n/a", "; ".join(parts)
    return _verdict(all(verdicts)), "; ".join(parts)


def _peak_not_larger(results: dict[str, Any], key: str) -> tuple[str, str]:
    """kaikyo's peak no larger than restic's at every step (``key``: see MEMORY_MEASURES)."""
    if "restic" not in results["tools"]:
        return "n/a", "restic not in this run"
    worse, verdicts = [], []
    for step in results["steps"]:
        mine = step["results"].get("kaikyo", {}).get(key)
        theirs = step["results"].get("restic", {}).get(key)
        if mine is None or theirs is None:
            continue
        verdicts.append(mine <= theirs)
        if mine > theirs:
            worse.append(f"{step['key']} {mine / MiB:.0f} vs {theirs / MiB:.0f}")
    rows = {k: v for k, v in _peak_row(results, key).items() if k in ("kaikyo", "restic")}
    detail = f"max kaikyo {_fmt(rows.get('kaikyo'))} vs restic {_fmt(rows.get('restic'))} MiB" + (
        "; larger at " + ", ".join(worse) if worse else "; no step larger"
    )
    if not verdicts:
        return "n/a", detail
    return _verdict(all(verdicts)), detail


def goals_table(results: dict[str, Any]) -> Table:
    """The goals of issue 2 section 7, judged on this run's figures."""

    def growth(c: Cell) -> float | None:
        return c["repo_growth"] / MB if "repo_growth" in c else None

    rows = [
        ("first backup of tree faster than both", *_faster(results, "backup_tree")),
        ("backup of image faster than both", *_faster(results, "backup_image")),
        (
            "first tree backup >= 70% of read+BLAKE3 ceiling",
            *_ceiling_share(results, "backup_tree", "tree: python read+BLAKE3, 1 thread"),
        ),
        (
            "image backup >= 70% of read+BLAKE3 ceiling",
            *_ceiling_share(results, "backup_image", "image: python read+BLAKE3, 1 thread"),
        ),
        (
            "(context) tree backup vs read+BLAKE3+zstd-3 on 2 cores",
            *_ceiling_share(
                results, "backup_tree", "tree: python read+BLAKE3+zstd-3, 1 thread", cores=2
            ),
        ),
        (
            "(context) image backup vs read+BLAKE3+zstd-3 on 2 cores",
            *_ceiling_share(
                results, "backup_image", "image: python read+BLAKE3+zstd-3, 1 thread", cores=2
            ),
        ),
        ("incremental backup faster than both", *_faster(results, "backup_tree2")),
        ("unchanged re-backup faster than both", *_faster(results, "backup_unchanged")),
        ("restore of tree2 faster than both", *_faster(results, "restore_tree2")),
        ("restore of image faster than both", *_faster(results, "restore_image")),
        (
            "repository no larger than restic's, every dataset",
            *_not_larger(results, ["backup_tree", "backup_tree2", "backup_image"], growth, "MB"),
        ),
        # See MEMORY_MEASURES: the first is the memory the machine gives the backup.
        (
            "peak memory no larger than restic's, every step (resident pages, once each)",
            *_peak_not_larger(results, "peak_unique"),
        ),
        ("(context) the same on summed RSS", *_peak_not_larger(results, "peak_rss")),
        ("(context) the same on summed PSS", *_peak_not_larger(results, "peak_pss")),
        ("index <= 48 bytes/chunk at 5M chunks", "n/a", "see bench/bench_index.py"),
    ]
    table = Table(title="Goals (issue 2, section 7), judged on this run", title_justify="left")
    for col in ("goal", "verdict", "figures"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    return table


if __name__ == "__main__":
    # Re-render saved results: python bench/report.py /var/tmp/kaikyo-bench/results/X.json
    import json
    import sys

    for results_path in sys.argv[1:]:
        with open(results_path, encoding="utf-8") as fh:
            render(json.load(fh))
