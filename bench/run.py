"""kaikyo vs restic vs BorgBackup on the same data, in one run (``make bench``).

Quick check while developing:  .venv/bin/python bench/run.py --scale 0.02
See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import DataSets, apply_changes, datasets_for, ensure_all  # noqa: E402
from measure import Measurement, dir_bytes, hash_pass, run_measured, tar_copy, tar_read  # noqa: E402
from report import render  # noqa: E402
from tools import Borg, Command, Kaikyo, Restic, Tool, ensure_borg, ensure_restic  # noqa: E402
from verify import Verdict, compare, locate, manifest  # noqa: E402

DEFAULT_WORKDIR = Path("/var/tmp/kaikyo-bench")
ALL_TOOLS = ("kaikyo", "restic", "borg")


def _say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"datasets, repositories, restores, results (default {DEFAULT_WORKDIR})",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="shrink every dataset by this factor, e.g. 0.02 for a quick check",
    )
    p.add_argument("--seed", type=int, default=1, help="dataset seed (default 1)")
    p.add_argument(
        "--tools", default=",".join(ALL_TOOLS), help="comma-separated subset of kaikyo,restic,borg"
    )
    p.add_argument(
        "--borg-compression",
        action="append",
        dest="borg_compression",
        metavar="SPEC",
        help="borg --compression (repeatable: one column each; "
        "default lz4), e.g. --borg-compression lz4 --borg-compression zstd,3",
    )
    p.add_argument("--kaikyo", type=Path, default=None, help="kaikyo binary (.venv/bin/kaikyo)")
    p.add_argument("--timeout", type=float, default=3600.0, help="per command, seconds")
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep repositories and restored trees under <workdir>/run",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON, no tables")
    return p.parse_args(argv)


# ---------------------------------------------------------------- setup


def make_tools(args: argparse.Namespace, run_dir: Path) -> list[Tool]:
    wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(wanted) - set(ALL_TOOLS)
    if unknown:
        raise SystemExit(f"unknown tools: {', '.join(sorted(unknown))}")
    tools: list[Tool] = []
    if "kaikyo" in wanted:
        tools.append(Kaikyo(run_dir / "kaikyo", args.kaikyo))
    if "restic" in wanted:
        tools.append(Restic(run_dir / "restic", ensure_restic()))
    if "borg" in wanted:
        binary = ensure_borg()
        for spec in args.borg_compression or ["lz4"]:
            tools.append(Borg(run_dir, binary, spec))
    return tools


def machine_info() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "host": platform.node(),
    }


def git_revision() -> str:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        ["git", "-C", str(root), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def wipe(path: Path) -> None:
    if path.exists():
        _say(f"removing {path}")
        shutil.rmtree(path)


# ---------------------------------------------------------------- one step for every tool


class Bench:
    """Runs each step for every tool before moving on; the order rotates per step so that
    machine drift and cache effects hit every tool alike."""

    def __init__(self, tools: list[Tool], run_dir: Path, timeout: float) -> None:
        self.tools = tools
        self.run_dir = run_dir
        self.timeout = timeout
        self.logs = run_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.steps: list[dict[str, Any]] = []
        self.repo_bytes: dict[str, int] = {}

    def _order(self) -> list[Tool]:
        k = len(self.steps) % len(self.tools)
        return self.tools[k:] + self.tools[:k]

    def step(
        self,
        key: str,
        title: str,
        command: Callable[[Tool], Command],
        *,
        warm: Callable[[Tool], Path | None] | None = None,
        track_size: bool = False,
        check: Callable[[Tool], Verdict] | None = None,
    ) -> None:
        order = self._order()
        cells: dict[str, Any] = {}
        for tool in order:
            warmed = warm(tool) if warm else None
            if warmed is not None and warmed.exists():
                tar_read(warmed)
            cells[tool.name] = self._one(key, tool, command(tool), track_size, check)
        self.steps.append(
            {
                "key": key,
                "title": title,
                "order": [t.name for t in order],
                "results": {t.name: cells[t.name] for t in self.tools},
            }
        )

    def _one(
        self,
        key: str,
        tool: Tool,
        cmd: Command,
        track_size: bool,
        check: Callable[[Tool], Verdict] | None,
    ) -> dict[str, Any]:
        if cmd.cwd is not None:
            cmd.cwd.mkdir(parents=True, exist_ok=True)
        # Write back what earlier commands left dirty, so that no tool's time includes another
        # one's writeback (a restore after a 2 GB restore took 3x longer without this).
        os.sync()
        m: Measurement = run_measured(
            cmd.argv,
            env=tool.env(),
            log_prefix=self.logs / f"{key}.{tool.name}",
            cwd=cmd.cwd,
            timeout=self.timeout,
            ok_codes=cmd.ok_codes,
            warn_codes=cmd.warn_codes,
        )
        cell: dict[str, Any] = asdict(m)
        cell["argv"] = cmd.argv
        if track_size:
            size = dir_bytes(tool.repo)
            cell["repo_bytes"] = size
            cell["repo_growth"] = size - self.repo_bytes.get(tool.name, 0)
            self.repo_bytes[tool.name] = size
        if check is not None and m.ok:
            verdict = check(tool)
            cell["verify"] = {
                "ok": verdict.ok,
                "summary": verdict.summary(),
                "problems": verdict.problems[:50],
                "mtime_mismatches": verdict.mtime_mismatches,
            }
        status = m.error or ("verify " + cell["verify"]["summary"] if "verify" in cell else "ok")
        held = f"{m.peak_unique / 2**20:7.1f}" if m.peak_unique is not None else "    n/a"
        _say(
            f"{key:18} {tool.name:10} {m.seconds:8.2f} s  {held} MiB held  "
            f"{m.peak_rss / 2**20:7.1f} MiB summed RSS  {status}"
        )
        return cell


# ---------------------------------------------------------------- ceilings


def ceilings(ds: DataSets, src: Path, scratch: Path) -> dict[str, Any]:
    """Reading the tree (tar|cat), reading+BLAKE3 in one Python thread (also with zstd-3, the
    compression restic's and kaikyo's defaults are comparable to), writing it (tar x)."""
    image_bytes = ds.image.stat().st_size
    tar_read(src)  # warm
    read_s = tar_read(src)
    hash_s, _files, tree_bytes = hash_pass(src)
    zstd_s, _, _ = hash_pass(src, zstd_level=3)
    write_s = tar_copy(src, scratch)
    tar_read(ds.image_dir)
    image_read_s = tar_read(ds.image_dir)
    image_hash_s, _, image_hashed = hash_pass(ds.image_dir)
    image_zstd_s, _, _ = hash_pass(ds.image_dir, zstd_level=3)
    result = {
        "tree: tar cf - | cat": {"seconds": read_s, "bytes": tree_bytes},
        "tree: python read+BLAKE3, 1 thread": {"seconds": hash_s, "bytes": tree_bytes},
        "tree: python read+BLAKE3+zstd-3, 1 thread": {"seconds": zstd_s, "bytes": tree_bytes},
        "tree: tar x into empty dir": {"seconds": write_s, "bytes": tree_bytes},
        "image: tar cf - | cat": {"seconds": image_read_s, "bytes": image_bytes},
        "image: python read+BLAKE3, 1 thread": {"seconds": image_hash_s, "bytes": image_hashed},
        "image: python read+BLAKE3+zstd-3, 1 thread": {
            "seconds": image_zstd_s,
            "bytes": image_hashed,
        },
    }
    for what, item in result.items():
        _say(f"ceiling {what}: {item['seconds']:.2f} s")
    return result


# ---------------------------------------------------------------- the run


def run_steps(bench: Bench, ds: DataSets, src: Path) -> None:
    restore_root = bench.run_dir / "restores"

    def target(step: str, tool: Tool) -> Path:
        return restore_root / f"{step}.{tool.name}"

    def restore(step: str, name: str) -> Callable[[Tool], Command]:
        def cmd(tool: Tool) -> Command:
            t = target(step, tool)
            t.mkdir(parents=True)  # fresh and empty, never reused (see README)
            return tool.restore_latest(name, t)

        return cmd

    bench.step("init", "init (encrypted)", lambda t: t.init(), track_size=True)
    bench.step(
        "backup_tree",
        "first backup of tree",
        lambda t: t.backup(src, "tree"),
        warm=lambda t: src,
        track_size=True,
    )
    _say("turning src into tree2")
    apply_changes(ds, src)
    bench.step(
        "backup_tree2",
        "incremental backup (tree2)",
        lambda t: t.backup(src, "tree2"),
        warm=lambda t: src,
        track_size=True,
    )
    bench.step(
        "backup_unchanged",
        "unchanged re-backup (tree2)",
        lambda t: t.backup(src, "unchanged"),
        warm=lambda t: src,
        track_size=True,
    )
    expected_tree = manifest(src)
    bench.step(
        "restore_tree2",
        "restore latest (tree2) into empty dir",
        restore("restore_tree2", "unchanged"),
        warm=lambda t: t.repo,
        check=lambda t: compare(expected_tree, locate(target("restore_tree2", t), src)),
    )
    bench.step(
        "backup_image",
        "backup of image",
        lambda t: t.backup(ds.image_dir, "image"),
        warm=lambda t: ds.image_dir,
        track_size=True,
    )
    expected_image = manifest(ds.image_dir)
    bench.step(
        "restore_image",
        "restore latest (image) into empty dir",
        restore("restore_image", "image"),
        warm=lambda t: t.repo,
        check=lambda t: compare(expected_image, locate(target("restore_image", t), ds.image_dir)),
    )


def tool_stats(tools: list[Tool], timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tool in tools:
        cmd = tool.stats()
        if cmd is None:
            continue
        try:
            res = subprocess.run(
                cmd.argv,
                env=tool.env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            out[tool.name] = {"error": str(exc)}
            continue
        try:
            out[tool.name] = json.loads(res.stdout)
        except json.JSONDecodeError:
            out[tool.name] = {
                "error": f"exit {res.returncode}",
                "stdout": res.stdout[-2000:],
                "stderr": res.stderr[-2000:],
            }
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir: Path = args.workdir.resolve()
    run_dir = workdir / "run"
    tools = make_tools(args, run_dir)  # installs restic / borg if needed
    ds = datasets_for(workdir, args.scale, args.seed)
    ensure_all(ds)
    wipe(run_dir)  # leftovers of an interrupted run
    for tool in tools:
        tool.prepare()
    src = run_dir / "src"
    _say(f"copying tree to {src}")
    subprocess.run(["cp", "-a", str(ds.tree), str(src)], check=True)

    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "scale": args.scale,
        "seed": args.seed,
        "workdir": str(workdir),
        "source_path": str(src),
        "image_path": str(ds.image),
        "kaikyo_revision": git_revision(),
        "machine": machine_info(),
        "versions": {t.name: t.version() for t in tools},
        "datasets": {n: _short_info(ds.info(n)) for n in ("tree", "tree2", "image")},
    }
    bench = Bench(tools, run_dir, args.timeout)
    results: dict[str, Any] = {"meta": meta, "tools": [t.name for t in tools], "ceilings": {}}
    results["ceilings"]["start"] = ceilings(ds, src, run_dir / "ceiling-start")
    try:
        run_steps(bench, ds, src)
        results["ceilings"]["end"] = ceilings(ds, src, run_dir / "ceiling-end")
        results["tool_stats"] = tool_stats(tools, args.timeout)
    finally:
        results["steps"] = bench.steps
        results["repo_bytes"] = bench.repo_bytes
        results["meta"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        path = save(results, workdir)
        _say(f"results: {path}")
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        render(results)
    if not args.keep:
        wipe(run_dir)
    return 0


def _short_info(info: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in info.items() if k not in ("dataset", "version", "seed", "scale")}


def save(results: dict[str, Any], workdir: Path) -> Path:
    out_dir = workdir / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"bench-{stamp}-s{results['meta']['scale']:g}.json"
    text = json.dumps(results, indent=1) + "\n"
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
