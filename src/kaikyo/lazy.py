"""Package exports imported on first use (PEP 562).

``kaikyo.core``, ``kaikyo.repo`` and ``kaikyo.snapshot`` re-export their main names this way,
so that importing one small module of a package does not load the whole engine: a command
opens its key (Argon2id, 48 MiB for a moment) before NumPy and the codecs are loaded. Type
checkers see the names through ``if TYPE_CHECKING`` imports in each package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def exports(package: str, where: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``where`` maps each exported name to the
    submodule defining it; a name, once imported, is cached in ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
