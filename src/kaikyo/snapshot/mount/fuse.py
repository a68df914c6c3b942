"""Mounting: find FUSE, hand :class:`~kaikyo.snapshot.mount.ops.SnapshotFS` to libfuse, and
unmount cleanly on SIGINT, SIGTERM or SIGHUP.

Why mfusepy (ctypes bindings to libfuse 3's high-level API) and not pyfuse3: it needs no
compiler (pyfuse3 builds against libfuse3-dev, about 33 s on these machines, in every clean
install) and no trio: libfuse's own threads call the operations synchronously, which is how
the engine reads (threads; decryption and reads release the GIL), with no async twin of the
reading path. The price, a path per call instead of an inode, is a few dictionary lookups in
trees that are cached anyway.

libfuse runs in a thread of its own; the main thread keeps Python's signal handlers (libfuse
installs its own only where none is set, and a signal that reached one of its idle threads
would not end its loop) and, on a signal, unmounts with ``fusermount3 -u``, as restic does:
libfuse's loop then ends and the thread returns. ``fusermount3 -u`` from outside ends it the
same way. A mount still in use is detached lazily (``-z``): the processes using it keep it
until they let go, and then the command ends.

mfusepy is imported here only, when a mount starts, so the rest of kaikyo never needs it.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

from kaikyo.errors import UnavailableError

if TYPE_CHECKING:
    from kaikyo.snapshot.mount.ops import SnapshotFS

DEV_FUSE = "/dev/fuse"
FUSERMOUNT = "fusermount3"
INSTALL_HINT = "install FUSE 3: apt-get install fuse3 (and pip install 'kaikyo[mount]')"
POLL = 0.2  # seconds between looks for a signal or the end of libfuse's loop


@dataclass(frozen=True, slots=True)
class FuseOptions:
    """How the kernel is asked to mount: ``allow_other`` (users other than the one who
    mounted may read; needs ``user_allow_other`` in /etc/fuse.conf unless root) and
    ``default_permissions`` (the kernel checks the snapshots' modes and owners; restic's
    default, off with --no-default-permissions)."""

    allow_other: bool = False
    default_permissions: bool = True


def load_fuse(library: str | None = None) -> ModuleType:
    """mfusepy over libfuse 3, or UnavailableError saying what to install. ``library``: a
    path to libfuse3.so.3 (``FUSE_LIBRARY_PATH``), else the one the linker finds."""
    if not os.path.exists(DEV_FUSE):
        raise UnavailableError(
            f"FUSE is not available: {DEV_FUSE} is missing",
            "load the fuse module (modprobe fuse); in a container, pass the device "
            f"(--device {DEV_FUSE} --cap-add SYS_ADMIN); {INSTALL_HINT}",
        )
    if shutil.which(FUSERMOUNT) is None:
        raise UnavailableError(f"FUSE is not available: no {FUSERMOUNT}", INSTALL_HINT)
    path = library or ctypes.util.find_library("fuse3")
    if not path:
        raise UnavailableError("FUSE is not available: libfuse 3 is not installed", INSTALL_HINT)
    # mfusepy finds its library when imported, by this variable; without it, it would take
    # libfuse 2 where both are installed.
    os.environ["FUSE_LIBRARY_PATH"] = path
    try:
        import mfusepy  # optional dependency (kaikyo[mount]): imported only to mount
    except ImportError:
        raise UnavailableError(
            "the mount support is not installed (the Python package mfusepy)",
            "pip install 'kaikyo[mount]'",
        ) from None
    except (OSError, AttributeError) as exc:
        raise UnavailableError(
            f"FUSE is not available: libfuse 3 at {path} cannot be used ({exc})", INSTALL_HINT
        ) from None
    if mfusepy.fuse_version_major != 3:
        raise UnavailableError(
            f"FUSE is not available: {path} is libfuse {mfusepy.fuse_version_major}, not 3",
            f"point FUSE_LIBRARY_PATH at libfuse3.so.3; {INSTALL_HINT}",
        )
    module: ModuleType = mfusepy
    return module


@contextlib.contextmanager
def _signals_flag() -> Iterator[threading.Event]:
    """An event set by SIGINT, SIGTERM or SIGHUP while inside (handlers restored after)."""
    asked = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        asked.set()

    kinds = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, on_signal) for s in kinds}
    try:
        yield asked
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def unmount(mountpoint: str, warn: Callable[[str], None]) -> None:
    """``fusermount3 -u``; a busy mount is detached lazily, with a warning."""
    done = subprocess.run(
        [FUSERMOUNT, "-u", mountpoint], capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        return
    if "busy" in done.stderr.lower():
        warn(
            f"{mountpoint} is busy: detached; it stays readable to the processes using it, "
            "and kaikyo ends once they let go"
        )
        subprocess.run([FUSERMOUNT, "-u", "-z", mountpoint], capture_output=True, check=False)


def serve(
    fs: SnapshotFS,
    mountpoint: str,
    options: FuseOptions,
    warn: Callable[[str], None],
    library: str | None = None,
) -> None:
    """Mount ``fs`` at ``mountpoint`` (absolute) and serve it until unmounted: by a signal
    (then unmounted here) or by ``fusermount3 -u``. Must run in the main thread. Raises
    UnavailableError if FUSE is missing or libfuse could not mount (it says why on stderr)."""
    mfusepy = load_fuse(library)
    ready = threading.Event()
    announce = fs.on_ready

    def on_ready() -> None:
        ready.set()
        announce()

    fs.on_ready = on_ready
    outcome: dict[str, BaseException] = {}
    kwargs: dict[str, Any] = {
        "foreground": True,
        "ro": True,
        "fsname": "kaikyo",
        "subtype": "kaikyo",
        "max_idle_threads": 8,
        "encoding": "utf-8",
        "errors": "surrogateescape",
    }
    if options.allow_other:
        kwargs["allow_other"] = True
    if options.default_permissions:
        kwargs["default_permissions"] = True

    def loop() -> None:
        try:
            mfusepy.FUSE(fs, mountpoint, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc

    with _signals_flag() as asked:
        thread = threading.Thread(target=loop, name="fuse", daemon=True)
        thread.start()
        unmounting = False
        while thread.is_alive():
            thread.join(POLL)
            if asked.is_set() and ready.is_set() and not unmounting:
                unmounting = True
                unmount(mountpoint, warn)
    error = outcome.get("error")
    if isinstance(error, RuntimeError) and not ready.is_set():
        raise UnavailableError(
            f"could not mount at {mountpoint} (libfuse says why above)",
            "check the mount point and, for --allow-other, user_allow_other in /etc/fuse.conf",
        )
    if error is not None:
        raise error
