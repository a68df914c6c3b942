"""kaikyo dump: a file's bytes, a directory as tar or zip, on stdout or into a file.

The archives are read back with the standard library and compared with the tree that was
backed up, entry by entry (names as bytes, type, mode, owner, mtime, content, link target,
device, xattrs, hard links); the tar is also extracted and compared as a restore is.
"""

from __future__ import annotations

import hashlib
import io
import os
import pty
import pwd
import select
import socket
import stat
import struct
import subprocess
import tarfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaikyo.testing.cli import KAIKYO
from kaikyo.testing.compare import Entry, compare_trees, scan
from kaikyo.testing.trees import JAPANESE_NAME, KOREAN_NAME, NON_UTF8_NAME, rand_bytes

from .conftest import Kaikyo, ZooRepo
from .test_errors import _data_pack, assert_error

MIB = 1024 * 1024


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _expected(root: Path) -> dict[bytes, Entry]:
    """The tree as an archive names it: relative, without the leading '/'."""
    return {rel[1:]: e for rel, e in scan(root).items() if rel}


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


def _pax_ns(member: tarfile.TarInfo) -> int:
    """The member's mtime in ns, exactly (pax writes decimal seconds; tarfile reads a float)."""
    text = member.pax_headers.get("mtime")
    if text is None:
        return int(member.mtime) * 1_000_000_000
    whole, _, frac = text.partition(".")
    return int(whole) * 1_000_000_000 + int(frac.ljust(9, "0"))


def _hardlink_group(entries: dict[bytes, Entry], rel: bytes) -> set[bytes]:
    st_ = entries[rel].st
    return {r for r, e in entries.items() if (e.st.st_dev, e.st.st_ino) == (st_.st_dev, st_.st_ino)}


def _read_tar(data: bytes) -> dict[bytes, tuple[tarfile.TarInfo, str]]:
    """Members by name (bytes), each with the sha256 of its content."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", errors="surrogateescape") as tf:
        for m in tf:
            fh = tf.extractfile(m) if m.isreg() else None
            out[os.fsencode(m.name)] = (m, _digest(fh.read()) if fh else "")
    return out


def _check_tar_member(
    rel: bytes, m: tarfile.TarInfo, digest: str, e: Entry, exp: dict[bytes, Entry]
) -> None:
    s = e.st
    where = rel.decode("utf-8", "backslashreplace")
    kinds = {
        stat.S_IFDIR: m.isdir,
        stat.S_IFLNK: m.issym,
        stat.S_IFIFO: m.isfifo,
        stat.S_IFCHR: m.ischr,
    }
    if stat.S_ISREG(s.st_mode) and m.islnk():  # a later name of a hard-linked file
        assert os.fsencode(m.linkname) in _hardlink_group(exp, rel) - {rel}, where
    elif stat.S_ISREG(s.st_mode):
        assert m.isreg() and m.size == s.st_size and digest == e.digest, where
    else:
        assert kinds[stat.S_IFMT(s.st_mode)](), where
    if stat.S_ISLNK(s.st_mode):
        assert os.fsencode(m.linkname) == e.target, where
    if stat.S_ISCHR(s.st_mode):
        assert os.makedev(m.devmajor, m.devminor) == s.st_rdev, where
    assert m.mode == stat.S_IMODE(s.st_mode), where
    assert (m.uid, m.gid, m.uname) == (s.st_uid, s.st_gid, _user(s.st_uid)), where
    assert _pax_ns(m) == s.st_mtime_ns, where
    xattrs = {
        k.removeprefix("SCHILY.xattr."): v.encode("utf-8", "surrogateescape")
        for k, v in m.pax_headers.items()
        if k.startswith("SCHILY.xattr.")
    }
    assert xattrs == e.xattrs, where


# ---- a file ---------------------------------------------------------------------------------


def test_file_bytes_are_the_original(zoo_repo: ZooRepo) -> None:
    zoo = zoo_repo.zoo
    assert zoo.files["random-big.bin"] > 4 * MIB  # above the chunker's maximum: several chunks
    names = (
        "random-big.bin",
        "empty",
        "one-byte",
        "chunk-min-plus-1",
        "zeros.bin",
        zoo.sparse,
        f"names/{JAPANESE_NAME}",
        f"names/{KOREAN_NAME}",
        "names/space and\nnewline",
        "hard/sub/c",
        "modes/setuid",
    )
    for name in names:
        run = zoo_repo.k.binary("dump", zoo_repo.snapshot, f"{zoo.root}/{name}")
        assert run.data == (zoo.root / name).read_bytes(), name
        assert run.err == ""
    odd = os.fsdecode(bytes(zoo.root) + b"/names/" + NON_UTF8_NAME)
    assert zoo_repo.k.binary("dump", "latest", odd).data == b"latin-1 name\n"
    # SNAPSHOT:SUBFOLDER PATH finds the same file.
    sub = zoo_repo.k.binary("dump", zoo_repo.ref("/names"), JAPANESE_NAME)
    assert sub.data == "こんにちは\n".encode()


def test_a_file_is_streamed_chunk_by_chunk(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    """The dump of a 32 MiB file into --target never holds more than a few chunks."""
    import random

    src = tmp_path / "src"
    src.mkdir()
    data = rand_bytes(random.Random(5), 32 * MIB)
    (src / "big").write_bytes(data)
    local_kaikyo.backup(src)
    out = tmp_path / "big.out"
    tracemalloc.start()
    try:
        local_kaikyo("dump", "latest", f"{src}/big", "--target", out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.read_bytes() == data
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB for a 32 MiB file"


# ---- a directory as tar -----------------------------------------------------------------


def test_tar_holds_the_tree_exactly(zoo_repo: ZooRepo) -> None:
    run = zoo_repo.k.binary("dump", zoo_repo.ref(), "/")
    assert len(run.data) % tarfile.RECORDSIZE == 0
    members = _read_tar(run.data)
    exp = _expected(zoo_repo.zoo.root)
    assert set(members) == set(exp)
    for rel, (m, digest) in members.items():
        _check_tar_member(rel, m, digest, exp[rel], exp)
    # Each directory is followed at once by what it holds, as tar(1) writes it (GNU tar sets
    # a directory's times when the archive leaves it: an entry after that would change them).
    order = list(members)
    for i, name in enumerate(order):
        below = [j for j, other in enumerate(order) if other.startswith(name + b"/")]
        assert below == list(range(i + 1, i + 1 + len(below))), name
    # The zoo has what the comparison is about, so the test cannot pass empty.
    assert NON_UTF8_NAME in {r.rsplit(b"/", 1)[-1] for r in members}
    assert sum(m.islnk() for m, _ in members.values()) == len(zoo_repo.zoo.hardlinks) - 1
    assert members[b"fifo"][0].isfifo()
    assert members[b"link-non-utf8"][0].issym()
    assert len(max(members, key=len)) > 400  # the deep directory: pax long names
    if zoo_repo.zoo.devices:
        assert members[b"null-dev"][0].ischr()
    if zoo_repo.zoo.xattrs:
        assert "SCHILY.xattr.user.kaikyo.test" in members[b"one-byte"][0].pax_headers
    if zoo_repo.zoo.owners:
        assert members[b"modes/owned"][0].uid == 12345
    assert run.err == ""


def test_tar_extracts_to_the_original(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    data = zoo_repo.k.binary("dump", zoo_repo.ref("/names"), "/").data
    out = tmp_path / "out"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", errors="surrogateescape") as tf:
        tf.extractall(out, filter="fully_trusted")
    # tarfile sets times from a float (sub-microsecond lost) and sets no xattrs.
    diffs = compare_trees(zoo_repo.zoo.root / "names", out, mtimes=False)
    assert diffs == []
    for rel, e in _expected(zoo_repo.zoo.root / "names").items():
        assert os.lstat(bytes(out) + b"/" + rel).st_mtime_ns // 10**6 == e.st.st_mtime_ns // 10**6


def test_tar_names_start_at_the_snapshot_root_or_the_subfolder(zoo_repo: ZooRepo) -> None:
    """As restic: ``dump SNAP /a/b`` names ``a/b/...``; ``dump SNAP:/a/b /`` names ``...``."""
    zoo = zoo_repo.zoo
    full = zoo_repo.k.binary("dump", zoo_repo.snapshot, f"{zoo.root}/hard").data
    top = os.fsencode(f"{zoo.root}/hard")[1:]
    assert sorted(_read_tar(full)) == [top + b"/a", top + b"/b", top + b"/sub", top + b"/sub/c"]
    sub = zoo_repo.k.binary("dump", zoo_repo.ref(), "hard").data
    assert sorted(_read_tar(sub)) == [b"hard/a", b"hard/b", b"hard/sub", b"hard/sub/c"]
    inside = zoo_repo.k.binary("dump", zoo_repo.ref("/hard"), "/").data
    assert sorted(_read_tar(inside)) == [b"a", b"b", b"sub", b"sub/c"]
    empty = zoo_repo.k.binary("dump", zoo_repo.ref("/empty-dir"), "/").data
    assert _read_tar(empty) == {} and len(empty) == tarfile.RECORDSIZE


# ---- a directory as zip -----------------------------------------------------------------


def _zip_name(zi: zipfile.ZipInfo) -> bytes:
    raw = zi.filename.encode("utf-8" if zi.flag_bits & 0x800 else "cp437")
    return raw.rstrip(b"/")


def _zip_extra(zi: zipfile.ZipInfo) -> dict[int, bytes]:
    fields, extra = {}, zi.extra
    while len(extra) >= 4:
        tag, size = struct.unpack("<HH", extra[:4])
        fields[tag] = extra[4 : 4 + size]
        extra = extra[4 + size :]
    return fields


def _dos(seconds: int) -> tuple[int, ...]:
    t = time.localtime(seconds)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec // 2 * 2)


def test_zip_holds_the_tree(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    run = zoo_repo.k.binary("dump", zoo_repo.ref(), "/", "--archive", "zip")
    exp = _expected(zoo_repo.zoo.root)
    with zipfile.ZipFile(io.BytesIO(run.data)) as zf:
        assert zf.testzip() is None
        members = {_zip_name(zi): zi for zi in zf.infolist()}
        kept = (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK)
        left_out = {r for r, e in exp.items() if stat.S_IFMT(e.st.st_mode) not in kept}
        assert set(members) == set(exp) - left_out
        for rel, zi in members.items():
            e, where = exp[rel], rel.decode("utf-8", "backslashreplace")
            assert zi.external_attr >> 16 == e.st.st_mode, where
            if stat.S_ISREG(e.st.st_mode):  # hard links too: each name holds the content
                assert _digest(zf.read(zi)) == e.digest, where
            elif stat.S_ISLNK(e.st.st_mode):
                assert zf.read(zi) == e.target, where
            seconds = e.st.st_mtime_ns // 10**9
            assert zi.date_time == _dos(seconds), where
            extra = _zip_extra(zi)
            assert struct.unpack("<Bi", extra[0x5455]) == (1, seconds), where
            assert struct.unpack("<BBIBI", extra[0x7875])[2::2] == (e.st.st_uid, e.st.st_gid)
        zf.extractall(tmp_path / "out")
    assert (tmp_path / "out" / "names" / JAPANESE_NAME).read_text() == "こんにちは\n"
    assert b"names/" + NON_UTF8_NAME in members  # raw bytes, not flagged as UTF-8
    assert b"fifo" in left_out and "fifo: a zip cannot hold a fifo; left out" in run.err
    if zoo_repo.zoo.devices:
        assert "null-dev: a zip cannot hold a chardev; left out" in run.err


def test_archives_stream_to_a_pipe(zoo_repo: ZooRepo) -> None:
    """A real process writing to a pipe (not seekable) gives the same bytes: zip members
    carry data descriptors, and unzip-style readers take them."""
    env = {**os.environ, **zoo_repo.k.env}
    for fmt in ("zip", "tar"):
        argv = ["dump", zoo_repo.ref("/names"), "/", "--archive", fmt]
        proc = subprocess.run([*KAIKYO, *argv], env=env, capture_output=True, check=True)
        assert proc.stdout == zoo_repo.k.binary(*argv).data, fmt
        if fmt == "zip":
            with zipfile.ZipFile(io.BytesIO(proc.stdout)) as zf:
                assert zf.testzip() is None
                assert all(zi.flag_bits & 0x08 for zi in zf.infolist() if not zi.is_dir())


# ---- --target, --json --------------------------------------------------------------------


def test_target_file_and_json_summary(zoo_repo: ZooRepo, tmp_path: Path) -> None:
    target = tmp_path / "names.tar"
    doc = zoo_repo.k("dump", zoo_repo.ref("/names"), "/", "--target", target, "--json").json()
    data = target.read_bytes()
    assert data == zoo_repo.k.binary("dump", zoo_repo.ref("/names"), "/").data
    assert doc["path"] == f"{zoo_repo.zoo.root}/names"
    entries = len(_expected(zoo_repo.zoo.root / "names"))
    assert doc["bytes"] == len(data) and doc["entries"] == len(_read_tar(data)) == entries == 7
    assert doc["format"] == "tar" and doc["snapshot_id"] == zoo_repo.snapshot
    assert os.listdir(tmp_path) == ["names.tar"]  # no temporary file left
    single = tmp_path / "one"
    run = zoo_repo.k("dump", zoo_repo.snapshot, f"{zoo_repo.zoo.root}/one-byte", "-t", single)
    assert single.read_bytes() == (zoo_repo.zoo.root / "one-byte").read_bytes()
    assert "dumped" in run.out and "one-byte" in run.out


def test_target_is_not_written_when_the_dump_fails(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big").write_bytes(os.urandom(3 * MIB))
    local_kaikyo.backup(src)
    pack, offset = _data_pack(local_kaikyo)
    raw = bytearray(pack.read_bytes())
    raw[offset + 100] ^= 0x01
    pack.write_bytes(bytes(raw))
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.tar").write_bytes(b"what was there")
    for argv in (("/",), ("big",)):
        run = local_kaikyo("dump", f"latest:{src}", *argv, "-t", out / "kept.tar", expect=None)
        assert_error(run, 15, "does not authenticate")
        run = local_kaikyo("dump", f"latest:{src}", *argv, "-t", out / "new.tar", expect=None)
        assert_error(run, 15)
        assert os.listdir(out) == ["kept.tar"]
        assert (out / "kept.tar").read_bytes() == b"what was there"


def test_latest_by_host_and_tag(local_kaikyo: Kaikyo, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    f = src / "f"
    for host, tag in (("alpha", "nightly"), ("beta", "nightly"), ("alpha", "weekly")):
        f.write_text(f"{host} {tag}\n")
        local_kaikyo("backup", src, "--host", host, "--tag", tag)
    k = local_kaikyo
    assert k.binary("dump", "latest", f).data == b"alpha weekly\n"
    assert k.binary("dump", "latest", f, "--tag", "nightly").data == b"beta nightly\n"
    assert k.binary("dump", "latest", f, "--host", "alpha", "--tag", "nightly").data == (
        b"alpha nightly\n"
    )
    run = k.binary("dump", "latest", f, "--host", "gamma", expect=None)
    assert_error(run, 21, "no snapshot matches")


# ---- errors ---------------------------------------------------------------------------------


@pytest.fixture
def odd_tree(local_kaikyo: Kaikyo, tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "dir").mkdir(parents=True)
    (src / "dir" / "file").write_text("x\n")
    os.symlink("dir/file", src / "link")
    os.mkfifo(src / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(src / "dir" / "sock"))
        local_kaikyo.backup(src)
    return src


def test_errors(local_kaikyo: Kaikyo, odd_tree: Path, tmp_path: Path) -> None:
    k, src = local_kaikyo, odd_tree
    sid = k("snapshots", "--json").json()[0]["id"]
    missing = "0123456789" if not sid.startswith("0123") else "fedcba9876"
    cases: list[tuple[tuple[str | os.PathLike[str], ...], int, str]] = [
        (("latest", f"{src}/nope"), 21, f"path {src}/nope is not in the snapshot"),
        (("latest", f"{src}/dir/file/below"), 21, "is not in the snapshot"),
        ((f"latest:{src}/nope", "/"), 21, "is not in the snapshot"),
        ((missing, f"{src}/dir/file"), 21, "no snapshot matches"),
        (("latest", f"{src}/dir", "--archive", "rar"), 64, "invalid choice: 'rar'"),
        (("latest", f"{src}/link"), 64, f"{src}/link is a symlink, not a file or a directory"),
        (("latest", f"{src}/fifo"), 64, "is a fifo"),
        (("latest", f"{src}/dir/sock"), 64, "is a socket"),
        (("latest", f"{src}/dir", "--json"), 64, "--json needs --target"),
        (("latest", f"{src}/dir", "--target", tmp_path), 64, "is a directory"),
        ((":/x", "/"), 64, "no snapshot given"),
    ]
    for argv, code, needle in cases:
        run = k.binary("dump", *argv, expect=None)
        assert_error(run, code, needle)
        assert run.data == b"", argv
    run = k("dump", "latest", f"{src}/dir", "-t", tmp_path / "no" / "such" / "x", expect=None)
    assert_error(run, 21, "does not exist")


def test_a_socket_is_left_out_of_a_tar(local_kaikyo: Kaikyo, odd_tree: Path) -> None:
    run = local_kaikyo.binary("dump", f"latest:{odd_tree}", "/dir")
    assert sorted(_read_tar(run.data)) == [b"dir/file"]
    assert run.err == "kaikyo: warning: dir/sock: a socket cannot be archived; left out\n"


def _on_a_terminal(k: Kaikyo, *argv: str) -> tuple[int, str]:
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [*KAIKYO, "dump", *argv],
            env={**os.environ, **k.env},
            stdout=secondary,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
        )
        while select.select([primary], [], [], 0.1)[0]:  # what reached the terminal
            if not os.read(primary, 65536):
                break
    finally:
        os.close(secondary)
        os.close(primary)
    return proc.returncode, proc.stderr


def test_a_directory_is_not_dumped_to_a_terminal(local_kaikyo: Kaikyo, odd_tree: Path) -> None:
    code, err = _on_a_terminal(local_kaikyo, "latest", f"{odd_tree}/dir")
    assert code == 64 and err.startswith("kaikyo: error: stdout is a terminal"), err
    assert _on_a_terminal(local_kaikyo, "latest", f"{odd_tree}/dir/file") == (0, "")


# ---- property: any names, any bytes -----------------------------------------------------

_NAME = st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    files=st.dictionaries(
        _NAME.filter(lambda b: b not in (b".", b"..", b"sub")), st.binary(max_size=3000), max_size=6
    )
)
def test_tar_round_trips_any_names_and_bytes(
    local_kaikyo: Kaikyo, tmp_path_factory: pytest.TempPathFactory, files: dict[bytes, bytes]
) -> None:
    src = tmp_path_factory.mktemp("prop")
    for name, data in files.items():
        with open(bytes(src) + b"/" + name, "wb") as fh:
            fh.write(data)
    os.mkdir(bytes(src) + b"/sub")
    sid = local_kaikyo.backup(src)["snapshot_id"]
    members = _read_tar(local_kaikyo.binary("dump", f"{sid}:{src}", "/").data)
    assert {n: d for n, (_, d) in members.items() if n != b"sub"} == {
        n: _digest(d) for n, d in files.items()
    }
