"""The haven: a multi-tenant, zero-knowledge object server for kaikyo repositories (ASGI).

Vocabulary: a *tenant* owns *repositories*; a *token* (scope backup, restore or admin) acts for
one tenant; a *principal* is what a token resolves to. The server stores ciphertext objects
whose names are hashes of their bytes, verifies those hashes while uploads stream, enforces
tenancy, scopes, quotas and delayed deletion, and writes a hash-chained audit log. It imports
only :mod:`kaikyo.store`, :mod:`kaikyo.errors` and :mod:`kaikyo.clock`, and never holds a key.

Layers (outer to inner): :mod:`.app` (route table, metrics) -> :mod:`.auth` (token, tenant,
scope) -> :mod:`.handlers` (object protocol) -> :mod:`.objects`/:mod:`.trash`/:mod:`.quota`.
Operator actions live in :mod:`.admin`; metadata schema and migrations in :mod:`.db`.
"""

from kaikyo.server.admin import Haven
from kaikyo.server.app import create_app
from kaikyo.server.principal import Principal
from kaikyo.server.settings import HavenSettings

__all__ = ["Haven", "HavenSettings", "Principal", "create_app"]
