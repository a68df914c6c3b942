"""The ``--verify`` pass: read every restored file back and check each chunk against its
blob id, after everything is written."""

from __future__ import annotations

import os

from kaikyo.errors import IntegrityError
from kaikyo.repo import Repository
from kaikyo.snapshot.progress import Meter
from kaikyo.snapshot.restore.plan import Chunks, Files


def verify(repo: Repository, files: Files, chunks: Chunks, meter: Meter | None = None) -> int:
    """Re-read every restored file and check each chunk against its blob id. Returns how
    many files were checked; raises IntegrityError naming the first that differs."""
    bad = []
    raws, foffs = chunks.raw.tolist(), chunks.foff.tolist()
    f_rows = files.rows
    hasher = repo.hasher
    for fno in range(len(files)):
        out = files.out(fno)
        try:
            fd = os.open(out, os.O_RDONLY)
        except OSError as exc:
            bad.append(f"{os.fsdecode(out)}: {exc.strerror}")
            continue
        try:
            # By offset: onto an existing tree the plan holds only the chunks that differed.
            for row in range(f_rows[fno], f_rows[fno + 1]):
                raw_len = raws[row]
                data = os.pread(fd, raw_len, foffs[row])
                while len(data) < raw_len:
                    more = os.pread(fd, raw_len - len(data), foffs[row] + len(data))
                    if not more:
                        break
                    data += more
                if hasher(data) != chunks.blob_id(row):
                    bad.append(f"{os.fsdecode(out)}: content differs from the snapshot")
                    break
        finally:
            os.close(fd)
        if meter is not None:
            meter.add(files=1)
    if bad:
        raise IntegrityError(f"verification failed for {len(bad)} file(s): {bad[0]}")
    return len(files)
