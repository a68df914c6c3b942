"""`make demo`: the main job on the embedded default, end to end, with real processes.

1. Starts a haven (`kaikyo serve`) on 127.0.0.1 with embedded storage (SQLite + a local
   directory), onboards a tenant and issues a backup token (when the haven is available).
2. Protects a real directory (this project's tree plus a generated sample with the metadata
   zoo: Japanese/Korean/non-UTF-8 names, symlinks, hardlinks, a sparse file, xattrs, modes).
3. Lists snapshots, restores into a fresh directory, verifies every byte and every piece of
   metadata, and says so.
4. Prints the evacuation plan for the sample Tokyo fleet and writes its chart.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KAIKYO = [sys.executable, "-m", "kaikyo"]
OUT = ROOT / "demo-out"


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def run(args: list[str], env: dict[str, str], capture: bool = False) -> str:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    print(f"$ kaikyo {shown}", flush=True)
    proc = subprocess.run(
        KAIKYO + args, env=env, text=True, check=False, stdout=subprocess.PIPE if capture else None
    )
    if proc.returncode not in (0,):
        raise SystemExit(f"demo: 'kaikyo {' '.join(args)}' failed with exit code {proc.returncode}")
    return proc.stdout or ""


def make_sample(root: Path) -> None:
    """A small tree with the metadata that backup tools most often get wrong."""
    root.mkdir(parents=True)
    (root / "日本語のファイル.txt").write_text("地震の後、データを海峡の向こうへ。\n" * 50)
    (root / "한국어_파일.txt").write_text("부산 데이터 센터\n" * 50)
    (root / os.fsdecode(b"latin1-\xe9t\xe9.bin")).write_bytes(os.urandom(3000))
    sub = root / "深い" / "nested" / "dir"
    sub.mkdir(parents=True)
    (sub / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024) + b"\0" * 1024 * 1024)
    (root / "link-to-big").symlink_to("深い/nested/dir/big.bin")
    (root / "dangling").symlink_to("nowhere")
    os.link(sub / "big.bin", root / "hardlink-to-big")
    (root / "ledger.db").write_bytes(os.urandom(6 * 1024 * 1024))  # pages change in place
    with open(root / "sparse.img", "wb") as fh:
        fh.seek(64 * 1024 * 1024)
        fh.write(b"end")
    secret = root / "secret.txt"
    secret.write_text("only the owner may read this\n")
    secret.chmod(0o600)
    script = root / "run.sh"
    script.write_text("#!/bin/sh\necho kaikyo\n")
    script.chmod(0o755)
    os.mkfifo(root / "a-fifo")
    try:
        os.setxattr(root / "secret.txt", "user.classification", b"must-stay")
    except OSError:
        pass
    (root / "empty-dir").mkdir()
    os.utime(root / "日本語のファイル.txt", ns=(1_309_478_400_123_456_789,) * 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    work = Path(tempfile.mkdtemp(prefix="kaikyo-demo-", dir=OUT))
    sample = work / "sample"
    make_sample(sample)
    env = dict(os.environ)
    env.update(
        {
            "KAIKYO_PASSWORD": "demo passphrase 海峡",
            "KAIKYO_CACHE_DIR": str(work / "cache"),
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    server = None
    try:
        repo = str(work / "repo")
        haven = _start_haven(work, env)
        if haven is not None:
            server, repo, token = haven
            env["KAIKYO_TOKEN"] = token
        env["KAIKYO_REPOSITORY"] = repo
        say(f"1. a repository at {repo}")
        run(["init"], env)
        say("2. protect this project's tree and the metadata sample")
        run(["backup", str(ROOT / "src"), str(ROOT / "docs"), str(sample), "--tag", "demo"], env)
        (sample / "日本語のファイル.txt").write_text("changed after the first snapshot\n")
        run(["backup", str(ROOT / "src"), str(ROOT / "docs"), str(sample), "--tag", "demo"], env)
        run(["snapshots"], env)
        _restore_and_verify(work, env, sample)
        _restic_habits(work, env, sample)
        run(["check", "--read-data"], env)
        run(["stats"], env)
        if server is not None:
            _attack(work, env, repo)
            say("the haven operator's view (no keys, ciphertext only)")
            data = str(work / "haven")
            run(["tenant", "show", "tokyo-corp", "--data", data], env)
            run(["haven", "audit", "verify", "--data", data], env)
        _plan(env)
        say(
            "demo finished: protected, restored and verified"
            + (" through the haven" if server is not None else "")
        )
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)


def _restore_and_verify(work: Path, env: dict[str, str], sample: Path) -> None:
    """Restore the latest snapshot and compare the sample with the original, byte by byte
    and attribute by attribute."""
    say("3. restore into a fresh directory and verify every byte and every attribute")
    target = work / "restored"
    run(["restore", "latest", "--target", str(target), "--verify"], env)
    from kaikyo.testing.compare import compare_trees

    problems = compare_trees(sample, Path(str(target) + str(sample)))
    if problems:
        print("\n".join(problems[:20]))
        raise SystemExit("demo: the restored tree differs from the original")
    print(
        f"verified: {sum(1 for _ in sample.rglob('*'))} entries of the sample identical "
        "(content, modes, owners, ns times, links, sparse file, xattrs, names)"
    )
    _restore_onto(env, sample, Path(str(target) + str(sample)))


def _restore_onto(env: dict[str, str], sample: Path, copy: Path) -> None:
    """The copy lives on (a file edited, one added, one removed); a restore onto it sends
    only what differs and makes it the snapshot again."""
    say("3a. the restored copy changes; a restore onto it moves only the difference")
    with open(copy / "ledger.db", "r+b") as fh:  # one 4 KiB page of a 6 MiB file
        fh.seek(5 << 20)
        fh.write(os.urandom(4096))
    (copy / "added-later.txt").write_text("not in the snapshot\n")
    (copy / "日本語のファイル.txt").unlink()
    ref = f"latest:{sample}"
    onto = ["restore", ref, "--target", str(copy), "--overwrite", "if-changed", "--delete"]
    run([*onto, "--dry-run", "-v"], env)
    run(onto, env)
    from kaikyo.testing.compare import compare_trees

    if compare_trees(sample, copy):
        raise SystemExit("demo: the restore onto the changed copy left differences")
    print("verified: the copy is the snapshot again")


def _restic_habits(work: Path, env: dict[str, str], sample: Path) -> None:
    """What a restic user reaches for: a command's output backed up (nothing saved if it
    fails), a file and a directory dumped from a snapshot, tags changed afterwards."""
    say("3b. a database dump from a command, dump and tag (restic's habits)")
    dump_cmd = [sys.executable, "-c", "print('CREATE TABLE 海峡 (id int);' * 1000)"]
    run(["backup", "--stdin-from-command", "--stdin-filename", "db.sql", "--", *dump_cmd], env)
    failing = subprocess.run(
        KAIKYO
        + ["backup", "--stdin-from-command", "--", sys.executable, "-c", "raise SystemExit(3)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"a failing command: exit {failing.returncode}: {failing.stderr.strip()}")
    if failing.returncode != 24:
        raise SystemExit("demo: a failing --stdin-from-command did not exit 24")
    sql = subprocess.run(
        KAIKYO + ["dump", "latest", "/db.sql"], env=env, capture_output=True, check=True
    ).stdout
    if sql != ("CREATE TABLE 海峡 (id int);" * 1000 + "\n").encode():
        raise SystemExit("demo: the dumped db.sql differs from the command's output")
    print(f"dump latest /db.sql: {len(sql)} bytes, identical to the command's output")
    archive = work / "sample.tar"
    run(["dump", "--tag", "demo", "latest", str(sample), "--target", str(archive)], env)
    import tarfile

    with tarfile.open(archive) as tar:
        print(f"{archive.name}: {len(tar.getnames())} entries")
    run(["tag", "--tag", "demo", "--add", "verified"], env)
    _copy_and_rewrite(work, env, sample)


def _copy_and_rewrite(work: Path, env: dict[str, str], sample: Path) -> None:
    """The repository copied into a second one (another key: every blob named anew), what
    a rewrite would remove, a seventh of the packs read back."""
    say("3c. copy into a second repository, rewrite (dry run), a partial read-back")
    second = {**env, "KAIKYO_REPOSITORY": str(work / "second"), "KAIKYO_PASSWORD": "second 鍵"}
    second.pop("KAIKYO_TOKEN", None)
    run(["init"], second)
    source = {"KAIKYO_FROM_REPOSITORY": env["KAIKYO_REPOSITORY"]}
    source["KAIKYO_FROM_PASSWORD"] = env["KAIKYO_PASSWORD"]
    if "KAIKYO_TOKEN" in env:
        source["KAIKYO_FROM_TOKEN"] = env["KAIKYO_TOKEN"]
    run(["copy", "--tag", "demo"], {**second, **source})
    run(["copy", "--tag", "demo"], {**second, **source})  # again: nothing left to copy
    run(["rewrite", "--tag", "demo", "--exclude", "secret.txt", "--dry-run"], env)
    run(["check", "--read-data-subset", "1/7"], env)


def _plan(env: dict[str, str]) -> None:
    """The evacuation plan for the sample fleet, with its charts."""
    say(
        "4. the evacuation plan for the sample Tokyo fleet: 15% (and a 5% margin) by 1 July "
        "2011, cut-overs on Saturday nights in JST, net figures and the range rated watts leave"
    )
    chart = OUT / "plan.png"
    inputs = [
        "--fleet",
        str(ROOT / "examples" / "fleet-tokyo.csv"),
        "--site",
        str(ROOT / "examples" / "site-tokyo.yaml"),
        "--start",
        "2011-05-01",
        "--deadline",
        "2011-07-01",
    ]
    proc = subprocess.run(
        KAIKYO
        + ["plan", *inputs, "--target", "15%", "--margin", "5%"]
        + [
            "--chart",
            str(chart),
            "--chart",
            str(OUT / "plan.html"),
            "--xlsx",
            str(OUT / "plan.xlsx"),
        ],
        env=env,
        check=False,
    )
    if proc.returncode not in (0, 2):
        raise SystemExit(f"demo: plan failed with exit code {proc.returncode}")
    print(f"\nchart written to {chart} and {OUT / 'plan.html'}; workbook {OUT / 'plan.xlsx'}")
    say("4b. scenarios for the board: 10 to 15% over a 300 Mbit/s or a 1 Gbit/s line")
    proc = subprocess.run(
        KAIKYO
        + ["plan", "compare", *inputs, "--targets", "10%,12.5%,15%", "--link-mbps", "300,1000"],
        env=env,
        check=False,
    )
    if proc.returncode not in (0, 2):
        raise SystemExit(f"demo: plan compare failed with exit code {proc.returncode}")


def _attack(work: Path, env: dict[str, str], repo: str) -> None:
    """A stolen backup token (no passphrase) plants garbage and replays a forgotten snapshot:
    the garbage is skipped and named, the replay refused at the door."""
    import hashlib

    import httpx

    say("3d. a stolen backup token: a planted snapshot is skipped, a replay is refused")
    data = work / "haven"
    backup_token = json.loads(
        run(
            ["token", "issue", "tokyo-corp", "--scope", "backup", "--data", str(data), "--json"],
            env,
            capture=True,
        )
    )["token"]
    headers = {"authorization": f"Bearer {backup_token}"}
    garbage = os.urandom(300)
    name = "snapshots/" + hashlib.sha256(garbage).hexdigest()
    status = httpx.put(f"{repo}/o/{name}", content=garbage, headers=headers).status_code
    print(f"attacker: PUT {name[:18]}... (300 random bytes) -> HTTP {status}")
    run(["snapshots"], env)
    run(["repair", "snapshots"], env)
    objects = data / "objects" / "tokyo-corp" / "demo" / "snapshots"
    oldest = json.loads(run(["snapshots", "--json"], env, capture=True))[0]["id"]
    kept = (objects / oldest).read_bytes()
    run(["forget", oldest], env)
    status = httpx.put(f"{repo}/o/snapshots/{oldest}", content=kept, headers=headers).status_code
    print(
        f"attacker: PUT the forgotten snapshot {oldest[:8]} back -> HTTP {status} "
        "(a name the haven deleted is never stored again)"
    )
    if status != 410:
        raise SystemExit("demo: the haven stored a replayed snapshot")


def _start_haven(
    work: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str, str] | None:
    """Start `kaikyo serve` on loopback and onboard a tenant; None if no haven is built."""
    probe = subprocess.run(KAIKYO + ["serve", "--help"], env=env, capture_output=True, check=False)
    if probe.returncode != 0:
        print("(the haven is not available in this build: using a local repository)")
        return None
    data = str(work / "haven")
    port = free_port()
    say(f"0. a haven on 127.0.0.1:{port} (embedded: SQLite + local directory)")
    run(["tenant", "add", "tokyo-corp", "--data", data, "--quota-bytes", "10G"], env)
    token = json.loads(
        run(
            ["token", "issue", "tokyo-corp", "--scope", "admin", "--data", data, "--json"],
            env,
            capture=True,
        )
    )["token"]
    server = subprocess.Popen(
        KAIKYO + ["serve", "--data", data, "--listen", f"127.0.0.1:{port}"], env=env
    )
    import httpx

    from kaikyo.clock import SYSTEM_CLOCK

    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            SYSTEM_CLOCK.sleep(0.1)
    else:
        server.terminate()
        raise SystemExit("demo: the haven did not start")
    return server, f"http://127.0.0.1:{port}/tokyo-corp/demo", token


if __name__ == "__main__":
    sys.exit(main())
