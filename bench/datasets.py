"""The benchmark's data: ``tree`` (real files), ``image`` (2 GiB disk-image-like) and ``tree2``.

Everything is built once under ``<workdir>/data-s<scale>/`` and reused: a ``*.done.json``
marker records the parameters a dataset was built with, and a mismatch rebuilds it.

- ``tree``: real files sampled from /usr and Python installs (/root/.pyenv). The selection is
  deterministic for a given machine content and seed: every candidate is ranked by a keyed
  hash of its path and taken in that order while the file-count and byte budgets allow.
  Regular files and symlinks are kept; sockets, fifos and devices skipped.
- ``image``: regions of text-like data, zeros, random bytes, low-entropy binary and copies of
  earlier regions (a big one at about 70%), all from a seeded PCG64 generator.
- ``tree2``: ``tree`` with 3% of files modified, 1% deleted and 1% added. Unchanged files are
  hard links into ``tree`` (read-only use), and ``tree2.changes.json`` lists the changes so
  that :func:`apply_changes` can turn a copy of ``tree`` into ``tree2`` in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASET_VERSION = 3
TREE_ROOTS = ("/usr", "/root/.pyenv")
FULL_FILES = 100_000
FULL_TREE_BYTES = 1_500_000_000
# Files above this are left out at every scale: it keeps the mean file near 15 KB, so that
# ~100,000 files make ~1.5 GB, and a scaled-down tree has the same size distribution.
MAX_TREE_FILE = 3 * 1024 * 1024
FULL_IMAGE_BYTES = 2 << 30
MODIFIED, DELETED, ADDED = 0.03, 0.01, 0.01
MiB = 1 << 20
PIECE = 8 * MiB


def _say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class DataSets:
    root: Path
    scale: float
    seed: int

    @property
    def tree(self) -> Path:
        return self.root / "tree"

    @property
    def tree2(self) -> Path:
        return self.root / "tree2"

    @property
    def image_dir(self) -> Path:
        return self.root / "image"

    @property
    def image(self) -> Path:
        return self.image_dir / "image.bin"

    @property
    def changes(self) -> Path:
        return self.root / "tree2.changes.json"

    def params(self, name: str) -> dict[str, object]:
        return {"dataset": name, "version": DATASET_VERSION, "scale": self.scale, "seed": self.seed}

    def info(self, name: str) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.root / f"{name}.done.json").read_text())
        return data


def datasets_for(workdir: Path, scale: float, seed: int) -> DataSets:
    return DataSets(workdir / f"data-s{scale:g}", scale, seed)


def ensure_all(ds: DataSets) -> None:
    ds.root.mkdir(parents=True, exist_ok=True)
    _ensure(ds, "tree", lambda: build_tree(ds))
    _ensure(ds, "tree2", lambda: build_tree2(ds))
    _ensure(ds, "image", lambda: build_image(ds))


def _ensure(ds: DataSets, name: str, build: object) -> None:
    marker = ds.root / f"{name}.done.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        if all(info.get(k) == v for k, v in ds.params(name).items()):
            _say(f"reusing {name} ({_describe(info)})")
            return
    marker.unlink(missing_ok=True)
    _say(f"building {name} under {ds.root} ...")
    info = {**ds.params(name), **build()}  # type: ignore[operator]
    marker.write_text(json.dumps(info, indent=1) + "\n")
    _say(f"built {name} ({_describe(info)})")


def _describe(info: dict[str, object]) -> str:
    keys = ("files", "symlinks", "bytes", "modified", "added", "deleted")
    return ", ".join(f"{k} {info[k]:,}" for k in keys if isinstance(info.get(k), int))


def _rank(seed: int, rel: str) -> bytes:
    return hashlib.blake2b(
        rel.encode("utf-8", "surrogateescape"), key=seed.to_bytes(8, "big"), digest_size=8
    ).digest()


def _rng(seed: int, purpose: str) -> np.random.Generator:
    digest = hashlib.blake2b(purpose.encode(), key=seed.to_bytes(8, "big"), digest_size=8).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest, "big")))


# ---------------------------------------------------------------- tree


def _candidates(roots: tuple[str, ...]) -> Iterator[tuple[str, int, bool]]:
    """(absolute path, size, is_symlink) for regular files and symlinks under ``roots``."""
    for root in roots:
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames) + [d for d in dirnames if _is_link(dirpath, d)]:
                full = os.path.join(dirpath, name)
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield full, st.st_size, False
                elif stat.S_ISLNK(st.st_mode):
                    yield full, 0, True


def _is_link(dirpath: str, name: str) -> bool:
    return os.path.islink(os.path.join(dirpath, name))


def select_tree(seed: int, n_files: int, n_bytes: int) -> list[tuple[str, int, bool]]:
    """Take candidates in keyed-hash order while the file and byte budgets allow."""
    cands = sorted(_candidates(TREE_ROOTS), key=lambda c: _rank(seed, c[0]))
    chosen: list[tuple[str, int, bool]] = []
    total = 0
    for path, size, is_link in cands:
        if len(chosen) >= n_files or total >= n_bytes * 0.995:
            break
        if size > MAX_TREE_FILE or total + size > n_bytes:
            continue
        chosen.append((path, size, is_link))
        total += size
    chosen.sort()
    return chosen


def build_tree(ds: DataSets) -> dict[str, object]:
    n_files = max(int(FULL_FILES * ds.scale), 50)
    n_bytes = int(FULL_TREE_BYTES * ds.scale)
    chosen = select_tree(ds.seed, n_files, n_bytes)
    tmp = ds.tree.with_name("tree.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(ds.tree, ignore_errors=True)
    files = links = nbytes = skipped = 0
    sizes: list[int] = []
    for path, _size, is_link in chosen:
        dest = tmp / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            if is_link:
                os.symlink(os.readlink(path), dest)
                links += 1
            else:
                shutil.copy2(path, dest)
                size = dest.stat().st_size
                nbytes += size
                sizes.append(size)
                files += 1
        except OSError:
            skipped += 1
    tmp.rename(ds.tree)
    sizes.sort()
    return {
        "files": files,
        "symlinks": links,
        "bytes": nbytes,
        "skipped": skipped,
        "median_file": sizes[len(sizes) // 2] if sizes else 0,
        "roots": list(TREE_ROOTS),
    }


# ---------------------------------------------------------------- synthetic content


class TextGen:
    """Text-like bytes: Zipf-distributed pseudo-words (compresses about 2-3x, like logs/docs)."""

    def __init__(self, rng: np.random.Generator, words: int = 8192) -> None:
        letters = np.frombuffer(b"etaoinshrdlcumwfgypbvkjxqz", dtype=np.uint8)
        lengths = rng.integers(2, 11, size=words)
        pieces = []
        for i, n in enumerate(lengths):
            word = letters[np.minimum(rng.geometric(0.18, size=n) - 1, 25)].tobytes()
            sep = b"\n" if i % 13 == 0 else (b", " if i % 7 == 0 else b" ")
            pieces.append(word + sep)
        self.vocab = np.frombuffer(b"".join(pieces), dtype=np.uint8)
        self.lens = np.array([len(p) for p in pieces], dtype=np.int64)
        self.starts = np.concatenate(([0], np.cumsum(self.lens)[:-1]))
        self.words = words
        # word rank r has probability ~ 1/r (Zipf): inverse CDF of the continuous 1/x law
        ranks = np.arange(words)
        probs = np.log((ranks + 2) / (ranks + 1)) / np.log(words + 1)
        self.mean_len = float((probs * self.lens).sum())

    def generate(self, rng: np.random.Generator, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            n_words = int((size - len(out)) / self.mean_len) + 16
            ranks = np.power(float(self.words + 1), rng.random(n_words)) - 1.0
            idx = np.minimum(ranks.astype(np.int64), self.words - 1)
            lens = self.lens[idx]
            out_starts = np.cumsum(lens) - lens
            src = np.repeat(self.starts[idx] - out_starts, lens) + np.arange(int(lens.sum()))
            out += self.vocab[src].tobytes()
        return bytes(out[:size])


def _region(kind: str, rng: np.random.Generator, text: TextGen, size: int) -> bytes:
    if kind == "text":
        return text.generate(rng, size)
    if kind == "zeros":
        return bytes(size)
    if kind == "random":
        return rng.bytes(size)
    # low-entropy binary: 16 distinct byte values (4 bits/byte), like tables or bitmaps
    return (rng.integers(0, 16, size=size, dtype=np.uint8) * 17).tobytes()


# ---------------------------------------------------------------- image


IMAGE_KINDS = ("text", "zeros", "random", "lowent", "dup")
IMAGE_WEIGHTS = (0.32, 0.18, 0.30, 0.14, 0.06)


def build_image(ds: DataSets) -> dict[str, object]:
    total = max(int(FULL_IMAGE_BYTES * ds.scale) // MiB * MiB, 4 * MiB)
    rng = _rng(ds.seed, "image")
    text = TextGen(_rng(ds.seed, "vocab"))
    max_region = max(MiB, min(64 * MiB, total // 16))
    big_dup_at, big_dup_size = int(total * 0.7), total // 10
    ds.image_dir.mkdir(parents=True, exist_ok=True)
    tmp = ds.image.with_suffix(".tmp")
    counts = dict.fromkeys(IMAGE_KINDS, 0)
    with open(tmp, "wb+") as f:
        written = 0
        while written < total:
            if big_dup_size and written >= big_dup_at:
                kind, size = "dup", min(big_dup_size, total - written)
                big_dup_size = 0
            else:
                kind = str(rng.choice(IMAGE_KINDS, p=IMAGE_WEIGHTS))
                size = min(int(rng.integers(64 * 1024, max_region)) + 512, total - written)
            if kind == "dup" and written < size:
                kind = "text"
            if kind == "dup":
                src = int(rng.integers(0, written - size + 1))
                _copy_within(f.fileno(), src, written, size)
            else:
                for off in range(0, size, PIECE):
                    f.write(_region(kind, rng, text, min(PIECE, size - off)))
            counts[kind] += size
            written += size
            f.seek(written)
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(ds.image)
    return {"bytes": total, "composition": counts}


def _copy_within(fd: int, src: int, dst: int, size: int) -> None:
    done = 0
    while done < size:
        piece = os.pread(fd, min(PIECE, size - done), src + done)
        os.pwrite(fd, piece, dst + done)
        done += len(piece)


# ---------------------------------------------------------------- tree2


def _regular_files(root: Path) -> list[str]:
    rels: list[str] = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full) and not os.path.islink(full):
                rels.append(os.path.relpath(full, root))
    rels.sort()
    return rels


def build_tree2(ds: DataSets) -> dict[str, object]:
    rels = _regular_files(ds.tree)
    ranked = sorted(rels, key=lambda r: _rank(ds.seed + 1, r))
    n_mod, n_del, n_add = (max(1, round(len(rels) * p)) for p in (MODIFIED, DELETED, ADDED))
    modified = sorted(ranked[:n_mod])
    deleted = sorted(ranked[n_mod : n_mod + n_del])
    tmp = ds.tree2.with_name("tree2.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(ds.tree2, ignore_errors=True)
    _link_tree(ds.tree, tmp, skip=set(modified) | set(deleted))
    rng = _rng(ds.seed, "tree2")
    text = TextGen(_rng(ds.seed, "vocab"))
    for rel in modified:
        _write_modified(ds.tree / rel, tmp / rel, rng)
    added = _write_added(ranked[n_mod + n_del :], n_add, ds=ds, dest_root=tmp, rng=rng, text=text)
    tmp.rename(ds.tree2)
    changes = {"modified": modified, "deleted": deleted, "added": added}
    ds.changes.write_text(json.dumps(changes, indent=0) + "\n")
    return {"modified": len(modified), "deleted": len(deleted), "added": len(added)}


def _link_tree(src: Path, dest: Path, skip: set[str]) -> None:
    """Recreate ``src`` under ``dest``: hard links for files, copies of symlinks."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        (dest / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in filenames + [d for d in dirnames if _is_link(dirpath, d)]:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            full = os.path.join(dirpath, name)
            if rel in skip:
                continue
            if os.path.islink(full):
                os.symlink(os.readlink(full), dest / rel)
            else:
                os.link(full, dest / rel)


def _write_modified(src: Path, dest: Path, rng: np.random.Generator) -> None:
    """Overwrite 64 bytes somewhere inside, and append 256 bytes to every other file."""
    data = bytearray(src.read_bytes())
    if data:
        off = int(rng.integers(0, len(data)))
        data[off : off + 64] = rng.bytes(min(64, len(data) - off))
    if not data or rng.random() < 0.5:
        data += rng.bytes(256)
    dest.write_bytes(bytes(data))
    shutil.copymode(src, dest)


def _write_added(
    pool: list[str],
    n_add: int,
    *,
    ds: DataSets,
    dest_root: Path,
    rng: np.random.Generator,
    text: TextGen,
) -> list[str]:
    """New files next to existing ones, sized like them; 3 in 4 text-like, 1 in 4 random."""
    added: list[str] = []
    for i, like in enumerate(pool[:n_add]):
        size = (ds.tree / like).stat().st_size
        rel = os.path.join(os.path.dirname(like), f"kaikyo-bench-added-{i:06d}.dat")
        data = rng.bytes(size) if i % 4 == 3 else text.generate(rng, size)
        (dest_root / rel).write_bytes(data)
        added.append(rel)
    added.sort()
    return added


def apply_changes(ds: DataSets, src: Path) -> None:
    """Turn ``src`` (a copy of tree) into tree2 in place: delete, rewrite, add."""
    changes = json.loads(ds.changes.read_text())
    for rel in changes["deleted"]:
        (src / rel).unlink()
    for rel in changes["modified"] + changes["added"]:
        target = src / rel
        target.unlink(missing_ok=True)
        shutil.copy2(ds.tree2 / rel, target)
