"""Pack a chosen set of groups into waves without a solver.

Link capacity is cumulative, so load placed late never breaks an earlier wave's limit; the
packer therefore fills waves from the last one backwards, largest transfers first, and checks
what is left against each earlier wave's cumulative capacity. Cut-overs and final-delta windows
are per-wave bins. When the packer fails the planner falls back to the full MILP, so a miss
here costs time, never optimality.
"""

from __future__ import annotations

from collections.abc import Sequence

from kaikyo.plan.calendar import WaveSlot
from kaikyo.plan.groups import Group
from kaikyo.plan.model import PlanRequest, Site

_EPS = 1e-9


def pack_waves(
    groups: Sequence[Group],
    chosen: Sequence[bool],
    slots: Sequence[WaveSlot],
    site: Site,
    request: PlanRequest,
) -> list[int | None] | None:
    """A wave (1-based) for every chosen group, None for the others; None if packing fails."""
    waves: list[int | None] = [None] * len(groups)
    left = sorted((i for i, c in enumerate(chosen) if c), key=lambda i: -groups[i].send_gb)
    for slot in reversed(slots):
        room = slot.delta_room_gb
        count, delta, placed, kept = 0, 0.0, 0.0, []
        for i in left:
            g = groups[i]
            fits_count = (
                request.servers_per_wave is None or count + g.n_servers <= request.servers_per_wave
            )
            fits_window = room is None or delta + g.final_delta_gb <= room * (1 + _EPS)
            if fits_count and fits_window:
                waves[i] = slot.index
                count += g.n_servers
                delta += g.final_delta_gb
                placed += g.send_gb
            else:
                kept.append(i)
        left = kept
        # Everything in this wave and every earlier one must be through the link by this
        # wave's cut-over.
        if placed + sum(groups[i].send_gb for i in left) > slot.cumulative_gb * (1 + _EPS):
            return None
    return None if left else waves
