"""The evacuation MILP over movable groups and waves.

Variables ``y[g, w]`` (binary) mean "group g has been cut over by the end of wave w"; they are
monotone in w, so ``y[g, w] - y[g, w-1]`` is the wave in which g moves and ``y[g, W-1]`` says
whether it moves at all. This cumulative form needs no "at most one wave" rows and gives HiGHS
a much tighter relaxation than per-wave assignment variables.

Constraint families (each can be dropped or turned into a variable to explain infeasibility):

- ``link``: bytes of groups cut over by wave w <= link GB available up to the end of wave w;
- ``cutovers``: servers cut over in wave w <= servers per wave;
- ``window``: final deltas of wave w fit in the cut-over window after the fixed overhead;
- ``haven``: average kW added at the haven <= its capacity;
- ``target``: kW taken off the primary's peak >= the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from kaikyo.plan.calendar import WaveSlot
from kaikyo.plan.groups import Group
from kaikyo.plan.model import Objective, PlanRequest, Site
from kaikyo.plan.solver import FloatArray, MilpProblem

LINK, CUTOVERS, WINDOW, HAVEN, TARGET = "link", "cutovers", "window", "haven", "target"

MIN_COST = "min-cost"
MAX_REDUCTION = "max-reduction"


@dataclass(frozen=True)
class Instance:
    """Everything one MILP is built from: the movable groups, the waves and the limits."""

    groups: tuple[Group, ...]
    slots: tuple[WaveSlot, ...]
    site: Site
    request: PlanRequest
    target_kw: float


@dataclass(frozen=True)
class Spec:
    """Which problem to build: what to minimise, which families to drop, which to stretch.

    ``stretch`` names one family whose right-hand side is multiplied by a continuous variable
    s >= 0 that the objective minimises: "how much link / how many cut-overs would it take?".
    """

    mode: str = MIN_COST
    drop: frozenset[str] = field(default_factory=frozenset)
    stretch: str | None = None
    min_reduction_kw: float | None = None  # floor on reduction (used to tie-break MAX_REDUCTION)


def group_cost(group: Group, request: PlanRequest) -> float:
    """What moving this group costs under the request's objective."""
    tier_weight = {1: 3.0, 2: 2.0}.get(group.tier, 1.0)
    downtime = group.n_servers * group.downtime_h * tier_weight
    if request.objective == Objective.BYTES:
        return group.send_gb
    if request.objective == Objective.DOWNTIME:
        return downtime
    w = request.weights
    return w.per_tb * group.send_gb / 1000.0 + w.per_downtime_hour * downtime


class _Rows:
    """Accumulates sparse rows as COO triplets (fast for thousands of groups)."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lb: list[float] = []
        self.ub: list[float] = []

    def add_pairs(self, first: np.ndarray, second: np.ndarray) -> None:
        """Many rows ``x[first[i]] - x[second[i]] <= 0`` at once."""
        k, row0 = len(first), len(self.lb)
        rows = np.arange(row0, row0 + k)
        self.r.append(np.concatenate([rows, rows]))
        self.c.append(np.concatenate([first, second]))
        self.v.append(np.concatenate([np.ones(k), -np.ones(k)]))
        self.lb.extend([-np.inf] * k)
        self.ub.extend([0.0] * k)

    def add(self, cols: np.ndarray, vals: np.ndarray, lb: float, ub: float) -> None:
        row = len(self.lb)
        self.r.append(np.full(len(cols), row))
        self.c.append(cols)
        self.v.append(vals)
        self.lb.append(lb)
        self.ub.append(ub)

    def matrix(self, n: int) -> sparse.csr_array:
        if not self.lb:
            return sparse.csr_array((0, n))
        return sparse.csr_array(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(len(self.lb), n),
        )


def build(inst: Instance, spec: Spec) -> MilpProblem:
    """Build the MILP; the last variable is the stretch factor when ``spec.stretch`` is set."""
    g_n, w_n = len(inst.groups), len(inst.slots)
    idx = np.arange(g_n * w_n).reshape(g_n, w_n)
    rows = _Rows()
    _monotone(rows, idx)
    _limits(rows, inst, spec, idx)
    return _problem(rows, inst, spec, idx)


def _monotone(rows: _Rows, idx: np.ndarray) -> None:
    """y[g, w] <= y[g, w+1]: once cut over, a group stays at the haven."""
    if idx.shape[1] > 1:
        rows.add_pairs(idx[:, :-1].ravel(), idx[:, 1:].ravel())


def _limits(rows: _Rows, inst: Instance, spec: Spec, idx: np.ndarray) -> None:
    groups, slots, site, request = inst.groups, inst.slots, inst.site, inst.request
    w_n = idx.shape[1]
    last = idx[:, w_n - 1] if w_n else np.array([], dtype=int)
    send = np.array([g.send_gb for g in groups])
    _per_wave(rows, spec, idx, family=LINK, coef=send, rhs=[s.cumulative_gb for s in slots])
    if request.servers_per_wave is not None:
        count = np.array([float(g.n_servers) for g in groups])
        per_wave = float(request.servers_per_wave)
        _per_wave(rows, spec, idx, family=CUTOVERS, coef=count, rhs=[per_wave] * w_n)
    rooms = [s.delta_room_gb for s in slots]
    if all(r is not None for r in rooms) and w_n:
        delta = np.array([g.final_delta_gb for g in groups])
        _per_wave(rows, spec, idx, family=WINDOW, coef=delta, rhs=[r or 0.0 for r in rooms])
    if site.haven_capacity_kw is not None and HAVEN not in spec.drop and w_n:
        rows.add(last, np.array([g.kw_avg_haven for g in groups]), -np.inf, site.haven_capacity_kw)
    kw = np.array([g.kw_peak for g in groups])
    floor = inst.target_kw if spec.mode == MIN_COST else spec.min_reduction_kw
    if floor is not None and TARGET not in spec.drop and w_n:
        rows.add(last, kw, floor, np.inf)


def _per_wave(
    rows: _Rows, spec: Spec, idx: np.ndarray, *, family: str, coef: np.ndarray, rhs: list[float]
) -> None:
    """One row per wave; LINK counts what is cut over *by* wave w, the others *in* wave w."""
    if family in spec.drop:
        return
    g_n, w_n = idx.shape
    for w in range(w_n):
        cols, vals = idx[:, w], coef
        if family != LINK and w > 0:
            cols = np.concatenate([cols, idx[:, w - 1]])
            vals = np.concatenate([coef, -coef])
        if spec.stretch == family:
            rows.add(
                np.concatenate([cols, [g_n * w_n]]), np.concatenate([vals, [-rhs[w]]]), -np.inf, 0.0
            )
        else:
            rows.add(cols, vals, -np.inf, rhs[w])


def _problem(rows: _Rows, inst: Instance, spec: Spec, idx: np.ndarray) -> MilpProblem:
    g_n, w_n = idx.shape
    n_y = g_n * w_n
    n = n_y + (1 if spec.stretch else 0)
    last = idx[:, w_n - 1] if w_n else np.array([], dtype=int)
    kw = np.array([g.kw_peak for g in inst.groups])
    c = np.zeros(n)
    if spec.stretch:
        c[n_y] = 1.0
    elif spec.mode == MAX_REDUCTION and spec.min_reduction_kw is None:
        c[last] = -kw
    elif w_n:
        c[last] = np.array([group_cost(g, inst.request) for g in inst.groups])
    integral = np.ones(n, dtype=bool)
    ub: FloatArray = np.ones(n)
    if spec.stretch:
        integral[n_y] = False
        ub[n_y] = np.inf
    return MilpProblem(
        c=c,
        a=rows.matrix(n),
        row_lb=np.array(rows.lb),
        row_ub=np.array(rows.ub),
        lb=np.zeros(n),
        ub=ub,
        integral=integral,
        time_limit_s=inst.request.time_limit_s,
        mip_gap=inst.request.mip_gap,
    )


def _selection_totals(
    inst: Instance, spec: Spec, ub: FloatArray
) -> list[tuple[str, np.ndarray, float]]:
    """Each per-wave limit summed over the waves: (family, coefficient per group, bound).
    A group that can never fit one wave gets an upper bound of 0 in ``ub``."""
    groups, request, w_n = inst.groups, inst.request, len(inst.slots)
    g_n = len(groups)
    totals: list[tuple[str, np.ndarray, float]] = [
        (LINK, np.array([g.send_gb for g in groups]), inst.slots[-1].cumulative_gb if w_n else 0.0)
    ]
    if request.servers_per_wave is not None:
        count = np.array([float(g.n_servers) for g in groups])
        totals.append((CUTOVERS, count, float(request.servers_per_wave) * w_n))
        if spec.stretch != CUTOVERS:  # a group larger than a wave can never move
            ub[:g_n][count > request.servers_per_wave] = 0.0
    rooms = [s.delta_room_gb or 0.0 for s in inst.slots]
    if w_n and all(s.delta_room_gb is not None for s in inst.slots):
        delta = np.array([g.final_delta_gb for g in groups])
        totals.append((WINDOW, delta, sum(rooms)))
        if spec.stretch != WINDOW:  # a group whose delta fits no window can never move
            ub[:g_n][delta > max(rooms)] = 0.0
    return totals


def build_selection(inst: Instance, spec: Spec) -> MilpProblem:
    """The relaxation over ``x[g]`` = "group g moves", with every per-wave limit summed over
    the waves (and the link's taken at the deadline).

    Any schedule satisfies these sums, so this problem's optimum bounds the full one; when
    :func:`kaikyo.plan.schedule.pack_waves` finds waves for its answer, that answer is optimal
    for the full MILP too. It has one binary per group instead of one per group and wave.
    """
    groups, site, request, w_n = inst.groups, inst.site, inst.request, len(inst.slots)
    g_n = len(groups)
    n = g_n + (1 if spec.stretch else 0)
    cols = np.arange(g_n)
    rows = _Rows()
    ub: FloatArray = np.ones(n)
    totals = _selection_totals(inst, spec, ub)
    for family, coef, rhs in totals:
        if family in spec.drop:
            continue
        if spec.stretch == family:
            rows.add(np.append(cols, g_n), np.append(coef, -rhs), -np.inf, 0.0)
        else:
            rows.add(cols, coef, -np.inf, rhs)
    if site.haven_capacity_kw is not None and HAVEN not in spec.drop:
        rows.add(cols, np.array([g.kw_avg_haven for g in groups]), -np.inf, site.haven_capacity_kw)
    kw = np.array([g.kw_peak for g in groups])
    floor = inst.target_kw if spec.mode == MIN_COST else spec.min_reduction_kw
    if floor is not None and TARGET not in spec.drop:
        rows.add(cols, kw, floor, np.inf)
    if not w_n:
        ub[:g_n] = 0.0
    c = np.zeros(n)
    if spec.stretch:
        c[g_n] = 1.0
    elif spec.mode == MAX_REDUCTION and spec.min_reduction_kw is None:
        c[:g_n] = -kw
    else:
        c[:g_n] = np.array([group_cost(g, request) for g in groups])
    integral = np.ones(n, dtype=bool)
    if spec.stretch:
        integral[g_n] = False
        ub[g_n] = np.inf
    return MilpProblem(
        c=c,
        a=rows.matrix(n),
        row_lb=np.array(rows.lb),
        row_ub=np.array(rows.ub),
        lb=np.zeros(n),
        ub=ub,
        integral=integral,
        time_limit_s=request.time_limit_s,
        mip_gap=request.mip_gap,
    )


def decode(x: FloatArray, n_groups: int, n_waves: int) -> list[int | None]:
    """The 1-based wave of each group, or None if it stays."""
    y = x[: n_groups * n_waves].reshape(n_groups, n_waves) > 0.5
    waves: list[int | None] = []
    for g in range(n_groups):
        moved = np.flatnonzero(y[g])
        waves.append(int(moved[0]) + 1 if len(moved) else None)
    return waves
