"""Which commands need an optional extra, and the one line said when it is not installed.

The base install (``pip install kaikyo``) is the engine and the CLI, what an agent on a
protected server carries; the haven's web stack and the planner's solver are extras
(``kaikyo[haven]``, ``kaikyo[plan]``). Command modules import their heavy dependencies at
module level, and only the command being run is imported (``cli/main.py``), so a missing extra
shows up as a :class:`ModuleNotFoundError` naming one of the modules below, turned here into
:class:`~kaikyo.errors.MissingExtraError` instead of a traceback.
"""

from __future__ import annotations

from kaikyo.errors import MissingExtraError

# The top-level modules each extra brings, by import name (the distributions are in
# pyproject.toml; tests/unit/cli/test_extras.py keeps the two in step).
EXTRA_MODULES: dict[str, frozenset[str]] = {
    "haven": frozenset({"anyio", "h11", "prometheus_client", "sqlalchemy", "starlette", "uvicorn"}),
    "plan": frozenset({"holidays", "matplotlib", "redfish", "scipy", "xlsxwriter", "yaml"}),
}

COMMAND_EXTRA: dict[str, str] = {
    "serve": "haven",
    "tenant": "haven",
    "token": "haven",
    "haven": "haven",
    "plan": "plan",
    "inventory": "plan",
}


def missing_extra(command: str, exc: ModuleNotFoundError) -> MissingExtraError | None:
    """The error to show when importing ``command``'s module failed for want of a module its
    extra brings; None for anything else (a broken install is a bug: traceback)."""
    extra = COMMAND_EXTRA.get(command)
    module = (exc.name or "").partition(".")[0]
    if extra is None or module not in EXTRA_MODULES[extra]:
        return None
    return MissingExtraError(
        f"kaikyo {command} needs the {extra} extra: pip install 'kaikyo[{extra}]'",
        f"the module {module} is not installed",
    )
