"""Blob I/O by name. Knows nothing about encryption, packs or snapshots.

Vocabulary: an *object* is an immutable byte string under a *name* (see :mod:`.names`); a
*store* holds objects (see :class:`.base.Store` for the contract every backend keeps).
"""

from kaikyo.store.base import ObjectInfo, Store
from kaikyo.store.errors import (
    InvalidName,
    InvalidRange,
    ObjectExists,
    ObjectNotFound,
    StoreAuthFailed,
    StoreCorrupt,
    StoreError,
    StoreNoSpace,
    StorePermissionDenied,
    StoreQuotaExceeded,
    StoreUnavailable,
)
from kaikyo.store.names import validate_name, validate_prefix
from kaikyo.store.options import StoreOptions
from kaikyo.store.readonly import ReadOnlyStore
from kaikyo.store.registry import StoreRegistry, default_registry, open_store

__all__ = [
    "InvalidName",
    "InvalidRange",
    "ObjectExists",
    "ObjectInfo",
    "ObjectNotFound",
    "ReadOnlyStore",
    "Store",
    "StoreAuthFailed",
    "StoreCorrupt",
    "StoreError",
    "StoreNoSpace",
    "StoreOptions",
    "StorePermissionDenied",
    "StoreQuotaExceeded",
    "StoreRegistry",
    "StoreUnavailable",
    "default_registry",
    "open_store",
    "validate_name",
    "validate_prefix",
]
