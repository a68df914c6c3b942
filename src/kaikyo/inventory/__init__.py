"""Live fleet inventory from servers' BMCs over DMTF Redfish.

This package does network I/O, so it sits beside kaikyo.store, not inside the pure planner.
Vocabulary: a **BMC** is one Redfish service (a URL); each of its chassis with a power reading
becomes one **inventory row** in the fleet schema, with ``power_source`` = ``measured`` when the
BMC reported watts and ``rated`` when the row fell back to nameplate figures (``note`` says why).
"""

from kaikyo.inventory.readings import InventoryRow, rated_row, rows_from_service
from kaikyo.inventory.redfish_client import discover

__all__ = ["InventoryRow", "discover", "rated_row", "rows_from_service"]
