"""Index files: load them (skipping what does not authenticate), write them, and adopt the
packs no index names (a killed writer's, or those a refused index file alone named).

Index files are listed before packs: a writer stores a pack before the index that names it,
so an honest index never names a pack the later listing lacks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from kaikyo.core.constants import (
    DATA_PREFIX,
    INDEX_PREFIX,
    KIND_INDEX,
    PACK_TRAILER_SIZE,
)
from kaikyo.core.format.envelope import open_object, seal_object
from kaikyo.core.format.index import encode_index
from kaikyo.core.ids import object_id
from kaikyo.repo.badobjects import OBJECT_ERRORS, reason_of
from kaikyo.repo.packer import FinishedPack, pack_name, put_content_addressed
from kaikyo.repo.packs import PackReader
from kaikyo.repo.state import hex_from_name
from kaikyo.store import ObjectInfo, ObjectNotFound

INDEX_FILE_PACKS = 256  # packs named per index file a prune or rebuild writes


class IndexFiles(PackReader):
    """The index files of an open repository, and the in-memory master index they fill."""

    _index_checked = False

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

    def replace_index(self, packs: Iterable[FinishedPack]) -> None:
        """Make the index files name exactly ``packs`` (after a prune or an index rebuild):
        the new files are written first, then the old ones deleted. A crash between leaves
        index files that overlap, which is harmless (any location of a blob is valid)."""
        old = [o.name for o in self.store.list(INDEX_PREFIX)]
        self.indexed_files = set()
        batch: list[FinishedPack] = []
        for item in packs:
            batch.append(item)
            if len(batch) >= INDEX_FILE_PACKS:
                self.write_index(batch)
                batch = []
        self.write_index(batch)
        for name in old:
            if name not in self.indexed_files:
                with contextlib.suppress(ObjectNotFound):
                    self.store.delete(name)
                self.bad.forget(name)

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
            bytes.fromhex(hex_from_name(b.name)) for b in self.bad.of_kind(prefix) if not b.action
        ]
