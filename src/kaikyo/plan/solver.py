"""The solver seam: a MILP in matrix form, and the default HiGHS adapter (scipy.optimize.milp).

The planner builds :class:`MilpProblem` values and never calls scipy directly, so the model can
be exercised with another solver (or a brute-force one in tests) behind :class:`Solver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy import optimize, sparse

FloatArray = npt.NDArray[np.float64]

OPTIMAL = "optimal"
TIME_LIMIT = "time-limit"
INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class MilpProblem:
    """minimise c @ x  s.t.  row_lb <= A @ x <= row_ub,  lb <= x <= ub,  x[integral] integer."""

    c: FloatArray
    a: sparse.csr_array
    row_lb: FloatArray
    row_ub: FloatArray
    lb: FloatArray
    ub: FloatArray
    integral: npt.NDArray[np.bool_]
    time_limit_s: float = 60.0
    mip_gap: float = 1e-6


@dataclass(frozen=True)
class MilpSolution:
    """``x`` is None only when no feasible point was found (status INFEASIBLE or TIME_LIMIT)."""

    status: str
    x: FloatArray | None
    objective: float
    gap: float


class Solver(Protocol):
    def solve(self, problem: MilpProblem) -> MilpSolution: ...


class HighsSolver:
    """scipy.optimize.milp (HiGHS branch and cut); optimal within ``mip_gap`` or the time limit."""

    def solve(self, problem: MilpProblem) -> MilpSolution:
        if not len(problem.c):  # nothing to decide (HiGHS refuses an empty model)
            ok = bool(np.all(problem.row_lb <= 0) and np.all(problem.row_ub >= 0))
            return MilpSolution(
                OPTIMAL if ok else INFEASIBLE,
                np.zeros(0) if ok else None,
                0.0 if ok else float("inf"),
                0.0,
            )
        constraints = []
        if problem.a.shape[0]:
            constraints.append(optimize.LinearConstraint(problem.a, problem.row_lb, problem.row_ub))
        result = optimize.milp(
            problem.c,
            constraints=constraints,
            integrality=problem.integral.astype(np.int8),
            bounds=optimize.Bounds(problem.lb, problem.ub),
            options={
                "time_limit": problem.time_limit_s,
                "mip_rel_gap": problem.mip_gap,
                "presolve": True,
            },
        )
        gap = float(getattr(result, "mip_gap", 0.0) or 0.0)
        if result.x is None:
            return MilpSolution(
                INFEASIBLE if result.status == 2 else TIME_LIMIT, None, float("inf"), gap
            )
        status = OPTIMAL if result.status == 0 else TIME_LIMIT
        return MilpSolution(status, np.asarray(result.x, dtype=np.float64), float(result.fun), gap)
