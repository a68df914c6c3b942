"""Builders for test directory trees: the "metadata zoo" and bulk mixed data.

The zoo holds one of everything a backup must preserve: file sizes around the chunker's
minimum, multi-chunk and compressible data, a sparse file, symlinks (dangling, non-UTF-8
target), hardlinks, a fifo, a character device (root only), extended attributes (where the
filesystem supports them), setuid/setgid/sticky modes, nanosecond mtimes, non-UTF-8, Japanese
and Korean names, deep nesting and an empty directory. :class:`Zoo` says what could be made,
so tests can assert on exactly that.
"""

from __future__ import annotations

import errno
import os
import random
import stat
from dataclasses import dataclass, field
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
CHUNK_MIN = 256 * KIB  # the default chunker's minimum chunk size

NON_UTF8_NAME = b"caf\xe9-\xff\xfe.bin"  # latin-1 bytes: not valid UTF-8
NON_UTF8_TARGET = b"../\xff\xfe-nowhere"
JAPANESE_NAME = "日本語.txt"
KOREAN_NAME = "한국어.txt"
BASE_MTIME_NS = 1_600_000_000_123_456_789


@dataclass
class Zoo:
    """What :func:`build_zoo` made under ``root`` (paths relative to it)."""

    root: Path
    files: dict[str, int] = field(default_factory=dict)  # relative path -> size
    xattrs: bool = False
    devices: bool = False
    owners: bool = False
    sparse: str = "sparse.img"
    hardlinks: tuple[str, ...] = ()
    deep: str = ""


def rand_bytes(rng: random.Random, n: int) -> bytes:
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def _write(path: Path | bytes, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def try_setxattr(path: Path | bytes, name: str, value: bytes, follow: bool = True) -> bool:
    """Set an xattr; False when the filesystem (or the file type) does not support it."""
    try:
        os.setxattr(path, name, value, follow_symlinks=follow)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES):
            return False
        raise
    return True


def _regular_files(root: Path, rng: random.Random, big: int, zoo: Zoo) -> None:
    sizes = {
        "empty": 0,
        "one-byte": 1,
        "chunk-min-minus-1": CHUNK_MIN - 1,
        "chunk-min": CHUNK_MIN,
        "chunk-min-plus-1": CHUNK_MIN + 1,
        "random-big.bin": big,
    }
    for name, size in sizes.items():
        _write(root / name, rand_bytes(rng, size))
        zoo.files[name] = size
    text = b"".join(b"line %08d of a highly compressible text file\n" % i for i in range(60_000))
    _write(root / "compressible.txt", text)
    zoo.files["compressible.txt"] = len(text)
    zeros = bytes(3 * MIB)
    _write(root / "zeros.bin", zeros)  # all-zero but not sparse on disk
    zoo.files["zeros.bin"] = len(zeros)


def _sparse(root: Path, rng: random.Random) -> None:
    path = root / "sparse.img"
    size = 16 * MIB
    with open(path, "wb") as fh:
        for off in (0, 7 * MIB, size - 4 * KIB):
            fh.seek(off)
            fh.write(rand_bytes(rng, 4 * KIB))
        fh.truncate(size)


def _links(root: Path, rng: random.Random, zoo: Zoo) -> None:
    os.symlink("one-byte", root / "link-to-file")
    os.symlink("does/not/exist", root / "link-dangling")
    os.symlink(NON_UTF8_TARGET, bytes(root / "link-non-utf8"))
    os.symlink("names", root / "link-to-dir")
    (root / "hard").mkdir()
    (root / "hard" / "sub").mkdir()
    _write(root / "hard" / "a", rand_bytes(rng, 100 * KIB))
    os.link(root / "hard" / "a", root / "hard" / "b")
    os.link(root / "hard" / "a", root / "hard" / "sub" / "c")
    zoo.hardlinks = ("hard/a", "hard/b", "hard/sub/c")


def _names(root: Path, rng: random.Random) -> None:
    names = root / "names"
    names.mkdir()
    _write(bytes(names) + b"/" + NON_UTF8_NAME, b"latin-1 name\n")
    os.mkdir(bytes(names) + b"/dir-\xe9\xe8")
    _write(bytes(names) + b"/dir-\xe9\xe8/inside", b"x")
    _write(names / JAPANESE_NAME, "こんにちは\n".encode())
    _write(names / KOREAN_NAME, "안녕하세요\n".encode())
    _write(names / "space and\nnewline", b"odd name\n")
    _write(names / "-dash", rand_bytes(rng, 10))


def _special(root: Path, zoo: Zoo) -> None:
    os.mkfifo(root / "fifo")
    if os.geteuid() == 0:
        os.mknod(root / "null-dev", stat.S_IFCHR | 0o644, os.makedev(1, 3))
        zoo.devices = True


def _modes(root: Path, zoo: Zoo) -> None:
    modes = root / "modes"
    modes.mkdir()
    for name, mode in (
        ("setuid", 0o4755),
        ("setgid", 0o2750),
        ("readonly", 0o444),
        ("private", 0o600),
        ("exec", 0o711),
    ):
        _write(modes / name, name.encode())
        os.chmod(modes / name, mode)
    (modes / "sticky").mkdir()
    os.chmod(modes / "sticky", 0o1777)
    (modes / "closed-dir").mkdir()
    _write(modes / "closed-dir" / "inside", b"in a 0700 dir")
    os.chmod(modes / "closed-dir", 0o700)
    if os.geteuid() == 0:
        _write(modes / "owned", b"owned by someone else")
        os.chown(modes / "owned", 12345, 54321)
        os.symlink("owned", modes / "owned-link")
        os.chown(modes / "owned-link", 23456, 65432, follow_symlinks=False)
        _write(modes / "no-perms", b"mode 000")
        os.chmod(modes / "no-perms", 0)
        zoo.owners = True


def _xattrs(root: Path, zoo: Zoo) -> None:
    ok = try_setxattr(root / "one-byte", "user.kaikyo.test", b"value\x00\xff binary")
    if ok:
        try_setxattr(root / "one-byte", "user.empty", b"")
        try_setxattr(root / "names", "user.dir", "日本語".encode())
        try_setxattr(root / "chunk-min", "user.big", bytes(range(256)) * 8)
    zoo.xattrs = ok


def _deep(root: Path, depth: int, zoo: Zoo) -> None:
    rel = "/".join(["d"] * depth)
    path = root / rel
    path.mkdir(parents=True)
    _write(path / "bottom.txt", b"at the bottom\n")
    zoo.deep = rel + "/bottom.txt"


def set_mtimes(root: Path, base_ns: int = BASE_MTIME_NS) -> None:
    """Give every entry a distinct nanosecond mtime, directories last (deepest first)."""
    entries: list[bytes] = []
    for dirpath, dirnames, filenames in os.walk(bytes(root)):
        entries += [os.path.join(dirpath, n) for n in filenames]
        entries += [
            os.path.join(dirpath, n) for n in dirnames if os.path.islink(os.path.join(dirpath, n))
        ]
    dirs = [d for d, _, _ in os.walk(bytes(root))]
    for i, path in enumerate(sorted(entries)):
        t = base_ns + i * 1_000_003_007
        os.utime(path, ns=(t, t), follow_symlinks=False)
    for i, path in enumerate(sorted(dirs, key=lambda d: d.count(b"/"), reverse=True)):
        t = base_ns - (i + 1) * 7_000_000_011
        os.utime(path, ns=(t, t))


def build_zoo(root: Path, seed: int = 1, big: int = 6 * MIB, depth: int = 200) -> Zoo:
    """Create the metadata zoo under ``root`` (which must not exist yet)."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    zoo = Zoo(root)
    _regular_files(root, rng, big, zoo)
    _sparse(root, rng)
    _names(root, rng)
    _links(root, rng, zoo)
    _special(root, zoo)
    _modes(root, zoo)
    _deep(root, depth, zoo)
    (root / "empty-dir").mkdir()
    _xattrs(root, zoo)
    set_mtimes(root)
    return zoo


def build_mixed(root: Path, total: int, seed: int = 7) -> int:
    """Bulk data of about ``total`` bytes: small and large files, random and compressible,
    with repeats. Returns the number of files written."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    written = 0
    count = 0
    block = rand_bytes(rng, 4 * MIB)
    while written < total:
        d = root / f"dir{count // 50:03d}"
        d.mkdir(exist_ok=True)
        kind = count % 10
        if kind < 6:
            data = rand_bytes(rng, rng.randint(0, 64 * KIB))
        elif kind < 8:
            data = rand_bytes(rng, rng.randint(1 * MIB, 12 * MIB))
        elif kind == 8:
            data = (b"compressible %d " % count) * rng.randint(10_000, 200_000)
        else:  # internal repeats: the same 4 MiB block, shifted
            shift = rng.randint(0, MIB)
            data = block[shift:] + block[:shift]
        _write(d / f"f{count:05d}", data)
        written += len(data)
        count += 1
    return count
