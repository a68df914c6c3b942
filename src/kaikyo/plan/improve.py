"""Pull moves into earlier waves when every limit still holds.

The MILP's objective only prices *which* groups move, so among equally cheap schedules it may
leave a group later than necessary. Moving it earlier keeps the set (and the objective) and
takes load off the primary sooner, so a greedy pass after the solve is a free improvement.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kaikyo.plan.calendar import WaveSlot
from kaikyo.plan.groups import Group
from kaikyo.plan.model import PlanRequest, Site


def pull_earlier(
    groups: Sequence[Group],
    waves: Sequence[int | None],
    slots: Sequence[WaveSlot],
    site: Site,
    request: PlanRequest,
) -> list[int | None]:
    w_n = len(slots)
    result = list(waves)
    send = np.zeros(w_n)
    count = np.zeros(w_n)
    delta = np.zeros(w_n)
    for g, w in zip(groups, result, strict=True):
        if w is not None:
            send[w - 1] += g.send_gb
            count[w - 1] += g.n_servers
            delta[w - 1] += g.final_delta_gb
    cum_cap = np.array([s.cumulative_gb for s in slots])
    order = sorted(
        (i for i, w in enumerate(result) if w is not None and w > 1),
        key=lambda i: -groups[i].kw_peak,
    )
    for i in order:
        g, old = groups[i], result[i]
        assert old is not None
        cum = np.cumsum(send)
        for new in range(1, old):
            lo, hi = new - 1, old - 1
            if np.any(cum[lo:hi] + g.send_gb > cum_cap[lo:hi] * (1 + 1e-9)):
                continue
            if request.servers_per_wave is not None and (
                count[lo] + g.n_servers > request.servers_per_wave
            ):
                continue
            room = slots[lo].delta_room_gb
            if room is not None and delta[lo] + g.final_delta_gb > room * (1 + 1e-9):
                continue
            send[lo] += g.send_gb
            send[hi] -= g.send_gb
            count[lo] += g.n_servers
            count[hi] -= g.n_servers
            delta[lo] += g.final_delta_gb
            delta[hi] -= g.final_delta_gb
            result[i] = new
            break
    return result
