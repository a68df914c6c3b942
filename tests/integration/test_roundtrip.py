"""CLI round trips on the metadata zoo: backup, restore, inspect, forget, prune, keys."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kaikyo.testing.compare import assert_trees_equal, compare_trees, scan
from kaikyo.testing.times import unix_ns
from kaikyo.testing.trees import CHUNK_MIN, JAPANESE_NAME, KOREAN_NAME, NON_UTF8_NAME, build_zoo

from .conftest import PASSWORD, Kaikyo, ZooRepo


def _regular_files(root: Path) -> int:
    return sum(
        1
        for dirpath, _, files in os.walk(root)
        for f in files
        if stat.S_ISREG(os.lstat(os.path.join(dirpath, f)).st_mode)
    )


# ---- full round trip -------------------------------------------------------------------


def test_zoo_restores_exactly(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = zoo_repo.k.restore(zoo_repo.ref(), out, "--json")
    assert run.json()["warnings"] == []
    assert_trees_equal(zoo_repo.zoo.root, out)
    zoo = zoo_repo.zoo
    # The compare covers these; assert the zoo really has them, so the test cannot pass empty.
    assert os.stat(out / zoo.sparse).st_blocks * 512 < os.stat(out / zoo.sparse).st_size // 100
    inodes = {os.stat(out / p).st_ino for p in zoo.hardlinks}
    assert len(inodes) == 1
    assert os.readlink(bytes(out / "link-non-utf8")) == b"../\xff\xfe-nowhere"
    assert (out / "names" / JAPANESE_NAME).read_text() == "こんにちは\n"
    assert (out / "names" / KOREAN_NAME).read_text() == "안녕하세요\n"
    assert os.path.isfile(bytes(out / "names") + b"/" + NON_UTF8_NAME)
    assert stat.S_ISFIFO(os.lstat(out / "fifo").st_mode)
    assert os.stat(out / "modes" / "setuid").st_mode & 0o7777 == 0o4755
    assert os.stat(out / "modes" / "sticky").st_mode & 0o7777 == 0o1777
    assert (out / zoo.deep).read_bytes() == b"at the bottom\n"
    assert list((out / "empty-dir").iterdir()) == []
    if zoo.devices:
        assert stat.S_ISCHR(os.lstat(out / "null-dev").st_mode)
    if zoo.xattrs:
        assert os.getxattr(out / "one-byte", "user.kaikyo.test") == b"value\x00\xff binary"
    if zoo.owners:
        assert os.lstat(out / "modes" / "owned").st_uid == 12345
        assert os.lstat(out / "modes" / "owned-link").st_gid == 65432


def test_compare_detects_differences(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    """The comparer itself must fail on each kind of damage, or the round trips prove nothing."""
    out = tmp_path / "out"
    zoo_repo.k.restore(zoo_repo.ref(), out)
    assert compare_trees(zoo_repo.zoo.root, out) == []
    os.utime(out / "one-byte", ns=(1, 1))
    os.chmod(out / "modes" / "setuid", 0o755)
    os.unlink(out / "hard" / "b")
    shutil.copy(out / "hard" / "a", out / "hard" / "b")
    (out / "chunk-min").write_bytes(b"x" * CHUNK_MIN)
    os.unlink(out / "link-dangling")
    os.symlink("elsewhere", out / "link-dangling")
    diffs = "\n".join(compare_trees(zoo_repo.zoo.root, out))
    for needle in (
        "one-byte: mtime",
        "setuid: mode",
        "hardlink groups",
        "chunk-min: content",
        "link-dangling: symlink target",
    ):
        assert needle in diffs


def test_restore_verify(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    run = zoo_repo.k.restore(zoo_repo.ref(), tmp_path / "out", "--verify", "--json")
    doc = run.json()
    assert doc["verified"] == doc["files"] > 20
    assert doc["bytes"] > 20 * 1024 * 1024


def test_restore_whole_snapshot_mirrors_absolute_paths(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    zoo_repo.k.restore(zoo_repo.snapshot[:10], out)
    assert_trees_equal(zoo_repo.zoo.root, Path(f"{out}{zoo_repo.zoo.root}"))


def test_restore_subpath(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    zoo_repo.k.restore(zoo_repo.ref("/names"), out)
    assert_trees_equal(zoo_repo.zoo.root / "names", out)
    single = tmp_path / "single"
    zoo_repo.k.restore(zoo_repo.ref("/chunk-min-plus-1"), single)
    assert os.listdir(single) == ["chunk-min-plus-1"]
    assert (single / "chunk-min-plus-1").read_bytes() == (
        zoo_repo.zoo.root / "chunk-min-plus-1"
    ).read_bytes()


def test_restore_include_exclude(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    inc = tmp_path / "inc"
    zoo_repo.k.restore(zoo_repo.ref(), inc, "--include", "/modes")
    assert sorted(os.listdir(inc)) == ["modes"]
    assert_trees_equal(zoo_repo.zoo.root / "modes", inc / "modes")
    exc = tmp_path / "exc"
    zoo_repo.k.restore(zoo_repo.ref(), exc, "--exclude", "*.bin", "--exclude", "/d")
    expected = scan(zoo_repo.zoo.root)
    kept = {
        rel: e
        for rel, e in expected.items()
        if not rel.endswith(b".bin") and not rel.startswith(b"/d")
    }
    restored = scan(exc)
    assert set(restored) == set(kept)
    assert b"/random-big.bin" not in restored
    assert b"/names/" + NON_UTF8_NAME not in restored  # it ends in .bin
    assert b"/names/dir-\xe9\xe8/inside" in restored


def test_restore_include_by_name_creates_the_parents(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    """An include that matches names anywhere (``*.bin``) restores those files and the
    directories above them, with their metadata, and nothing else (restic does the same)."""
    out = tmp_path / "by-name"
    zoo_repo.k.restore(zoo_repo.ref(), out, "--include", "*.bin")
    source = scan(zoo_repo.zoo.root)
    wanted = {
        rel for rel, e in source.items() if rel.endswith(b".bin") and not stat.S_ISDIR(e.st.st_mode)
    }
    assert len(wanted) >= 2
    parents = {rel[:i] for rel in wanted for i in range(1, len(rel)) if rel[i : i + 1] == b"/"}
    restored = scan(out)
    assert set(restored) == wanted | parents | {b""}
    for rel in wanted | parents:
        assert restored[rel].st.st_mode == source[rel].st.st_mode, rel
        if rel in wanted:
            assert restored[rel].digest == source[rel].digest, rel


def test_restore_refuses_non_empty_target(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "one-byte").write_bytes(b"something else entirely")
    run = zoo_repo.k.restore(zoo_repo.ref(), out, expect=22)
    assert run.err.startswith("kaikyo: error:") and "not empty" in run.err
    assert os.listdir(out) == ["one-byte"]  # nothing was written
    zoo_repo.k.restore(zoo_repo.ref(), out, "--overwrite")
    assert_trees_equal(zoo_repo.zoo.root, out)


# ---- incremental backups and the files cache --------------------------------------------


def test_incremental_backup_uses_files_cache(kaikyo: Kaikyo, tmp_path: Path) -> None:
    zoo = build_zoo(tmp_path / "zoo", big=2 * 1024 * 1024, depth=30)
    first = kaikyo.backup(zoo.root)
    before = scan(zoo.root)
    n_files = _regular_files(zoo.root)
    assert first["summary"]["files_new"] == n_files

    again = kaikyo.backup(zoo.root)
    assert again["summary"]["files_unmodified"] == n_files
    assert again["summary"]["bytes_read"] == 0

    with open(zoo.root / "random-big.bin", "r+b") as fh:  # modify
        fh.seek(1000)
        fh.write(b"MODIFIED")
    (zoo.root / "names" / "added.txt").write_bytes(b"new file\n" * 1000)  # add
    os.unlink(zoo.root / "chunk-min")  # delete
    third = kaikyo.backup(zoo.root)
    s = third["summary"]
    assert (s["files_new"], s["files_changed"]) == (1, 1)
    assert s["files_unmodified"] == n_files - 2
    assert s["bytes_read"] == (zoo.root / "random-big.bin").stat().st_size + 9000
    assert s["data_added"] < 2 * 1024 * 1024  # only the changed chunk(s) and the new file

    new_out, old_out = tmp_path / "new", tmp_path / "old"
    kaikyo.restore(f"{third['snapshot_id']}:{zoo.root}", new_out)
    assert_trees_equal(zoo.root, new_out)
    kaikyo.restore(f"{first['snapshot_id']}:{zoo.root}", old_out)
    assert_trees_equal(before, old_out)

    diff = kaikyo("diff", "--json", first["snapshot_id"], third["snapshot_id"]).json()
    changes = {(d["change"], d["path"].removeprefix(str(zoo.root))) for d in diff}
    assert ("+", "/names/added.txt") in changes
    assert ("-", "/chunk-min") in changes
    assert ("M", "/random-big.bin") in changes
    assert not any(p == "/one-byte" for _, p in changes)


def test_diff_sees_a_changed_symlink_target_of_any_bytes(kaikyo: Kaikyo, tmp_path: Path) -> None:
    """A target that is not UTF-8 is stored base64 (``target_b``): a change of it is a change
    as much as one of a text target."""
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(b"\xff\xfeold-\x80", os.path.join(os.fsencode(src), b"odd"))
    os.symlink("東京/old", src / "text")
    first = kaikyo.backup(src)["snapshot_id"]
    os.unlink(src / "odd")
    os.symlink(b"\xff\xfenew-\x80", os.path.join(os.fsencode(src), b"odd"))
    second = kaikyo.backup(src)["snapshot_id"]
    changes = {
        (d["change"], d["path"].removeprefix(str(src)))
        for d in kaikyo("diff", "--json", first, second).json()
    }
    assert changes == {("M", "/odd")}


def test_files_cache_for_files_given_as_paths(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "dir").mkdir()
    top = [
        src / "a.bin",
        src / JAPANESE_NAME,
        Path(os.fsdecode(bytes(src) + b"/" + NON_UTF8_NAME)),
        src / "sub" / "c",
    ]
    inside = [src / "dir" / KOREAN_NAME, src / "dir" / ("n" * 255)]
    for i, p in enumerate(top + inside):
        p.write_bytes(os.urandom(1000 + i))
    total = sum(p.stat().st_size for p in top + inside)
    paths = [*top, src / "dir"]
    first = kaikyo.backup(*paths)["summary"]
    assert (first["files_new"], first["bytes_read"]) == (6, total)

    again = kaikyo.backup(*paths)["summary"]
    assert (again["files_unmodified"], again["files_new"], again["files_changed"]) == (6, 0, 0)
    assert again["bytes_read"] == 0

    # Same size, another mtime: read again, whether the content changed or not.
    st = os.stat(top[0])
    os.utime(top[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    st = os.stat(inside[0])
    inside[0].write_bytes(os.urandom(st.st_size))
    os.utime(inside[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third = kaikyo.backup(*paths)
    s = third["summary"]
    assert (s["files_unmodified"], s["files_changed"], s["files_new"]) == (4, 2, 0)
    assert s["bytes_read"] == top[0].stat().st_size + inside[0].stat().st_size
    out = tmp_path / "out"
    kaikyo.restore(f"{third['snapshot_id']}:{src}", out)
    assert (out / "dir" / KOREAN_NAME).read_bytes() == inside[0].read_bytes()

    # A directory's cache serves a file of it given alone, and the other way round.
    s = kaikyo.backup(inside[1], top[3])["summary"]
    assert (s["files_unmodified"], s["bytes_read"]) == (2, 0)
    s = kaikyo.backup(src / "sub")["summary"]
    assert (s["files_unmodified"], s["bytes_read"]) == (1, 0)


def test_no_cache_rereads_everything(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}").write_bytes(os.urandom(1000))
    kaikyo.backup(src)
    s = kaikyo("backup", "--json", "--no-cache", src).json()["summary"]
    assert s["files_unmodified"] == 0 and s["bytes_read"] == 5000
    assert s["data_added"] == 0  # everything deduplicated


def test_backup_excludes(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "keep").mkdir(parents=True)
    (src / "cache").mkdir()
    (src / "keep" / "a.txt").write_text("a")
    (src / "keep" / "b.tmp").write_text("b")
    (src / "cache" / "c").write_text("c")
    exclude_file = tmp_path / "excludes"
    exclude_file.write_text("# comment\n*/cache\n")
    snap = kaikyo("backup", "--json", "-e", "*.tmp", "--exclude-file", exclude_file, src).json()[
        "snapshot_id"
    ]
    listed = {e["path"] for e in kaikyo("ls", "--json", snap, str(src)).json()}
    assert f"{src}/keep/a.txt" in listed
    assert not any(p.endswith(("b.tmp", "/cache", "/c")) for p in listed)


# ---- inspecting snapshots ---------------------------------------------------------------


def test_snapshots_json(zoo_repo: ZooRepo) -> None:
    snaps = zoo_repo.k("snapshots", "--json").json()
    assert [s["id"] for s in snaps] == [zoo_repo.snapshot]
    assert snaps[0]["paths"] == [str(zoo_repo.zoo.root)]
    assert snaps[0]["summary"]["files_new"] == zoo_repo.backup["summary"]["files_new"]
    assert snaps[0]["errors"] == []


def test_ls_json(zoo_repo: ZooRepo) -> None:
    entries = zoo_repo.k("ls", "--json", zoo_repo.snapshot, str(zoo_repo.zoo.root)).json()
    by_path = {e["path"].removeprefix(str(zoo_repo.zoo.root)): e for e in entries}
    assert by_path["/random-big.bin"]["size"] == 6 * 1024 * 1024
    assert by_path["/random-big.bin"]["type"] == "file"
    assert by_path["/link-dangling"]["type"] == "symlink"
    assert by_path["/fifo"]["type"] == "fifo"
    assert by_path[f"/names/{JAPANESE_NAME}"]["type"] == "file"
    assert "/names/caf\\xe9-\\xff\\xfe.bin" in by_path  # non-UTF-8 shown escaped
    st = os.lstat(zoo_repo.zoo.root / "one-byte")
    assert unix_ns(by_path["/one-byte"]["mtime"]) == st.st_mtime_ns
    assert by_path["/modes/setuid"]["mode"] == 0o4755
    text = zoo_repo.k("ls", "-l", "latest", f"{zoo_repo.zoo.root}/modes").out
    assert "-rwsr-xr-x" in text


def test_find_json(zoo_repo: ZooRepo) -> None:
    hits = zoo_repo.k("find", "--json", "*.txt").json()
    paths = {h["path"].removeprefix(str(zoo_repo.zoo.root)) for h in hits}
    assert {
        f"/names/{JAPANESE_NAME}",
        f"/names/{KOREAN_NAME}",
        "/compressible.txt",
        "/" + zoo_repo.zoo.deep,
    } <= paths
    assert all(h["snapshot"] == zoo_repo.snapshot[:8] for h in hits)
    assert zoo_repo.k("find", "--json", "no-such-*").json() == []


def test_stats_json(zoo_repo: ZooRepo) -> None:
    doc = zoo_repo.k("stats", "--json").json()
    total = sum(zoo_repo.zoo.files.values())
    assert doc["snapshots"] == 1
    assert doc["restore_size"] >= total
    assert doc["compression_ratio"] > 1.5  # compressible.txt and zeros.bin
    assert doc["unique_data_stored"] < doc["unique_data_raw"]
    assert doc["repository_size"] >= doc["unique_data_stored"]


def test_cat_json(zoo_repo: ZooRepo) -> None:
    k = zoo_repo.k
    config = k("cat", "config").json()
    assert config["version"] == 1 and config["chunker"]["min_size"] == 256 * 1024
    snap = k("cat", "snapshot", zoo_repo.snapshot).json()
    assert snap["id"] == zoo_repo.snapshot and snap["paths"] == [str(zoo_repo.zoo.root)]
    root = k("cat", "tree", snap["tree"]).json()
    assert [n["name"] for n in root] == ["tmp"]
    index = k("cat", "index").json()
    assert index and all(p["blobs"] > 0 for p in index)
    pack = k("cat", "pack", index[0]["pack"]).json()
    assert len(pack) == index[0]["blobs"]
    keys = k("cat", "keys").json()
    assert sorted(key["kind"] for key in keys) == ["passphrase", "recovery"]


# ---- forget and prune -------------------------------------------------------------------


def test_forget_prune_keeps_remaining_restorable(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "stable").write_bytes(os.urandom(3 * 1024 * 1024))
    states = []
    for i in range(4):
        (src / f"gen{i}").write_bytes(os.urandom(1024 * 1024 + i))
        if i:
            os.unlink(src / f"gen{i - 1}")
        sid = kaikyo.backup(src)["snapshot_id"]
        states.append((sid, scan(src)))
    doc = kaikyo("forget", "--json", "--keep-last", "2").json()
    assert set(doc["remove"]) == {states[0][0], states[1][0]}
    assert set(doc["keep"]) == {states[2][0], states[3][0]}
    size_before = sum(f.stat().st_size for f in kaikyo.repo.rglob("*") if f.is_file())
    pruned = kaikyo("prune", "--json").json()
    assert pruned["bytes_freed"] >= 2 * 1024 * 1024
    assert pruned["packs_deleted"] + pruned["packs_repacked"] > 0
    size_after = sum(f.stat().st_size for f in kaikyo.repo.rglob("*") if f.is_file())
    assert size_after < size_before - 1024 * 1024
    checked = kaikyo("check", "--read-data", "--json").json()
    assert checked["ok"] and checked["snapshots"] == 2 and checked["findings"] == []
    for sid, state in states[2:]:
        out = tmp_path / f"out-{sid[:8]}"
        kaikyo.restore(f"{sid}:{src}", out)
        assert_trees_equal(state, out)
    assert [s["id"] for s in kaikyo("snapshots", "--json").json()] == [s for s, _ in states[2:]]


def test_forget_by_id_and_prune_flag(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(os.urandom(200_000))
    first = kaikyo.backup(src)["snapshot_id"]
    (src / "a").write_bytes(os.urandom(200_000))
    second = kaikyo.backup(src)["snapshot_id"]
    kaikyo("forget", first[:8], "--prune")
    assert [s["id"] for s in kaikyo("snapshots", "--json").json()] == [second]
    kaikyo("check", "--read-data")
    out = tmp_path / "out"
    kaikyo.restore(f"latest:{src}", out)
    assert_trees_equal(src, out)


# ---- keys -------------------------------------------------------------------------------


def test_key_add_passwd_remove_and_recovery(kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("data")
    kaikyo.backup(src)
    added = kaikyo("key", "add", "--json", env={"KAIKYO_NEW_PASSWORD": "second pw"}).json()
    second = {"KAIKYO_PASSWORD": "second pw"}
    assert len(kaikyo("snapshots", "--json", env=second).json()) == 1
    keys = kaikyo("key", "list", "--json", env=second).json()
    assert [k["key_id"] for k in keys if k["current"]] == [added["added"]]

    changed = kaikyo(
        "key", "passwd", "--json", env={**second, "KAIKYO_NEW_PASSWORD": "third pw"}
    ).json()
    assert changed["removed"] == added["added"]
    assert kaikyo("snapshots", env=second, expect=12).code == 12
    third = {"KAIKYO_PASSWORD": "third pw"}
    assert len(kaikyo("snapshots", "--json", env=third).json()) == 1

    original = [k["key_id"] for k in kaikyo("key", "list", "--json").json() if k["current"]]
    kaikyo("key", "remove", original[0][:12], env=third)
    kaikyo("snapshots", expect=12)  # the original passphrase no longer opens it
    recovery = {"KAIKYO_PASSWORD": kaikyo.recovery_key}
    out = tmp_path / "out"
    kaikyo("restore", f"latest:{src}", "--target", out, env=recovery)
    assert (out / "f").read_text() == "data"
    kinds = sorted(k["kind"] for k in kaikyo("key", "list", "--json", env=third).json())
    assert kinds == ["passphrase", "recovery"]
    # The last passphrase key cannot be removed.
    last = [
        k["key_id"]
        for k in kaikyo("key", "list", "--json", env=recovery).json()
        if k["kind"] == "passphrase"
    ]
    run = kaikyo("key", "remove", last[0], env=recovery, expect=64)
    assert "last passphrase" in run.err


# ---- incomplete backups (exit 3) --------------------------------------------------------


def test_file_vanishing_between_scan_and_read(
    kaikyo: Kaikyo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kaikyo.snapshot.walk as walk_mod

    src = tmp_path / "src"
    src.mkdir()
    (src / "stays").write_bytes(b"stays" * 100)
    (src / "vanishes").write_bytes(b"gone" * 100)
    real = walk_mod.make_node

    def make_node_then_delete(
        name: bytes, path: bytes, st: os.stat_result, kind: str
    ) -> dict[str, object]:
        node = real(name, path, st, kind)
        if name == b"vanishes":
            os.unlink(path)  # stat'ed by the walk, gone before a worker opens it
        return node

    monkeypatch.setattr(walk_mod, "make_node", make_node_then_delete)
    run = kaikyo("backup", "--json", src, expect=3)
    doc = run.json()
    assert [e["path"] for e in doc["errors"]] == [f"{src}/vanishes"]
    assert "No such file" in doc["errors"][0]["error"]
    snap = kaikyo("cat", "snapshot", doc["snapshot_id"]).json()
    assert snap["errors"] == doc["errors"]
    listed = {e["path"] for e in kaikyo("ls", "--json", "latest", str(src)).json()}
    assert listed == {f"{src}/stays"}
    assert "could not be read" in run.err


def _unprivileged() -> list[str] | None:
    """A command prefix that runs as an unprivileged user, or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_unreadable_file_and_directory(tmp_path: Path) -> None:
    """chmod 000 does not stop root, so as root the backup runs as 'nobody' (setpriv)."""
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    # pytest's tmp dirs are private to root; nobody needs a world-traversable one.
    base = Path(tempfile.mkdtemp(prefix="kaikyo-unreadable-"))
    try:
        os.chmod(base, 0o777)
        src = base / "src"
        (src / "closed").mkdir(parents=True)
        (src / "ok").write_text("readable")
        (src / "secret").write_text("unreadable")
        (src / "closed" / "inner").write_text("hidden")
        os.chmod(src / "secret", 0)
        os.chmod(src / "closed", 0)
        for p in (src, base):
            os.chmod(p, 0o777)
        env = {
            "KAIKYO_REPOSITORY": str(base / "repo"),
            "KAIKYO_PASSWORD": PASSWORD,
            "KAIKYO_CACHE_DIR": str(base / "cache"),
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(base),
        }
        kaikyo = [*prefix, str(Path(sys.executable).parent / "kaikyo")]
        subprocess.run([*kaikyo, "init"], env=env, check=True, capture_output=True)
        proc = subprocess.run(
            [*kaikyo, "backup", "--json", str(src)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 3, proc.stderr
        errors = {e["path"]: e["error"] for e in json.loads(proc.stdout.splitlines()[-1])["errors"]}
        assert set(errors) == {f"{src}/secret", f"{src}/closed"}
        assert all("ermission denied" in e for e in errors.values())
        assert "Traceback" not in proc.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)
