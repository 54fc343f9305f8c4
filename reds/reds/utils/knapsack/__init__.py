"""Knapsack formulations of REDS (``utils/knapsack.py`` in FraCorti/REDS) and the solvers that answer them.

- ``problem``: the two problems as in the original, ``LayerKnapsack`` (DNN / CNN, one binary per unit) and
  ``DSCNNKnapsack`` (with pointwise-kernel variables): data, cost model, objective, nesting bounds.
- ``exact``: the exact width dynamic program (the default solver) and brute-force enumeration (tests).
- ``milp``: the original's binary formulations in matrix form, solved by HiGHS or Gurobi.
- here: ``solve`` (one budget, any solver) and ``iterative_knapsack`` (the bottom-up / top-down driver).

Memory (quirk Q8): the original computes memory targets but never constrains them, so ``memory_budget=None``
(unconstrained) is the faithful default. Given per-unit memory costs (parameters or bytes; the budget uses the
same unit), ``memory(widths)`` reports a selection's memory, and a ``memory_budget`` adds one row
``sum memory[unit] * x[unit] <= memory_budget`` to every solver (DP, HiGHS, Gurobi, brute force). Per-unit
memory costs, as the caller builds them from the full model:

- DNN neuron: fan-in weights + bias (``N_{l-1} + 1``; full fan-in, conservative like the MAC cost);
- CNN filter and DS-CNN first-conv filter: ``kh * kw * cin + 1``;
- DS-CNN depthwise channel: ``kh * kw * multiplier + 1`` (10 for 3x3);
- DS-CNN pointwise kernel (one input channel of one filter): 1, plus ``pw_memory`` (1, its bias) per kept
  pointwise filter.

BN parameters and the classifier are not counted (as in the loss weights' parameter share). For DS-CNN the
memory of the widths is then the exact parameter count of the conv stack; for DNN/CNN it is the full-fan-in
upper bound.

Solvers: ``dp`` (exact width dynamic program, the default: licence-free and fast on these structures; with
a memory budget see the ``solve_dp`` docstrings), ``highs`` (``scipy.optimize.milp`` on the full binary
formulation, time limit, gap 0), ``gurobi`` (only when gurobipy is importable and licensed; the pip
package's licence is size-limited to 2,000 variables and 2,000 constraints, which fits DNN S/L and CNN but
not DS-CNN, and a larger model raises ``SolverLicenceLimit``) and ``brute_force`` (enumeration, for tests).
Every solve returns a ``SolveResult`` with objective, bound, gap, status, wall time and, with memory costs,
the selection's memory.
"""

from reds.utils.knapsack.milp import gurobi_available, gurobi_fits, milp_size, solve_milp
from reds.utils.knapsack.problem import (
    _KEEP,
    DPTooLarge,
    DSCNNKnapsack,
    KnapsackInfeasible,
    LayerKnapsack,
    SolveResult,
    SolverLicenceLimit,
    SolverTimeLimit,
)

SOLVERS = ("dp", "highs", "gurobi", "brute_force")
__all__ = ["SOLVERS", "DPTooLarge", "DSCNNKnapsack", "KnapsackInfeasible", "LayerKnapsack", "SolveResult",
           "SolverLicenceLimit", "SolverTimeLimit", "gurobi_available", "gurobi_fits", "iterative_knapsack",
           "mac_targets", "milp_size", "nesting_violations", "solve"]


def solve(problem, solver="dp", time_limit=None, verbose=False, max_budget_steps=None):
    """Solve one knapsack with the named solver (see ``SOLVERS``)."""
    if solver == "dp":
        if isinstance(problem, DSCNNKnapsack):
            return problem.solve_dp(max_budget_steps=max_budget_steps)
        return problem.solve_dp()
    if solver == "brute_force":
        return problem.solve_brute_force()
    if solver == "gurobi" and not gurobi_available():
        raise RuntimeError("--solver gurobi needs gurobipy with a licence (pip install gurobipy; set "
                           "GRB_LICENSE_FILE or --gurobi_license_file); use --solver dp or highs instead")
    if solver in ("highs", "gurobi"):
        return solve_milp(problem, solver, time_limit, verbose)
    raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")


# --------------------------------------------------------------------------------------------------------------
# Iterative bottom-up / top-down driver


def mac_targets(total_macs, percentages):
    """MAC target per percentage, as in the original: ``round(total * p)``.

    The original's (unused) memory targets are the same rounding of the total memory:
    ``mac_targets(problem.total_memory(), percentages)``.
    """
    return [int(round(total_macs * p)) for p in percentages]


def iterative_knapsack(problem, percentages, bottom_up=True, solver="dp", solver_time_limit=None,
                       solver_max_iterations=3, carry_residual=False, td_nested=False, log=print,
                       max_budget_steps=None, memory_targets=None):
    """Solve one knapsack per MAC percentage and return the results in ascending-percentage order.

    Bottom-up (the default, as in the paper): ascending budgets; each solution's widths become the lower
    bounds of the next (nested by construction). Top-down: descending budgets, each solved independently
    (faithful, quirk Q9) unless ``td_nested`` bounds each smaller solution by the larger one. Each budget gets
    up to ``solver_max_iterations`` tries with time limits 1x, 2x, 3x ``solver_time_limit``; a try is
    accepted when its MACs fit ``target + residual`` (residual only with ``carry_residual``, Q6).

    ``memory_targets`` (Q8): None keeps ``problem.memory_budget`` (None = unconstrained, faithful), or a list
    aligned with ``percentages`` of memory budgets in the unit of the problem's memory costs (an entry may be
    None: that budget is unconstrained). Memory is not carried over like the MAC residual. A try is accepted
    only when it also fits its memory budget. The log shows the achieved memory whenever the problem has
    memory costs. Returns ``(results, mac_targets)``.
    """
    if memory_targets is not None and len(memory_targets) != len(percentages):
        raise ValueError(f"memory_targets has {len(memory_targets)} entries for {len(percentages)} percentages")
    order = sorted(range(len(percentages)), key=lambda i: percentages[i], reverse=not bottom_up)
    targets = mac_targets(problem.total_macs(), percentages)
    results = [None] * len(percentages)
    bounds = {}
    residual = 0
    for index in order:
        target = targets[index]
        capacity = target + (residual if carry_residual else 0)
        memory = _KEEP if memory_targets is None else memory_targets[index]
        budgeted = problem.with_bounds(budget=capacity, memory_budget=memory, **bounds)
        result = None
        for attempt in range(1, solver_max_iterations + 1):
            limit = solver_time_limit * attempt if solver_time_limit else None
            try:
                candidate = solve(budgeted, solver, limit, max_budget_steps=max_budget_steps)
            except SolverTimeLimit:
                if attempt == solver_max_iterations:
                    raise
                continue
            if budgeted.fits(candidate.widths):
                result = candidate
                if candidate.status in ("optimal", "approximate") or attempt == solver_max_iterations:
                    break
        if result is None:
            within = f"{capacity} MACs" + ("" if budgeted.memory_budget is None
                                            else f" and memory {budgeted.memory_budget}")
            raise KnapsackInfeasible(f"no selection within {within} after {solver_max_iterations} tries")
        residual = capacity - result.model_macs
        gap = "unknown" if result.gap is None else f"{result.gap:.2e}"
        memory_text = ""
        if result.memory is not None:
            memory_text = f", memory {result.memory}" + ("" if result.memory_budget is None
                                                          else f" (budget {result.memory_budget})")
        log(f"knapsack {percentages[index]:.0%} target {target} MACs: widths {list(result.widths)}, "
            f"{result.model_macs} MACs{memory_text}, objective {result.objective:.0f}, bound {result.bound:.0f}, "
            f"gap {gap}, {result.status}, {result.seconds:.2f} s ({result.solver})")
        if bottom_up:
            bounds = {"lower": list(result.widths)}
        elif td_nested:
            bounds = {"upper": list(result.widths)}
        results[index] = result
    return results, targets


def nesting_violations(widths_by_budget):
    """Layers where a smaller budget keeps more units than a larger one (``widths_by_budget`` ascending)."""
    violations = []
    for small, large in zip(widths_by_budget, widths_by_budget[1:]):
        violations += [(layer, a, b) for layer, (a, b) in enumerate(zip(small, large)) if a > b]
    return violations
