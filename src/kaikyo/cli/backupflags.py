"""backup's flags beyond the paths, with restic's names and meanings: what the walk leaves
out (``--exclude-caches``, ``--exclude-if-present``, ``--exclude-larger-than``) and how the
session reads and writes (``--read-concurrency``, ``--compression``, ``--pack-size``).

Every value is checked here, before the repository is opened: a bad one is one line and exit
64 (or 23 for a bad environment variable), and nothing is read or written.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from kaikyo.cli import config
from kaikyo.cli.context import CliContext
from kaikyo.snapshot import CACHEDIR_TAG, TagFile, parse_tag_file
from kaikyo.units import parse_size


def register_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--exclude-caches",
        action="store_true",
        help="leave out the contents of directories holding a CACHEDIR.TAG that starts with "
        "its signature (https://bford.info/cachedir/); the directory and the tag are kept",
    )
    p.add_argument(
        "--exclude-if-present",
        action="append",
        default=[],
        metavar="FILE[:HEADER]",
        help="leave out the contents of directories holding FILE (whose content starts with "
        "HEADER, if given); the directory and FILE are kept (repeatable)",
    )
    p.add_argument(
        "--exclude-larger-than",
        metavar="SIZE",
        help="leave out files larger than SIZE: bytes, or with K, M, G, T (1024-based), e.g. 500M",
    )


def register_tuning(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--read-concurrency",
        type=config.read_concurrency,
        metavar="N",
        help=f"read files with N readers, 1 to {config.MAX_READERS} "
        "(default: KAIKYO_WORKERS, or the cores up to 4)",
    )
    p.add_argument(
        "--compression",
        metavar="MODE",
        help="auto (the repository's level, zstd 3), off (store blobs uncompressed) or max "
        "(zstd 19: smaller, far slower; restic's max is near zstd 11) (env KAIKYO_COMPRESSION; "
        "default auto)",
    )
    p.add_argument(
        "--pack-size",
        metavar="MIB",
        help="target size of new packs in MiB, 4 to 128 (env KAIKYO_PACK_SIZE; default: the "
        "repository's, 16)",
    )
    p.add_argument(
        "--skip-if-unchanged",
        action="store_true",
        help="save no snapshot if nothing changed since the last one of this host and paths",
    )


@dataclass(frozen=True, slots=True)
class BackupFlags:
    """The checked values, as :class:`kaikyo.snapshot.BackupOptions` takes them."""

    tag_files: tuple[TagFile, ...]
    max_file_size: int | None
    workers: int
    compression: config.CompressionMode
    pack_size: int | None


def resolve(args: argparse.Namespace, ctx: CliContext) -> BackupFlags:
    specs = list(args.exclude_if_present)
    if args.exclude_caches:
        specs.append(CACHEDIR_TAG)
    limit = args.exclude_larger_than
    return BackupFlags(
        tag_files=tuple(dict.fromkeys(parse_tag_file(s) for s in specs)),
        max_file_size=None if limit is None else parse_size(limit, "--exclude-larger-than size"),
        workers=config.worker_count(ctx, args.read_concurrency),
        compression=config.compression(args, ctx),
        pack_size=config.pack_size(args, ctx),
    )
