"""The old home of the format constants, kept so existing importers keep working.

The constants live in :mod:`kaikyo.core.constants` (see its docstring for why); new code
imports them from there. This module only re-exports them, the same objects.
"""

from kaikyo.core.constants import *  # noqa: F403
