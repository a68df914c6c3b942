"""Who a request acts as, apart from the :class:`~kaikyo.server.admin.Haven` that resolves it.

Its own module so that what checks a principal (``locks``, ``handlers``) need not import the
haven's administration, which itself uses those checks (``Haven.recover`` settles locks).
"""

from __future__ import annotations

from dataclasses import dataclass

from kaikyo.server.tokens import Scope


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: resolved from its token before any protocol handling."""

    tenant_id: int
    tenant: str
    token_id: str
    scope: Scope
    verify_names: bool
