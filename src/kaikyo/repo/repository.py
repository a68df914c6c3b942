"""Repository: the keyed, encrypted view of a store (read side) and write sessions.

Object names: ``config``, ``keys/H``, ``index/H``, ``snapshots/H``, ``locks/H``, ``data/HH/H``
where H is the SHA-256 of the stored bytes. Write order makes every crash safe: packs first,
then the index files that list them, then the snapshot that references them. A pack written
but not yet indexed (a killed backup) is adopted by the next writer (:meth:`adopt_unindexed`)
instead of being uploaded again.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kaikyo.core.compression import Compressor
from kaikyo.core.constants import (
    BLOB_TREE,
    CONFIG_NAME,
    DATA_PREFIX,
    INDEX_PREFIX,
    KEY_PREFIX,
    KIND_CONFIG,
    KIND_INDEX,
    KIND_SNAPSHOT,
    MAX_KEY_SLOT_SIZE,
    MAX_SNAPSHOT_SIZE,
    PACK_TRAILER_SIZE,
    SNAPSHOT_PREFIX,
)
from kaikyo.core.crypto.aead import Cipher
from kaikyo.core.crypto.keys import (
    MasterKey,
    make_key_slot,
    parse_key_slot,
)
from kaikyo.core.format.envelope import open_blob, open_object, seal_blob, seal_object
from kaikyo.core.format.index import encode_index, encode_index_raw
from kaikyo.core.format.pack import PackEntry, header_length, parse_header
from kaikyo.core.hashing import BlobHasher
from kaikyo.core.ids import object_id
from kaikyo.errors import (
    IntegrityError,
    NotFoundError,
    UsageError,
)
from kaikyo.repo.badobjects import OBJECT_ERRORS, BadObjects, reason_of
from kaikyo.repo.config import RepoConfig
from kaikyo.repo.index import BlobLocation, MasterIndex
from kaikyo.repo.packer import (
    FinishedPack,
    PackWriter,
    RawPack,
    Uploader,
    pack_name,
    put_content_addressed,
)
from kaikyo.repo.slots import NewKeys, ensure_absent, new_keys, slot_meta, unlock
from kaikyo.store import ObjectInfo, ObjectNotFound, Store
from kaikyo.store.errors import InvalidRange

INDEX_FLUSH_PACKS = 32


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    kind: str
    user: str
    host: str
    created: float
    current: bool


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    snapshot_id: str
    doc: dict[str, Any]
    received: float | None  # when the store received it (the haven's clock), if known

    @property
    def time(self) -> float:
        return float(self.doc["time"])


def _hex_from_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _is_hex_id(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def _str_list(doc: dict[str, Any], key: str) -> bool:
    value = doc.get(key, [])
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_snapshot_doc(doc: object) -> dict[str, Any]:
    """A manifest's fields have the types every reader relies on, or ValueError.

    A manifest that authenticates was written with the key, but perhaps by another version of
    kaikyo or by a bug: it is checked once here instead of by every command that reads it.
    """
    if not isinstance(doc, dict):
        raise ValueError("manifest is not a JSON object")
    if not _is_hex_id(doc.get("tree")):
        raise ValueError("manifest has no valid root tree id")
    t = doc.get("time")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise ValueError("manifest has no valid time")
    for key in ("paths", "tags", "excludes"):
        if not _str_list(doc, key):
            raise ValueError(f"manifest field {key!r} is not a list of strings")
    for key in ("hostname", "username"):
        if not isinstance(doc.get(key, ""), str):
            raise ValueError(f"manifest field {key!r} is not a string")
    if not isinstance(doc.get("summary", {}), dict):
        raise ValueError("manifest field 'summary' is not an object")
    return doc


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class Repository:
    """An opened repository. Thread-safe for reads; writes go through :meth:`writer`."""

    _index_checked = False

    def __init__(self, store: Store, key: MasterKey, config: RepoConfig, key_id: str) -> None:
        self.store = store
        self.key = key
        self.config = config
        self.key_id = key_id
        self.cipher: Cipher = key.cipher()
        self.hasher = BlobHasher(key.blob_id)
        self.index = MasterIndex()
        self.indexed_files: set[str] = set()
        self.bad = BadObjects()
        # Packs an index names that are not stored (or are shorter than it says): how many
        # entries each lost. Kept for check, which reports them.
        self.unstored_packs: dict[bytes, int] = {}
        self._local = threading.local()

    # ---- opening ------------------------------------------------------------------------

    @property
    def compressor(self) -> Compressor:
        comp: Compressor | None = getattr(self._local, "compressor", None)
        if comp is None:
            comp = Compressor(self.config.compression_level)
            self._local.compressor = comp
        return comp

    @classmethod
    def create(
        cls,
        store: Store,
        password: str,
        config: RepoConfig | None = None,
        meta: dict[str, Any] | None = None,
        kdf_cost: tuple[int, int] | None = None,
        keys: NewKeys | None = None,
    ) -> tuple[Repository, str]:
        """Create a repository; returns it and the recovery key (shown once, never stored).

        ``keys`` made beforehand by :func:`kaikyo.repo.slots.new_keys` (the CLI derives them
        before importing the engine) are used instead of making new ones.
        """
        ensure_absent(store)
        config = config or RepoConfig(repo_id=os.urandom(32).hex())
        config.chunker.validate()
        keys = keys or new_keys(password, meta, kdf_cost)
        key_id = object_id(keys.slot)
        put_content_addressed(store, KEY_PREFIX + key_id, keys.slot)
        put_content_addressed(store, KEY_PREFIX + object_id(keys.recovery_slot), keys.recovery_slot)
        repo = cls(store, keys.master, config, key_id)
        sealed = seal_object(repo.cipher, repo.compressor, KIND_CONFIG, config.to_json())
        store.put(CONFIG_NAME, sealed)
        return repo, keys.recovery

    @classmethod
    def open(cls, store: Store, password: str) -> Repository:
        master, slot_name = unlock(store, password)
        return cls.open_with_key(store, master, slot_name)

    @classmethod
    def open_with_key(cls, store: Store, master: MasterKey, slot_name: str) -> Repository:
        """Open with a master key already unwrapped from the slot ``slot_name`` (by
        :func:`kaikyo.repo.slots.unlock`; the CLI derives it before importing the engine)."""
        probe = Repository(store, master, RepoConfig(repo_id=""), "")
        plain = open_object(
            probe.cipher, probe.compressor, KIND_CONFIG, store.get(CONFIG_NAME), "repository config"
        )
        return cls(store, master, RepoConfig.from_json(plain), _hex_from_name(slot_name))

    # ---- keys ---------------------------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        """The key slots that parse; the others are reported as bad objects."""
        from kaikyo.core.crypto.keys import SlotRefused

        out = []
        for info in self.store.list(KEY_PREFIX):
            kid = _hex_from_name(info.name)
            try:
                if info.size > MAX_KEY_SLOT_SIZE:
                    raise SlotRefused(f"{info.size} bytes is too large for a key slot")
                doc = parse_key_slot(self.store.get(info.name))
            except ObjectNotFound:
                continue
            except OBJECT_ERRORS as exc:
                self.bad.report(info.name, reason_of(exc))
                continue
            out.append(
                KeyInfo(
                    kid,
                    str(doc.get("kind", "passphrase")),
                    str(doc.get("user", "")),
                    str(doc.get("host", "")),
                    _number(doc.get("created")),
                    kid == self.key_id,
                )
            )
        return sorted(out, key=lambda k: k.created)

    def add_key(
        self,
        password: str,
        meta: dict[str, Any] | None = None,
        kdf_cost: tuple[int, int] | None = None,
    ) -> str:
        if not password:
            raise UsageError("an empty passphrase is not allowed")
        t, m = kdf_cost or (None, None)
        slot = make_key_slot(
            self.key, password.encode(), meta=slot_meta(meta), time_cost=t, memory_kib=m
        )
        kid = object_id(slot)
        put_content_addressed(self.store, KEY_PREFIX + kid, slot)
        return kid

    def remove_key(self, key_prefix: str) -> str:
        """Remove the key slot whose id starts with ``key_prefix``: a passphrase or recovery
        slot (never the one in use, nor the last passphrase), or a slot that does not parse."""
        keys = self.list_keys()
        bad_ids = [_hex_from_name(b.name) for b in self.bad.of_kind(KEY_PREFIX)]
        matches = [k.key_id for k in keys if k.key_id.startswith(key_prefix)]
        matches += [kid for kid in bad_ids if kid.startswith(key_prefix)]
        if not matches:
            raise NotFoundError(f"no key matches {key_prefix!r}")
        if len(matches) > 1:
            raise UsageError(f"key id {key_prefix!r} is ambiguous")
        victim_id = matches[0]
        victim = next((k for k in keys if k.key_id == victim_id), None)
        if victim is not None:
            if victim.current:
                raise UsageError(
                    "refusing to remove the key in use",
                    "open the repository with another key to remove this one",
                )
            passphrase_keys = [k for k in keys if k.kind == "passphrase"]
            if victim.kind == "passphrase" and len(passphrase_keys) <= 1:
                raise UsageError("refusing to remove the last passphrase key")
        self.store.delete(KEY_PREFIX + victim_id)
        self.bad.forget(KEY_PREFIX + victim_id)
        return victim_id

    # ---- index --------------------------------------------------------------------------

    def load_index(self) -> None:
        """Load the index files not loaded yet, then keep only what is stored.

        An index file that does not authenticate is reported and skipped; the packs it alone
        would have named are then read by their headers (in memory: :meth:`adopt_unindexed`
        writes them down). Entries of packs that are not stored, or that end beyond the stored
        pack, are dropped (see :meth:`MasterIndex.retain_stored`): an old index replayed
        after a prune must never make a backup skip a blob or a prune keep a copy that is
        gone. Index files are listed before packs: a writer stores a pack before the index
        that names it, so an honest index never names a pack the later listing lacks.
        """
        fresh = [
            o.name
            for o in self.store.list(INDEX_PREFIX)
            if o.name not in self.indexed_files and o.name not in self.bad
        ]
        if not fresh and self._index_checked:
            return

        def fetch(name: str) -> tuple[str, bytes | BaseException]:
            try:
                raw = self.store.get(name)
                self._check_name(name, raw)
                return name, open_object(self.cipher, self.compressor, KIND_INDEX, raw, name)
            except ObjectNotFound as exc:
                return name, exc
            except OBJECT_ERRORS as exc:
                return name, exc

        named: dict[str, list[bytes]] = {}
        refused = False
        with ThreadPoolExecutor(max_workers=8) as pool:
            for name, plain in pool.map(fetch, fresh):
                if isinstance(plain, ObjectNotFound):
                    continue  # removed meanwhile (a prune or repair)
                if isinstance(plain, BaseException):
                    self.bad.report(name, reason_of(plain))
                    refused = True
                    continue
                try:
                    named[name] = self.index.add_index_plain(plain, name)
                except OBJECT_ERRORS as exc:
                    self.bad.report(name, reason_of(exc))
                    refused = True
                    continue
                self.indexed_files.add(name)
        self.index.freeze()
        stored = self.list_packs()
        self._drop_unstored(stored, named)
        self._index_checked = True
        if refused:
            self.adopt_unindexed(write=False, stored=stored)

    def _drop_unstored(
        self, stored: dict[bytes, ObjectInfo], named: dict[str, list[bytes]]
    ) -> None:
        sizes = {pid: info.size for pid, info in stored.items()}
        dropped = self.index.retain_stored(sizes, PACK_TRAILER_SIZE)
        if not dropped:
            return
        for pid, count in dropped.items():
            self.unstored_packs[pid] = self.unstored_packs.get(pid, 0) + count
            if pid in stored:
                self.bad.report(
                    pack_name(pid),
                    f"shorter ({stored[pid].size} bytes) than its index says: "
                    f"{count} blob(s) beyond its end are taken as missing",
                    "'kaikyo check' names the files it costs; the next backup stores them again",
                )
        for name, packs in named.items():
            gone = [p for p in packs if p in dropped and p not in stored]
            if gone:
                self.bad.report(
                    name,
                    f"names {len(gone)} pack(s) that are not stored "
                    "(an old index replayed after a prune, or lost data)",
                )

    def _check_name(self, name: str, raw: bytes) -> None:
        if object_id(raw) != _hex_from_name(name):
            raise IntegrityError(f"{name} does not match its name (corrupt or truncated)")

    def write_index(self, packs: Iterable[FinishedPack]) -> str | None:
        items = list(packs)
        if not items:
            return None
        return self.write_index_plain(encode_index(items))

    def write_index_plain(self, plain: bytes) -> str:
        sealed = seal_object(self.cipher, self.compressor, KIND_INDEX, plain)
        name = INDEX_PREFIX + object_id(sealed)
        put_content_addressed(self.store, name, sealed)
        self.indexed_files.add(name)
        return name

    def read_pack(self, pack_id: bytes, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of a stored pack. A pack the index names but the store lacks, or one shorter
        than the index says, is damage to the repository: IntegrityError (exit 15), never
        "not found" or a usage error."""
        try:
            return self.store.get(pack_name(pack_id), offset, length)
        except ObjectNotFound:
            raise IntegrityError(f"pack {pack_id.hex()[:8]} is missing from the store") from None
        except InvalidRange:
            raise IntegrityError(
                f"pack {pack_id.hex()[:8]} is shorter than the index says (truncated)"
            ) from None

    def read_pack_header(self, pack_id: bytes, size: int | None = None) -> list[PackEntry]:
        name = pack_name(pack_id)
        if size is None:
            size = self.store.stat(name).size
        what = f"pack {pack_id.hex()[:8]}"
        if size < PACK_TRAILER_SIZE:
            raise IntegrityError(f"{what} is truncated")
        # One ranged read usually covers the header; a big header needs a second one.
        guess = min(size, 64 * 1024)
        tail = self.read_pack(pack_id, size - guess, guess)
        hlen = header_length(tail)
        if hlen + PACK_TRAILER_SIZE > size:
            raise IntegrityError(f"{what} is truncated")
        if hlen + PACK_TRAILER_SIZE > guess:
            tail = self.read_pack(
                pack_id, size - hlen - PACK_TRAILER_SIZE, hlen + PACK_TRAILER_SIZE
            )
        header = tail[len(tail) - PACK_TRAILER_SIZE - hlen : len(tail) - PACK_TRAILER_SIZE]
        return parse_header(self.cipher, self.compressor, header, size, what)

    def list_packs(self) -> dict[bytes, ObjectInfo]:
        out = {}
        for info in self.store.list(DATA_PREFIX):
            try:
                pid = bytes.fromhex(_hex_from_name(info.name))
            except ValueError:
                continue
            if len(pid) == 32 and info.name == pack_name(pid):
                out[pid] = info
        return out

    def adopt_unindexed(
        self,
        on_error: Callable[[bytes, Exception], None] | None = None,
        *,
        write: bool = True,
        stored: dict[bytes, ObjectInfo] | None = None,
    ) -> int:
        """Index packs that are stored but listed in no index (left by a killed writer, or
        named only by an index file that was refused), by their headers.

        With ``write``, an index file for them is written, so the next command need not read
        them again. Returns how many packs were adopted. A pack whose header does not
        authenticate is reported as a bad object (``prune`` removes it) and skipped.
        """
        known = set(self.index.pack_ids())
        stored = self.list_packs() if stored is None else stored
        orphans = [
            (pid, info)
            for pid, info in stored.items()
            if pid not in known and pack_name(pid) not in self.bad
        ]
        adopted: list[FinishedPack] = []
        for pid, info in orphans:
            try:
                entries = self.read_pack_header(pid, info.size)
            except ObjectNotFound:
                continue
            except OBJECT_ERRORS as exc:
                self.bad.report(
                    pack_name(pid),
                    f"in no index, and its header does not authenticate ({reason_of(exc)})",
                )
                if on_error:
                    on_error(pid, exc if isinstance(exc, Exception) else Exception(str(exc)))
                continue
            self.index.add_pack(pid, entries)
            adopted.append((pid, entries))
        if adopted:
            if write:
                self.write_index(adopted)
            self.index.freeze()
        return len(adopted)

    def unadoptable_packs(self) -> list[bytes]:
        """Stored packs in no index whose header does not authenticate (garbage, or cut)."""
        prefix = DATA_PREFIX
        return [
            bytes.fromhex(_hex_from_name(b.name)) for b in self.bad.of_kind(prefix) if not b.action
        ]

    # ---- blobs --------------------------------------------------------------------------

    def blob_location(self, blob_id: bytes) -> BlobLocation:
        loc = self.index.lookup(blob_id)
        if loc is None:
            raise IntegrityError(f"blob {blob_id.hex()[:8]} is missing from the index")
        return loc

    def load_blob(self, blob_id: bytes) -> bytes:
        loc = self.blob_location(blob_id)
        sealed = self.read_pack(loc.pack_id, loc.offset, loc.length)
        return self.open_sealed_blob(loc, blob_id, sealed)

    def open_sealed_blob(
        self, loc: BlobLocation, blob_id: bytes, sealed: bytes | memoryview
    ) -> bytes:
        plain = open_blob(
            self.cipher, self.compressor, loc.blob_type, blob_id, sealed, loc.raw_length
        )
        if len(plain) != loc.raw_length:
            raise IntegrityError(f"blob {blob_id.hex()[:8]} has the wrong length")
        return plain

    def load_tree_raw(self, tree_id: bytes) -> bytes:
        return self.load_blob(tree_id)

    # ---- snapshots ----------------------------------------------------------------------

    def list_snapshots(self) -> list[SnapshotRecord]:
        """Every snapshot that authenticates, oldest first; the others are reported as bad
        objects and skipped, so one planted or rotten manifest hides nothing else."""
        infos = list(self.store.list(SNAPSHOT_PREFIX))

        def load(info: ObjectInfo) -> SnapshotRecord | None:
            try:
                if info.size > MAX_SNAPSHOT_SIZE:
                    raise IntegrityError(f"{info.size} bytes is too large for a snapshot")
                raw = self.store.get(info.name)
                self._check_name(info.name, raw)
                doc = check_snapshot_doc(
                    json.loads(
                        open_object(self.cipher, self.compressor, KIND_SNAPSHOT, raw, info.name)
                    )
                )
            except ObjectNotFound:
                return None  # forgotten meanwhile
            except OBJECT_ERRORS as exc:
                self.bad.report(info.name, reason_of(exc))
                return None
            return SnapshotRecord(_hex_from_name(info.name), doc, info.mtime)

        with ThreadPoolExecutor(max_workers=8) as pool:
            records = [r for r in pool.map(load, infos) if r is not None]
        return sorted(records, key=lambda r: (r.time, r.snapshot_id))

    def save_snapshot(self, doc: dict[str, Any]) -> str:
        sealed = seal_object(
            self.cipher, self.compressor, KIND_SNAPSHOT, json.dumps(doc, sort_keys=True).encode()
        )
        sid = object_id(sealed)
        put_content_addressed(self.store, SNAPSHOT_PREFIX + sid, sealed)
        return sid

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.store.delete(SNAPSHOT_PREFIX + snapshot_id)

    def find_snapshot(
        self, ref: str, records: list[SnapshotRecord] | None = None
    ) -> SnapshotRecord:
        """Resolve ``latest`` or a (prefix of a) snapshot id."""
        records = self.list_snapshots() if records is None else records
        if ref == "latest":
            if not records:
                raise NotFoundError("the repository has no snapshots yet")
            return records[-1]
        matches = [r for r in records if r.snapshot_id.startswith(ref.lower())]
        if not matches:
            raise NotFoundError(f"no snapshot matches {ref!r}", "list them with 'kaikyo snapshots'")
        if len(matches) > 1:
            raise UsageError(f"snapshot id {ref!r} is ambiguous; give more digits")
        return matches[0]

    # ---- writing ------------------------------------------------------------------------

    def writer(self, max_in_flight: int = 4) -> RepositoryWriter:
        return RepositoryWriter(self, max_in_flight)


class RepositoryWriter:
    """A write session: blobs go into packs, packs into index files, in crash-safe order."""

    def __init__(self, repo: Repository, max_in_flight: int = 4) -> None:
        self.repo = repo
        self.uploader = Uploader(repo.store, max_in_flight)
        self._lock = threading.Lock()
        # Indexed packs, kept as encoded index plaintext until flush: a list of PackEntry
        # objects would cost about 300 bytes per blob of a large backup.
        self._finished: list[bytes] = []
        self._unwritten: list[RawPack] = []
        self._tree_packer = PackWriter(
            repo.cipher, repo.compressor, repo.config.pack_size, self.uploader, self.pack_done
        )
        self._session_trees: set[bytes] = set()

    def pack_done(self, finished: RawPack) -> None:
        """Record a pack that is now durable in the store (any thread)."""
        self.pack_done_raw(*finished)

    def pack_done_raw(self, pack_id: bytes, table: bytes, count: int) -> None:
        """Like :meth:`pack_done` with the entry table already encoded (from a worker)."""
        with self._lock:
            self._unwritten.append((pack_id, table, count))
            flush = len(self._unwritten) >= INDEX_FLUSH_PACKS
            if flush:
                batch, self._unwritten = self._unwritten, []
        if flush:
            plain = encode_index_raw(batch)
            self.repo.write_index_plain(plain)
            with self._lock:
                self._finished.append(plain)

    def save_tree(self, raw: bytes) -> bytes:
        tree_id = self.repo.hasher(raw)
        if tree_id in self._session_trees or tree_id in self.repo.index:
            return tree_id
        comp, payload = self.repo.compressor.compress(raw)
        sealed = seal_blob(self.repo.cipher, BLOB_TREE, tree_id, comp, payload)
        self._tree_packer.add(BLOB_TREE, tree_id, sealed, len(raw))
        self._session_trees.add(tree_id)
        return tree_id

    def flush(self) -> None:
        """Make everything written so far durable and indexed."""
        self._tree_packer.flush()
        self.uploader.wait()
        with self._lock:
            batch, self._unwritten = self._unwritten, []
        if batch:
            plain = encode_index_raw(batch)
            self.repo.write_index_plain(plain)
        with self._lock:
            if batch:
                self._finished.append(plain)
            finished, self._finished = self._finished, []
        for plain in finished:
            self.repo.index.add_index_plain(plain)
        self.repo.index.freeze()

    def close(self) -> None:
        self._tree_packer.discard()  # only non-empty if the session was abandoned
        self.uploader.close()
