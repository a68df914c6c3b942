"""Reading packs: ranged bytes, headers, the stored listing, blobs, and whole-pack streams.

Only this layer opens a pack. A pack the index names but the store lacks, or one shorter than
the index says, is damage to the repository (IntegrityError, exit 15), never "not found".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from kaikyo.core.constants import (
    DATA_PREFIX,
    PACK_TRAILER_SIZE,
)
from kaikyo.core.format.envelope import open_blob
from kaikyo.core.format.pack import PackEntry, header_length, parse_header
from kaikyo.core.ids import object_id, short
from kaikyo.errors import IntegrityError
from kaikyo.repo.badobjects import OBJECT_ERRORS, reason_of
from kaikyo.repo.index import BlobLocation
from kaikyo.repo.packer import pack_name
from kaikyo.repo.state import RepositoryState, hex_from_name
from kaikyo.store import ObjectInfo, ObjectNotFound
from kaikyo.store.errors import InvalidRange

# A stream reads a pack in spans of at most READ_SPAN bytes (one ranged read each, unless one blob
# is bigger), and skips a gap wider than READ_GAP between wanted blobs with a new read: a ranged
# read costs a round trip (35 ms to the haven), skipped bytes cost bandwidth.
READ_SPAN = 4 * 1024 * 1024
READ_GAP = 512 * 1024


def cut_spans(
    offs: Sequence[int], lens: Sequence[int], waste: float | None = None
) -> Iterator[tuple[int, int, int, int]]:
    """Cut a pack's wanted entries (by offset; one blob wanted several times has adjacent
    entries with one offset) into reads: (first entry, end entry, first byte, end byte). A
    read spans at most ``READ_SPAN`` bytes unless one blob is bigger, and skips gaps wider than
    ``READ_GAP``.

    With ``waste``, a read also skips a gap wider than that share of the bytes it wants, so
    a read downloads at most (1 + waste) times what it wants: a sparse selection (a restore
    onto a tree that is mostly right) then costs what it selects, not the packs around it."""
    m = len(offs)
    i = 0
    while i < m:
        lo = offs[i]
        hi = lo + lens[i]
        want = lens[i]
        j = i + 1
        while j < m:
            o = offs[j]
            if o >= hi:  # the next blob
                gap = o - hi
                if o + lens[j] - lo > READ_SPAN or gap > READ_GAP:
                    break
                if waste is not None and hi - lo - want + gap > waste * (want + lens[j]):
                    break
                hi = o + lens[j]
                want += lens[j]
            j += 1
        yield i, j, lo, hi
        i = j


@dataclass(frozen=True, slots=True)
class WantedBlobs:
    """Blobs wanted from one pack, sorted by offset, as columns: a restore wants tens of
    thousands from a pack, and an object per blob would cost its memory and time. One blob
    wanted several times has adjacent rows with one offset."""

    offsets: Sequence[int]
    lengths: Sequence[int]
    types: Sequence[int]
    raw_lengths: Sequence[int]
    blob_id: Callable[[int], bytes]  # row -> id
    waste: float | None = None  # see cut_spans


def _spans_of(entries: Sequence[PackEntry]) -> Iterator[tuple[int, int, int, int]]:
    return cut_spans([e.offset for e in entries], [e.length for e in entries])


def header_of(data: bytes) -> bytes:
    """The sealed header of a whole pack's bytes, or IntegrityError if it cannot be there."""
    hlen = header_length(data)
    if hlen + PACK_TRAILER_SIZE > len(data):
        raise IntegrityError("truncated: its header would start before the pack does")
    end = len(data) - PACK_TRAILER_SIZE
    return data[end - hlen : end]


class PackReader(RepositoryState):
    """Packs and blobs of an open repository (read side; thread-safe)."""

    def read_pack(self, pack_id: bytes, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of a stored pack. A pack the index names but the store lacks, or one shorter
        than the index says, is damage to the repository: IntegrityError (exit 15), never
        "not found" or a usage error."""
        try:
            return self.store.get(pack_name(pack_id), offset, length)
        except ObjectNotFound:
            raise IntegrityError(f"pack {short(pack_id)} is missing from the store") from None
        except InvalidRange:
            raise IntegrityError(
                f"pack {short(pack_id)} is shorter than the index says (truncated)"
            ) from None

    def read_pack_header(self, pack_id: bytes, size: int | None = None) -> list[PackEntry]:
        name = pack_name(pack_id)
        if size is None:
            size = self.store.stat(name).size
        what = f"pack {short(pack_id)}"
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
                pid = bytes.fromhex(hex_from_name(info.name))
            except ValueError:
                continue
            if len(pid) == 32 and info.name == pack_name(pid):
                out[pid] = info
        return out

    def blob_location(self, blob_id: bytes) -> BlobLocation:
        loc = self.index.lookup(blob_id)
        if loc is None:
            raise IntegrityError(f"blob {short(blob_id)} is missing from the index")
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
            raise IntegrityError(f"blob {short(blob_id)} has the wrong length")
        return plain

    def load_tree_raw(self, tree_id: bytes) -> bytes:
        return self.load_blob(tree_id)

    def stream_pack(self, pack_id: bytes, wanted: WantedBlobs) -> Iterator[bytes]:
        """The plaintext of the ``wanted`` blobs of one pack, one per row, in their order (by
        offset; a blob wanted several times is opened once), each authenticated, in ranged
        reads of at most READ_SPAN bytes: so a restore or a repack holds one span of a pack,
        never the whole of it."""
        cipher, compressor = self.cipher, self.compressor
        offs, lens, types, raws, blob_id = (
            wanted.offsets,
            wanted.lengths,
            wanted.types,
            wanted.raw_lengths,
            wanted.blob_id,
        )
        for i, j, lo, hi in cut_spans(offs, lens, wanted.waste):
            data = memoryview(self.read_pack(pack_id, lo, hi - lo))
            at = -1
            plain = b""
            for k in range(i, j):
                o = offs[k]
                if o != at:
                    at = o
                    bid = blob_id(k)
                    sealed = data[o - lo : o - lo + lens[k]]
                    plain = open_blob(cipher, compressor, types[k], bid, sealed, raws[k])
                    if len(plain) != raws[k]:
                        raise IntegrityError(f"blob {short(bid)} has the wrong length")
                yield plain
            # The span's buffer goes before the next read: ``sealed`` is a view of it, and a
            # thread must hold one span at a time, never two.
            del data, sealed, plain

    def stream_sealed(
        self, pack_id: bytes, entries: Sequence[PackEntry]
    ) -> Iterator[tuple[PackEntry, bytes]]:
        """Like :meth:`stream_pack`, the sealed bytes instead (each authenticated first, so
        damaged bytes are never copied): for repacking without sealing again."""
        cipher, compressor = self.cipher, self.compressor
        for i, j, lo, hi in _spans_of(entries):
            data = memoryview(self.read_pack(pack_id, lo, hi - lo))
            for k in range(i, j):
                e = entries[k]
                sealed = data[e.offset - lo : e.offset - lo + e.length]
                plain = open_blob(cipher, compressor, e.blob_type, e.blob_id, sealed, e.raw_length)
                if len(plain) != e.raw_length:
                    raise IntegrityError(f"blob {short(e.blob_id)} has the wrong length")
                yield e, bytes(sealed)
            del data, sealed

    def verify_pack(self, pack_id: bytes, indexed: Sequence[PackEntry] = ()) -> str | None:
        """Read a whole pack and check everything (``check --read-data``): its bytes against
        its name, its header, every blob against its id, and the ``indexed`` entries against
        the header. None if sound, else what is wrong, in a few words."""
        try:
            data = self.read_pack(pack_id)
        except OBJECT_ERRORS as exc:
            return f"unreadable: {reason_of(exc)}"
        if object_id(data) != pack_id.hex():
            return "content does not match its name (corrupt or truncated)"
        view = memoryview(data)
        try:
            header = header_of(data)
            entries = parse_header(
                self.cipher, self.compressor, header, len(data), f"pack {short(pack_id)}"
            )
            for e in entries:
                plain = open_blob(
                    self.cipher,
                    self.compressor,
                    e.blob_type,
                    e.blob_id,
                    view[e.offset : e.offset + e.length],
                    e.raw_length,
                )
                if self.hasher(plain) != e.blob_id:
                    return f"blob {short(e.blob_id)} does not match its id"
        except OBJECT_ERRORS as exc:
            return reason_of(exc)
        listed = {(e.blob_id, e.offset, e.length) for e in entries}
        for e in indexed:
            if (e.blob_id, e.offset, e.length) not in listed:
                return f"index entry for blob {short(e.blob_id)} disagrees with the pack header"
        return None
