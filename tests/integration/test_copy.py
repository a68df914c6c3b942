"""kaikyo copy as a user runs it: another repository's snapshots into this one (restic's copy).

The source is a local repository with its own passphrase; the destination is local and, for
the round trip, a repository at a real ``kaikyo serve``. The keys differ, so every blob has
another id in the destination: a restore from it proves the trees were rewritten right.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaikyo.core.constants import BLOB_DATA, BLOB_TREE
from kaikyo.repo import Repository
from kaikyo.store.local import LocalStore
from kaikyo.testing.compare import assert_trees_equal
from kaikyo.testing.trees import JAPANESE_NAME, Zoo, build_zoo

from .conftest import PASSWORD, TENANT, Haven, Kaikyo
from .test_errors import _data_pack, assert_error

SOURCE_PASSWORD = "源のパスフレーズ"


def source_env(src: Kaikyo) -> dict[str, str]:
    return {"KAIKYO_FROM_REPOSITORY": str(src.repo), "KAIKYO_FROM_PASSWORD": SOURCE_PASSWORD}


def lines(out: str) -> list[dict[str, Any]]:
    """The --json output: one JSON object a line."""
    return [json.loads(ln) for ln in out.splitlines() if ln.strip()]


def copy(dst: Kaikyo, src: Kaikyo, *argv: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run ``copy --json``; the snapshot lines and the summary."""
    out = lines(dst("copy", "--json", *argv, env=source_env(src)).out)
    assert out[-1]["message_type"] == "summary"
    assert out[-2]["message_type"] == "status", "a last status line before the summary"
    assert {o["message_type"] for o in out[:-1]} <= {"snapshot", "status"}
    return [o for o in out[:-1] if o["message_type"] == "snapshot"], out[-1]


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def zoo_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kaikyo, Zoo, str]]:
    """A local repository with one snapshot of the metadata zoo (Japanese, Korean and
    non-UTF-8 names, multi-chunk and sparse files, symlinks, hard links, deep nesting)."""
    base = tmp_path_factory.mktemp("copy-source")
    zoo = build_zoo(base / "zoo")
    src = Kaikyo(base / "repo", base / "cache", password=SOURCE_PASSWORD).init()
    yield src, zoo, src.backup(zoo.root)["snapshot_id"]


def test_copy_restores_byte_exact_and_a_second_copy_copies_nothing(
    zoo_source: tuple[Kaikyo, Zoo, str], kaikyo: Kaikyo, tmp_path: Path
) -> None:
    src, zoo, source_id = zoo_source
    before = listing(src.repo)
    [line], summary = copy(kaikyo, src)
    assert line["action"] == "copied" and line["source"] == source_id
    assert line["paths"] == [str(zoo.root)]
    assert summary["snapshots_copied"] == 1 and summary["snapshots_skipped"] == 0
    assert summary["bytes_sent"] > 6 * 1024 * 1024  # the zoo's random data went over
    assert listing(src.repo) == before  # the source was only read (its lock is gone)

    [snap] = kaikyo("snapshots", "--json").json()
    assert snap["id"] == line["snapshot"] != source_id
    assert snap["original"] == source_id
    assert snap["copied_from"]["snapshot"] == source_id
    [orig] = src("snapshots", "--json").json()
    assert snap["tree"] != orig["tree"]  # another key: another id for the same tree
    for key in ("time", "hostname", "username", "paths", "tags", "summary"):
        assert snap[key] == orig[key], key

    out = tmp_path / "out"
    kaikyo.restore(f"latest:{zoo.root}", out)
    assert_trees_equal(zoo.root, out)
    assert (out / "names" / JAPANESE_NAME).read_text() == "こんにちは\n"
    assert os.readlink(out / "link-to-file") == "one-byte"
    doc = kaikyo("check", "--read-data", "--json").json()
    assert doc["ok"] and doc["findings"] == [], doc["findings"]

    # Again: the copy is recognised, nothing is read or sent, and the output says so.
    [again], summary = copy(kaikyo, src)
    assert again["action"] == "skipped" and again["snapshot"] == snap["id"]
    assert summary["snapshots_copied"] == 0 and summary["snapshots_skipped"] == 1
    assert summary["blobs_sent"] == summary["bytes_sent"] == summary["bytes_read"] == 0
    human = kaikyo("copy", env=source_env(src)).out
    assert f"skipped {source_id[:8]}" in human and f"already copied as {snap['id'][:8]}" in human
    assert "copied 0 snapshot(s), skipped 1" in human
    assert len(kaikyo("snapshots", "--json").json()) == 1


def blob_counts(k: Kaikyo) -> tuple[int, int]:
    """How many data blobs and trees a local repository's index lists."""
    repo = Repository.open(LocalStore(k.repo), PASSWORD)
    repo.load_index()
    types = [e.blob_type for _, e in repo.index.entries()]
    return types.count(BLOB_DATA), types.count(BLOB_TREE)


def test_copy_of_data_the_destination_holds_sends_no_data(
    tmp_path: Path, local_kaikyo: Kaikyo
) -> None:
    """The same tree backed up into both (each with its own key), then copied: the chunks
    and the trees are found in the destination under their new ids. At most the trees above
    the backed-up directory are new: /tmp's mtime, in the root tree, changes as any process
    makes a file there."""
    data = tmp_path / "data"
    (data / "日本語").mkdir(parents=True)
    (data / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (data / "日本語" / "メモ.txt").write_text("同じ内容\n")
    os.symlink("big.bin", data / "link")
    src = Kaikyo(tmp_path / "src", tmp_path / "src-cache", password=SOURCE_PASSWORD).init()
    for k in (src, local_kaikyo):
        k("snapshots")  # makes its cache directory: tmp_path (in the upper trees) stays as is
    src.backup(data)
    local_kaikyo.backup(data)
    chunks, trees = blob_counts(local_kaikyo)

    [line], summary = copy(local_kaikyo, src)
    assert line["action"] == "copied"
    assert summary["bytes_read"] > 3 * 1024 * 1024
    above = len(data.parts) - 1  # the trees of /, /tmp, ... that name the directory
    assert blob_counts(local_kaikyo) == (chunks, trees + summary["blobs_sent"])
    assert summary["blobs_sent"] <= above and summary["bytes_sent"] < above * 1024
    assert summary["bytes_deduplicated"] > 3 * 1024 * 1024
    out = tmp_path / "out"
    local_kaikyo.restore(line["snapshot"], out)
    assert_trees_equal(data, out / str(data).lstrip("/"))


def test_a_later_copy_reads_only_what_changed_since_the_last(
    tmp_path: Path, kaikyo: Kaikyo
) -> None:
    """The daily case: the second copy walks the first one beside the new snapshot, so it
    reads the changed directory and the new file, not the whole tree again. Once the
    earlier source snapshot is forgotten and pruned, a copy still works."""
    data = tmp_path / "data"
    for d in range(4):
        (data / f"d{d}").mkdir(parents=True)
        for f in range(5):
            (data / f"d{d}" / f"f{f}").write_bytes(os.urandom(100_000))
    src = Kaikyo(tmp_path / "src", tmp_path / "src-cache", password=SOURCE_PASSWORD).init()
    first = src.backup(data)["snapshot_id"]
    [_], whole = copy(kaikyo, src)
    assert whole["bytes_read"] > 2_000_000
    (data / "d2" / "f0").write_bytes(os.urandom(100_000))
    (data / "d2" / "新しい").write_bytes(os.urandom(50_000))
    second = src.backup(data)["snapshot_id"]
    [skipped, line], summary = copy(kaikyo, src)
    assert (skipped["action"], line["action"], line["source"]) == ("skipped", "copied", second)
    assert 150_000 <= summary["bytes_read"] < 200_000  # two new files and a few trees
    out = tmp_path / "out"
    kaikyo.restore(line["snapshot"], out)
    assert_trees_equal(data, out / str(data).lstrip("/"))

    # The earlier copy the next one walks is of ``second``: gone from the source now (its
    # root tree too, unless prune kept the pack holding it). Either way, a whole copy.
    src("forget", second, "--prune")
    (data / "d3" / "f4").write_bytes(os.urandom(100_000))
    third = src.backup(data)["snapshot_id"]
    lines_, _ = copy(kaikyo, src)
    assert [(x["source"], x["action"]) for x in lines_] == [(first, "skipped"), (third, "copied")]
    shutil.rmtree(out)
    kaikyo.restore("latest", out)
    assert_trees_equal(data, out / str(data).lstrip("/"))
    assert kaikyo("check", "--read-data", "--json").json()["ok"]


def test_copy_selects_by_id_latest_host_tag_and_path(tmp_path: Path, local_kaikyo: Kaikyo) -> None:
    src = Kaikyo(tmp_path / "src", tmp_path / "src-cache", password=SOURCE_PASSWORD).init()
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "f").write_bytes(os.urandom(5000))
    alpha = src("backup", "--json", "--host", "alpha", a).json()["snapshot_id"]
    beta = src("backup", "--json", "--host", "beta", "--tag", "db", b).json()["snapshot_id"]
    both = src("backup", "--json", "--host", "alpha", "--tag", "db", a, b).json()["snapshot_id"]

    assert [s["source"] for s in copy(local_kaikyo, src, "--host", "nobody")[0]] == []
    got = copy(local_kaikyo, src, "--path", str(b), "--host", "alpha")[0]
    assert [s["source"] for s in got] == [both]  # --path: the snapshot includes it
    got = copy(local_kaikyo, src, "latest", "--tag", "db", "--host", "beta")[0]
    assert [(s["source"], s["action"]) for s in got] == [(beta, "copied")]
    # Named twice (a prefix and the id), plus one copied already: one copy, one skip.
    got = copy(local_kaikyo, src, alpha[:10], alpha, beta)[0]
    assert [(s["source"], s["action"]) for s in got] == [(alpha, "copied"), (beta, "skipped")]
    copied = {s["copied_from"]["snapshot"] for s in local_kaikyo("snapshots", "--json").json()}
    assert copied == {alpha, beta, both}
    # The destination's filters see the copies as the source's snapshots.
    [on_beta] = local_kaikyo("snapshots", "--json", "--host", "beta").json()
    assert on_beta["original"] == beta


def test_retagging_the_copy_keeps_it_a_copy_retagging_the_source_does_not(
    tmp_path: Path, local_kaikyo: Kaikyo
) -> None:
    src = Kaikyo(tmp_path / "src", tmp_path / "src-cache", password=SOURCE_PASSWORD).init()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(os.urandom(3000))
    sid = src.backup(tmp_path / "d")["snapshot_id"]
    [line], _ = copy(local_kaikyo, src)
    local_kaikyo("tag", line["snapshot"], "--add", "保管")
    [again], _ = copy(local_kaikyo, src)
    assert again["action"] == "skipped"  # copied_from names the source manifest
    # Retagged in the source: another manifest, other tags, so another snapshot (restic's
    # rule), copied again; its trees are the copy's already: nothing is read but the root.
    [change] = src("tag", sid, "--add", "月次", "--json").json()
    [third], summary = copy(local_kaikyo, src)
    assert (third["source"], third["action"]) == (change["new"], "copied")
    assert summary["blobs_read"] == summary["blobs_sent"] == 0
    originals = {s["original"] for s in local_kaikyo("snapshots", "--json").json()}
    assert originals == {sid}


def test_copy_takes_source_settings_from_flags_and_files(
    tmp_path: Path, local_kaikyo: Kaikyo
) -> None:
    src = Kaikyo(tmp_path / "src", tmp_path / "src-cache", password=SOURCE_PASSWORD).init()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    sid = src.backup(tmp_path / "d")["snapshot_id"]
    pw = tmp_path / "source-pass"
    pw.write_text(SOURCE_PASSWORD + "\n")
    run = local_kaikyo("copy", "--from-repo", src.repo, "--from-password-file", pw, "--json")
    assert lines(run.out)[0]["source"] == sid
    env = {"KAIKYO_FROM_REPOSITORY": str(src.repo), "KAIKYO_FROM_PASSWORD_FILE": str(pw)}
    run = local_kaikyo("copy", "--json", env=env)
    assert lines(run.out)[0]["action"] == "skipped"
    env = {"KAIKYO_FROM_REPOSITORY": str(src.repo)}
    run = local_kaikyo("copy", "--json", "--from-password-command", f"cat {pw}", env=env)
    assert lines(run.out)[0]["action"] == "skipped"
    both = {**env, "KAIKYO_FROM_PASSWORD_COMMAND": f"cat {pw}"}
    run = local_kaikyo("copy", "--json", "--from-password-file", pw, env=both)
    assert lines(run.out)[0]["action"] == "skipped"  # a flag outranks the other's variable
    both["KAIKYO_FROM_PASSWORD_FILE"] = str(pw)
    run = local_kaikyo("copy", env=both, expect=None)
    assert_error(run, 64, "both given", "--from-password-file / KAIKYO_FROM_PASSWORD_FILE")


def test_copy_from_a_haven_with_a_restore_token(
    haven: Haven, tmp_path: Path, local_kaikyo: Kaikyo
) -> None:
    """The source at a haven, read with a token that may only read (and lock): the token
    comes from KAIKYO_FROM_TOKEN or --from-token-file, never from the destination's."""
    src = haven.new(tmp_path / "haven-cache")
    src.env["KAIKYO_PASSWORD"] = SOURCE_PASSWORD
    src.init()
    data = tmp_path / "data"
    data.mkdir()
    (data / "한국어.bin").write_bytes(os.urandom(600_000))
    sid = src.backup(data)["snapshot_id"]
    reader = haven.proc.token(TENANT, "restore")
    env = {
        "KAIKYO_FROM_REPOSITORY": src.env["KAIKYO_REPOSITORY"],
        "KAIKYO_FROM_PASSWORD": SOURCE_PASSWORD,
    }
    refused = local_kaikyo("copy", env=env, expect=None)
    assert_error(refused, 20, "token")  # no token for the source: the haven refuses
    token_file = tmp_path / "token"
    token_file.write_text(reader + "\n")
    run = local_kaikyo("copy", "--json", "--from-token-file", token_file, env=env)
    assert lines(run.out)[0]["source"] == sid
    out = tmp_path / "out"
    local_kaikyo.restore("latest", out)
    assert_trees_equal(data, out / str(data).lstrip("/"))
    again = local_kaikyo("copy", "--json", env={**env, "KAIKYO_FROM_TOKEN": reader})
    assert lines(again.out)[0]["action"] == "skipped"


def test_copy_into_a_haven_with_a_backup_token(
    zoo_source: tuple[Kaikyo, Zoo, str], haven: Haven, tmp_path: Path
) -> None:
    """The customer site's repository to the haven with the append-only token a backup
    uses: a copy only adds objects (and its lock), so the token suffices."""
    src, zoo, source_id = zoo_source
    dst = haven.new(tmp_path / "cache").init()
    dst.env["KAIKYO_TOKEN"] = haven.proc.token(TENANT, "backup")
    [line], _ = copy(dst, src, "latest")
    assert line["source"] == source_id and line["action"] == "copied"
    [again], _ = copy(dst, src)
    assert again["action"] == "skipped"
    out = tmp_path / "out"
    dst.restore(f"latest:{zoo.root}/names", out)
    assert_trees_equal(zoo.root / "names", out)


# ---- errors ---------------------------------------------------------------------------


@pytest.fixture
def pair(tmp_path: Path, local_kaikyo: Kaikyo) -> tuple[Kaikyo, Kaikyo]:
    src = Kaikyo(tmp_path / "src", tmp_path / "src-cache", password=SOURCE_PASSWORD).init()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    src.backup(tmp_path / "d")
    return src, local_kaikyo


def _untouched(dst: Kaikyo) -> None:
    assert dst("snapshots", "--json").json() == []
    assert listing(dst.repo / "data") == [] and listing(dst.repo / "locks") == []


def test_copy_without_a_source_is_a_usage_error(pair: tuple[Kaikyo, Kaikyo]) -> None:
    _, dst = pair
    assert_error(dst("copy", expect=None), 64, "no source repository given", "--from-repo")
    _untouched(dst)


def test_copy_with_the_wrong_source_passphrase(pair: tuple[Kaikyo, Kaikyo]) -> None:
    src, dst = pair
    env = {**source_env(src), "KAIKYO_FROM_PASSWORD": "wrong"}
    run = dst("copy", env=env, expect=None)
    assert_error(run, 12, "source repository: wrong passphrase", "KAIKYO_FROM_PASSWORD")
    # The destination's passphrase is not tried for the source: it has its own.
    env = {"KAIKYO_FROM_REPOSITORY": str(src.repo)}
    assert_error(dst("copy", env=env, expect=None), 64, "no passphrase of the source")
    _untouched(dst)


def test_copy_of_an_unknown_snapshot(pair: tuple[Kaikyo, Kaikyo]) -> None:
    src, dst = pair
    run = dst("copy", "0123abcd", env=source_env(src), expect=None)
    assert_error(run, 21, "source repository: no snapshot matches '0123abcd'")
    run = dst("copy", "latest", "--host", "nobody", env=source_env(src), expect=None)
    assert_error(run, 21, "source repository")
    _untouched(dst)


def test_copy_of_a_missing_source_repository(pair: tuple[Kaikyo, Kaikyo], tmp_path: Path) -> None:
    _, dst = pair
    env = {"KAIKYO_FROM_REPOSITORY": str(tmp_path / "nowhere"), "KAIKYO_FROM_PASSWORD": "x"}
    assert_error(dst("copy", env=env, expect=None), 10, "source repository: no repository")
    _untouched(dst)


def test_copy_of_a_damaged_source_stops_and_names_it(pair: tuple[Kaikyo, Kaikyo]) -> None:
    """A blob of the source that does not authenticate: exit 15, the source named; the
    snapshots copied before it stay, the damaged one gets no manifest (what was stored of it
    is adopted by the next writer), and the destination checks clean."""
    src, dst = pair
    [intact] = src("snapshots", "--json").json()
    data = src.repo.parent / "d"
    (data / "big").write_bytes(os.urandom(1_000_000))
    src.backup(data)
    pack, offset = _data_pack(src)
    raw = bytearray(pack.read_bytes())
    raw[offset + 100] ^= 0x01
    pack.write_bytes(bytes(raw))
    run = dst("copy", env=source_env(src), expect=None)
    assert_error(run, 15, f"repository {src.repo}:", "does not authenticate")
    [copied] = dst("snapshots", "--json").json()
    assert copied["copied_from"]["snapshot"] == intact["id"]
    assert listing(dst.repo / "locks") == []
    assert dst("check", "--json").json()["ok"]


def test_copy_into_the_source_itself(pair: tuple[Kaikyo, Kaikyo], tmp_path: Path) -> None:
    src, dst = pair
    env = {"KAIKYO_PASSWORD": SOURCE_PASSWORD, "KAIKYO_REPOSITORY": str(src.repo)}
    same = {**source_env(src), **env, "KAIKYO_FROM_REPOSITORY": f"{src.repo}/../src/"}
    assert_error(src("copy", env=same, expect=None), 64, "the same repository")
    # A copy of the directory is the same repository too (its id): refused, nothing written.
    twin = tmp_path / "twin"
    shutil.copytree(src.repo, twin)
    run = src("copy", env={**same, "KAIKYO_FROM_REPOSITORY": str(twin)}, expect=None)
    assert_error(run, 64, "the same repository (id")
    assert len(src("snapshots", "--json").json()) == 1
    assert listing(src.repo / "locks") == []
