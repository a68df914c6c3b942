"""Every magic number, version and byte layout of the repository format (see docs/FORMAT.md).

Writers emit exactly the current version; readers accept every version in the SUPPORTED tuple.
An algorithm id is never reused: a retired algorithm stays decode-only.

This module sits at the root of :mod:`kaikyo.core`, not in :mod:`kaikyo.core.format`, and
imports nothing: the algorithm leaves (compression, crypto, chunking) need their on-disk ids
and the format codecs need those leaves, so constants inside ``format`` made ``format`` and
the leaves import each other. Here every core package depends on it and it on none.
"""

from __future__ import annotations

REPO_VERSION = 1
SUPPORTED_REPO_VERSIONS = (1,)

# Sealed object (config, key slot payload, index, snapshot, lock, pack header):
#   version:u8 | nonce:12 | AES-256-GCM(comp:u8 | payload, aad=KIND)  (tag: last 16 bytes)
SEALED_VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
SEALED_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE + 1

# Kinds bind a sealed object to its role, so an index can never be replayed as a snapshot.
KIND_CONFIG = b"kaikyo/config"
KIND_INDEX = b"kaikyo/index"
KIND_SNAPSHOT = b"kaikyo/snapshot"
KIND_LOCK = b"kaikyo/lock"
KIND_PACK_HEADER = b"kaikyo/pack-header"
KIND_KEY = b"kaikyo/key"

# Blob inside a pack:
#   nonce:12 | AES-256-GCM(comp:u8 | payload, aad=type:u8 | blob_id:32)
BLOB_OVERHEAD = NONCE_SIZE + TAG_SIZE + 1

# Blob types
BLOB_DATA = 0
BLOB_TREE = 1
BLOB_TYPES = (BLOB_DATA, BLOB_TREE)

# Compression ids (on disk)
COMP_NONE = 0
COMP_ZSTD = 1

# Pack: blob* | header_sealed | header_len:u32le
# Header plaintext: version:u8 | count:u32le | entry*  with
#   entry = type:u8 | blob_id:32 | offset:u32le | length:u32le | raw_length:u32le
PACK_HEADER_VERSION = 1
PACK_ENTRY_SIZE = 1 + 32 + 4 + 4 + 4
PACK_TRAILER_SIZE = 4

# Index file plaintext: version:u8 | (pack_id:32 | count:u32le | entry*)*  (same entry layout)
INDEX_VERSION = 1

# Chunker ids
CHUNKER_FASTCDC = 1

# Id hash ids
IDHASH_BLAKE3_KEYED = 1

# Cipher ids
CIPHER_AES256_GCM = 1

# KDF ids
KDF_ARGON2ID = "argon2id"
KDF_RECOVERY = "recovery-hkdf"

# Object-name layout in a store
CONFIG_NAME = "config"
DATA_PREFIX = "data/"
INDEX_PREFIX = "index/"
SNAPSHOT_PREFIX = "snapshots/"
KEY_PREFIX = "keys/"
LOCK_PREFIX = "locks/"

ID_SIZE = 32

# The largest object of each kind a reader accepts: anything bigger is not one (a planted or
# damaged object) and is skipped without being read into memory. A lock is about 200 bytes, a
# key slot about 500, a snapshot manifest a few KiB (plus the files it could not read).
MAX_LOCK_SIZE = 4 * 1024
MAX_KEY_SLOT_SIZE = 64 * 1024
MAX_SNAPSHOT_SIZE = 64 * 1024 * 1024
