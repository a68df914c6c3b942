"""Key slots: list them, add a passphrase, remove one (never the one in use or the last).

A slot wraps the master key under a passphrase (or the recovery key); removing a slot stops
that passphrase from opening the repository, but does not change the master key: whoever
read the key before still can (docs/FORMAT.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kaikyo.core.constants import (
    KEY_PREFIX,
    MAX_KEY_SLOT_SIZE,
)
from kaikyo.core.crypto.keys import make_key_slot, parse_key_slot
from kaikyo.core.ids import object_id
from kaikyo.errors import NotFoundError, UsageError
from kaikyo.repo.badobjects import OBJECT_ERRORS, reason_of
from kaikyo.repo.packer import put_content_addressed
from kaikyo.repo.slots import slot_meta
from kaikyo.repo.state import RepositoryState, hex_from_name
from kaikyo.store import ObjectNotFound


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    kind: str
    user: str
    host: str
    created: float
    current: bool


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class KeyRing(RepositoryState):
    """The key slots of an open repository."""

    def list_keys(self) -> list[KeyInfo]:
        """The key slots that parse; the others are reported as bad objects."""
        from kaikyo.core.crypto.keys import SlotRefused

        out = []
        for info in self.store.list(KEY_PREFIX):
            kid = hex_from_name(info.name)
            try:
                if info.size > MAX_KEY_SLOT_SIZE:
                    raise SlotRefused(f"{info.size} bytes is too large for a key slot")
                doc = parse_key_slot(self.store.get(info.name))
            except ObjectNotFound:
                continue
            except OBJECT_ERRORS as exc:
                self.bad.report(info.name, reason_of(exc))
                continue
            out.append(
                KeyInfo(
                    kid,
                    str(doc.get("kind", "passphrase")),
                    str(doc.get("user", "")),
                    str(doc.get("host", "")),
                    _number(doc.get("created")),
                    kid == self.key_id,
                )
            )
        return sorted(out, key=lambda k: k.created)

    def add_key(
        self,
        password: str,
        meta: dict[str, Any] | None = None,
        kdf_cost: tuple[int, int] | None = None,
    ) -> str:
        if not password:
            raise UsageError("an empty passphrase is not allowed")
        t, m = kdf_cost or (None, None)
        slot = make_key_slot(
            self.key, password.encode(), meta=slot_meta(meta), time_cost=t, memory_kib=m
        )
        kid = object_id(slot)
        put_content_addressed(self.store, KEY_PREFIX + kid, slot)
        return kid

    def remove_key(self, key_prefix: str) -> str:
        """Remove the key slot whose id starts with ``key_prefix``: a passphrase or recovery
        slot (never the one in use, nor the last passphrase), or a slot that does not parse."""
        keys = self.list_keys()
        bad_ids = [hex_from_name(b.name) for b in self.bad.of_kind(KEY_PREFIX)]
        matches = [k.key_id for k in keys if k.key_id.startswith(key_prefix)]
        matches += [kid for kid in bad_ids if kid.startswith(key_prefix)]
        if not matches:
            raise NotFoundError(f"no key matches {key_prefix!r}")
        if len(matches) > 1:
            raise UsageError(f"key id {key_prefix!r} is ambiguous")
        victim_id = matches[0]
        victim = next((k for k in keys if k.key_id == victim_id), None)
        if victim is not None:
            if victim.current:
                raise UsageError(
                    "refusing to remove the key in use",
                    "open the repository with another key to remove this one",
                )
            passphrase_keys = [k for k in keys if k.kind == "passphrase"]
            if victim.kind == "passphrase" and len(passphrase_keys) <= 1:
                raise UsageError("refusing to remove the last passphrase key")
        self.store.delete(KEY_PREFIX + victim_id)
        self.bad.forget(KEY_PREFIX + victim_id)
        return victim_id
