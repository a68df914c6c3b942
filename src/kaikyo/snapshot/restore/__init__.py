"""Restore: recreate a snapshot (or part of it) under a target directory, exactly.

Plan first: walk the snapshot's trees into compact columns (arrays, not an object per file):
per file its directory (one shared bytes object per directory), name, mode, owner, times and
size; per chunk of a file one row (id, then pack, offset, lengths and offset in the file, all
located in the index at once). About 100 bytes per file and 70 per chunk.

Then threads share the packs. Each has the repository stream the chunks a pack holds for the
restore (in spans of at most ``kaikyo.repo.READ_SPAN`` bytes, one ranged read per span, each
chunk opened once) and writes them, so it holds one span and one chunk at a time. Threads,
not forked processes: decryption, decompression and file system calls release the GIL, and a
forked child counts the interpreter and the plan again.

Per-file work (creating the inode, setting owner, mode and times) is the bulk of a restore of
many small files, so the threads do it too: a file whose chunks all sit in one pack is created,
written, given its metadata and closed by the thread that owns that pack, in one open, once its
last chunk is written. Calls that would change nothing are skipped: when a probe shows that a
new inode in the target gets our uid and gid and exactly the mode asked for less the umask, a
file is created with its final mode, and chown/chmod run only where they change something.
Files spread over several packs, and sparse files, are created by the main thread first and
finished by it last. Files marked sparse keep their holes: aligned all-zero blocks are not
written and the size is set by truncate. Directories get their metadata last, deepest first, so
writing into them does not disturb their times.

Where each part lives:

- :mod:`.restorer`: the steps of one restore in order, and the writing threads;
- :mod:`.options`: what a restore is asked for and what it reports;
- :mod:`.resume`: the target check and the in-progress marker that lets a rerun resume;
- :mod:`.existing`: onto a tree already there (``--overwrite MODE``, ``--delete``,
  ``--dry-run``): the plan shrunk to the chunks that differ, what the snapshot lacks;
- :mod:`.walk`: the snapshot's trees, filtered, into the plan; hard links found;
- :mod:`.plan`: the plan's columns, dropping files from it, locating chunks in the index;
- :mod:`.assign`: rows grouped by pack, packs and files shared among the threads;
- :mod:`.writer`: chunks into files (sparse too), files created and finished by their owner;
- :mod:`.metadata`: owner, xattrs, mode and times, and the probe that skips no-op calls;
- :mod:`.special`: directories, hard links, symlinks, fifos and devices;
- :mod:`.verify`: the ``--verify`` pass;
- :mod:`.paths`: error mapping and making room, shared by the steps that create entries.
"""

from __future__ import annotations

from kaikyo.snapshot.restore.options import RestoreOptions, RestoreResult
from kaikyo.snapshot.restore.restorer import Restorer, run_restore

__all__ = ["RestoreOptions", "RestoreResult", "Restorer", "run_restore"]
