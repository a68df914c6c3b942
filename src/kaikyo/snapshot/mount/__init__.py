"""``kaikyo mount``: a repository's snapshots as a read-only filesystem, through FUSE.

Layout (restic's): ``snapshots/TIME/`` (one directory per snapshot, named by its time, and a
``latest`` symlink), ``ids/SHORTID/``, ``hosts/HOST/TIME/``, ``tags/TAG/TIME/``; inside a
snapshot, its tree with modes, owners, sizes, nanosecond mtimes, symlinks, devices, xattrs and
names of any bytes. File contents are loaded when read, chunk by chunk, through the
repository's reading path, never ahead of the reader.

Where each part lives:

- :mod:`.catalog`: the top levels, from the snapshot list (pure);
- :mod:`.blobs`: blobs and trees, loaded on demand into bounded caches;
- :mod:`.files`: an open file's chunk map and reads at any offset;
- :mod:`.ops`: the operations libfuse calls (paths in, attributes and bytes out, errnos);
- :mod:`.fuse`: finding FUSE, mounting, unmounting on a signal.

Nothing here imports the FUSE bindings except :func:`.fuse.load_fuse`, called when a mount
starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaikyo.lazy import exports

if TYPE_CHECKING:
    from kaikyo.snapshot.mount.blobs import Blobs
    from kaikyo.snapshot.mount.catalog import build_catalog, time_name
    from kaikyo.snapshot.mount.fuse import FuseOptions, load_fuse, serve
    from kaikyo.snapshot.mount.ops import MountOptions, SnapshotFS

# Imported on first use (PEP 562), as the engine's packages: checking for FUSE, before the
# passphrase, loads neither the codecs nor NumPy.
_WHERE = {
    "Blobs": "blobs",
    "build_catalog": "catalog",
    "time_name": "catalog",
    "FuseOptions": "fuse",
    "load_fuse": "fuse",
    "serve": "fuse",
    "MountOptions": "ops",
    "SnapshotFS": "ops",
}

__getattr__ = exports(__name__, _WHERE, globals())

__all__ = [
    "Blobs",
    "FuseOptions",
    "MountOptions",
    "SnapshotFS",
    "build_catalog",
    "load_fuse",
    "serve",
    "time_name",
]
