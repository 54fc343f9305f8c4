"""Exact solvers of the REDS knapsacks: the width dynamic program (the default solver) and brute force (tests).

After the permutation, scores are sorted and costs uniform within a layer, so a selection is a width per layer.

- ``solve_layer_dp`` (DNN / CNN): a multiple-choice knapsack over widths on one MAC axis (costs divided by their
  GCD); with a memory budget an exact enumeration of every layer's width but the last, which is solved in
  closed form.
- ``solve_dscnn_dp``: a backward DP over (previous width, remaining budget), with the top-m kernel sums of the
  faithful free-kernel formulation (or prefix sums with ``prefix_kernels``). Block costs are divided by their GCD
  (125 for DS-CNN S); the first conv is handled outside the scaled axis, so it stays exact. ``max_budget_steps``
  coarsens the axis (costs round up: budgets still hold, status "approximate").
- ``*_brute_force``: enumeration of every unit subset (DS-CNN: every width and kernel subset), for tiny instances.
"""

import itertools
import math
import time

import numpy as np

from reds.utils.knapsack.problem import DPTooLarge, KnapsackInfeasible, _fits_units, _make_result, _top_sum_table

# Limits of the exact two-budget DP (MACs and memory): table cells held at once (float64 + int16 choices, about
# 18 bytes a cell, two tables) and elementary updates (a few seconds of NumPy). Above either, the DP raises
# ``DPTooLarge`` and names the MILP solvers.
DP_MAX_CELLS = 10**7
DP_MAX_WORK = 5 * 10**8


def solve_layer_dp(problem):
    """Exact optimum over layer widths (costs are uniform within a layer, so prefixes are optimal).

    Without a memory budget: the multiple-choice knapsack DP on one MAC axis, costs divided by their GCD.
    With one: exact enumeration of the widths of every layer but the last (vectorised over the
    second-to-last), the last layer in closed form (its best width among those that still fit both
    budgets). That costs the product of the first L-1 width ranges (DNN L: 435 x 435 = 189 k) and raises
    ``DPTooLarge`` above ``DP_MAX_WORK``; a 2-D (MACs x memory) table would be far larger (DNN S: 38,736 x
    77,904 cells).
    """
    if problem.memory_budget is None:
        return _layer_dp_macs(problem)
    return _layer_dp_two_budgets(problem)


def _layer_dp_macs(problem):
    start = time.perf_counter()
    unit = math.gcd(*problem.unit_costs)
    capacity = problem.budget // unit
    if capacity < 0:
        raise KnapsackInfeasible(f"negative budget {problem.budget}")
    dp = np.zeros(capacity + 1)  # best value with scaled cost <= b
    choices = []
    for layer in range(len(problem.sizes)):
        lo, hi = problem.width_range(layer)
        value = _top_sum_table(problem.scores[layer], problem.lower[layer], problem.upper[layer])
        step = problem.unit_costs[layer] // unit
        new = np.full(capacity + 1, -np.inf)
        arg = np.full(capacity + 1, -1, dtype=np.int32)
        for n in range(lo, hi + 1):
            cost = n * step
            if cost > capacity:
                break
            cand = dp[: capacity + 1 - cost] + value[n]
            seg = new[cost:]
            better = cand > seg
            seg[better] = cand[better]
            arg[cost:][better] = n
        dp = new
        choices.append(arg)
    if not np.isfinite(dp[capacity]):
        raise KnapsackInfeasible(
            f"budget {problem.budget} MACs is below the minimum widths {[problem.width_range(i)[0] for i in range(len(problem.sizes))]}"
        )
    widths = []
    b = capacity
    for layer in reversed(range(len(problem.sizes))):
        n = int(choices[layer][b])
        widths.append(n)
        b -= n * (problem.unit_costs[layer] // unit)
    widths = tuple(reversed(widths))
    objective = float(dp[capacity])
    return _make_result(problem, widths, objective, "optimal", objective, start, "dp")


def _layer_dp_two_budgets(problem):
    start = time.perf_counter()
    layers = len(problem.sizes)
    ranges = [problem.width_range(layer) for layer in range(layers)]
    values = [_top_sum_table(s, lo, up) for s, lo, up in zip(problem.scores, problem.lower, problem.upper)]
    infeasible = KnapsackInfeasible(f"budget {problem.budget} MACs / memory budget {problem.memory_budget} is below "
                                    f"the minimum widths {[lo for lo, _ in ranges]}")
    if any(lo > hi for lo, hi in ranges):
        raise infeasible
    work = math.prod(hi - lo + 1 for lo, hi in ranges[:-1])
    if work > DP_MAX_WORK:
        raise DPTooLarge(f"the exact DP with a memory budget enumerates {work:,} width combinations of the first "
                         f"{layers - 1} layers (limit {DP_MAX_WORK:,}); use --solver highs (or gurobi)")
    # last layer: best value (and the smallest width reaching it) among widths lo..n
    last_lo, last_hi = ranges[-1]
    seg = values[-1][last_lo : last_hi + 1]
    running = np.maximum.accumulate(seg)
    new_max = seg > np.concatenate([[-np.inf], running[:-1]])
    first = np.maximum.accumulate(np.where(new_max, np.arange(last_lo, last_hi + 1), last_lo))
    # second-to-last layer vectorised (a single zero-cost width when there is only one layer)
    if layers >= 2:
        mid_lo, mid_hi = ranges[-2]
        mid = np.arange(mid_lo, mid_hi + 1)
        mid_value, mid_cost, mid_memory = values[-2][mid], problem.unit_costs[-2], problem.unit_memory[-2]
    else:
        mid, mid_value, mid_cost, mid_memory = np.zeros(1, dtype=int), np.zeros(1), 0, 0
    best, best_widths = -np.inf, None
    for head in itertools.product(*(range(lo, hi + 1) for lo, hi in ranges[:-2])):
        head_macs = sum(c * w for c, w in zip(problem.unit_costs, head))
        head_memory = sum(c * w for c, w in zip(problem.unit_memory, head))
        cap = np.minimum(
            _fits_units(problem.budget - head_macs - mid_cost * mid, problem.unit_costs[-1], last_hi),
            _fits_units(problem.memory_budget - head_memory - mid_memory * mid, problem.unit_memory[-1], last_hi))
        feasible = np.flatnonzero(cap >= last_lo)
        if not len(feasible):
            continue
        total = mid_value[feasible] + running[cap[feasible] - last_lo]
        k = int(np.argmax(total))
        candidate = float(total[k]) + sum(values[layer][w] for layer, w in enumerate(head))
        if candidate > best:
            j = feasible[k]
            best = candidate
            best_widths = (*head, *([int(mid[j])] if layers >= 2 else []), int(first[cap[j] - last_lo]))
    if best_widths is None:
        raise infeasible
    objective = problem.value(best_widths)
    return _make_result(problem, best_widths, objective, "optimal", objective, start, "dp")


def layer_brute_force(problem):
    start = time.perf_counter()
    best = (-np.inf, None)
    per_layer = []
    unit_memory = problem.unit_memory or [0] * len(problem.sizes)
    for layer, size in enumerate(problem.sizes):
        opts = []
        for mask in itertools.product((0, 1), repeat=size):
            mask = np.array(mask)
            if mask[: problem.lower[layer]].min(initial=1) < 1 or mask[problem.upper[layer] :].max(initial=0) > 0:
                continue
            if mask.sum() < problem.min_units[layer]:
                continue
            opts.append((mask, float(mask @ problem.scores[layer]), int(mask.sum()) * problem.unit_costs[layer],
                         int(mask.sum()) * unit_memory[layer]))
        per_layer.append(opts)
    memory_budget = np.inf if problem.memory_budget is None else problem.memory_budget
    for combo in itertools.product(*per_layer):
        if sum(o[2] for o in combo) <= problem.budget and sum(o[3] for o in combo) <= memory_budget:
            value = sum(o[1] for o in combo)
            if value > best[0]:
                best = (value, combo)
    if best[1] is None:
        raise KnapsackInfeasible("no feasible selection")
    selection = [np.flatnonzero(o[0]) for o in best[1]]
    widths = tuple(len(s) for s in selection)
    return _make_result(problem, widths, best[0], "optimal", best[0], start, "brute_force", selection)


def solve_dscnn_dp(problem, max_budget_steps=None):
    """Exact backward DP over (previous width, remaining budget).

    Block costs are divided by their GCD (125 for DS-CNN S); the first conv is handled outside the scaled
    axis, so the DP stays exact. ``max_budget_steps`` coarsens the budget unit when the axis would be
    longer (DS-CNN L): every cost term is then rounded *up* to the unit, so budgets still hold, but the
    optimum is only approximate and the status says so.

    With a memory budget the DP first solves the two single-budget relaxations (MACs only, then memory
    only, each on its own GCD-scaled axis): an optimum of a relaxation that fits the other budget is
    optimal, which is the usual case (one of the two budgets binds; DS-CNN S: about 0.3 s each). Only
    when neither fits does it run the exact DP on both axes, (previous width, MACs, memory); its table is
    the product of the two axes, so above ``DP_MAX_CELLS`` cells or ``DP_MAX_WORK`` updates (every real
    size: DS-CNN S at 25 % would need about 5,300 x 5,500 cells per width) it raises ``DPTooLarge``,
    which says to use ``--solver highs``.
    """
    start = time.perf_counter()
    if problem.memory_budget is None:
        widths, status = _dscnn_widths(problem, [problem._mac_resource()], max_budget_steps)
    else:
        for relaxed in (problem._mac_resource(), problem._memory_resource()):
            widths, status = _dscnn_widths(problem, [relaxed], max_budget_steps)
            if problem.fits(widths):
                break
        else:
            widths, status = _dscnn_widths(problem, [problem._mac_resource(), problem._memory_resource()], max_budget_steps)
    objective = problem.value(widths)
    bound = objective if status == "optimal" else np.inf
    return _make_result(problem, widths, objective, status, bound, start, "dp")


def _dscnn_widths(problem, resources, max_budget_steps=None):
    """The backward DP with one axis per resource; returns (widths, "optimal" | "approximate")."""
    sizes, blocks = problem.sizes, problem.blocks
    ranges = [problem.width_range(i) for i in range(len(sizes))]
    status = "optimal"
    units, capacities = [], []
    for res in resources:
        unit = math.gcd(*res.dw, *res.kernel, *res.filter) or 1
        capacity = (res.budget - res.conv * max(problem.min_widths[0], problem.lower[0])) // unit
        if max_budget_steps is not None and capacity > max_budget_steps:
            unit = unit * math.ceil(capacity / max_budget_steps)
            status = "approximate"
        units.append(unit)
        capacities.append(max(res.budget // unit, 0))

    def cost(r, i, m, x):  # every term rounded up to the unit (exact when the unit divides it)
        res, unit = resources[r], units[r]
        return -(-res.dw[i] * m // unit) - (-res.kernel[i] * m * x // unit) - (-res.filter[i] * x // unit)

    # an axis longer than the blocks can ever use adds nothing (the tables are constant beyond it)
    capacities = [min(capacity, sum(cost(r, i, ranges[i][1], ranges[i + 1][1]) for i in range(blocks)))
                  for r, capacity in enumerate(capacities)]
    shape = tuple(c + 1 for c in capacities)
    if len(resources) > 1:
        cells = (max(sizes) + 1) * math.prod(shape)
        work = sum((ranges[i][1] - ranges[i][0] + 1) * (ranges[i + 1][1] - ranges[i + 1][0] + 1)
                   for i in range(blocks)) * math.prod(shape)
        if cells > DP_MAX_CELLS or work > DP_MAX_WORK:
            raise DPTooLarge(
                f"neither the MAC-only nor the memory-only optimum fits the other budget, and the exact DP on "
                f"both ({' x '.join(f'{s:,}' for s in shape)} budget steps per width: {cells:,} cells, {work:,} "
                f"updates) is above its limits ({DP_MAX_CELLS:,} cells, {DP_MAX_WORK:,} updates); use "
                f"--solver highs (or gurobi with a full licence)")
    # R[x, r...]: best value of the blocks after the current one, given width x and remaining scaled budgets
    R = np.full((sizes[-1] + 1, *shape), -np.inf)
    lo, hi = ranges[-1]
    R[lo : hi + 1] = 0.0
    choices = [None] * blocks
    for i in reversed(range(blocks)):
        dw_value = _top_sum_table(problem.dw_scores[i], problem.lower[i], problem.upper[i])
        kernel_table = problem._kernel_value_table(i)
        pw_prefix = np.concatenate([np.zeros((1, kernel_table.shape[1])), np.cumsum(kernel_table, axis=0)])
        new = np.full((sizes[i] + 1, *shape), -np.inf)
        arg = np.full((sizes[i] + 1, *shape), -1, dtype=np.int16)
        m_lo, m_hi = ranges[i]
        x_lo, x_hi = ranges[i + 1]
        for m in range(m_lo, m_hi + 1):
            row, arg_row = new[m], arg[m]
            for x in range(x_lo, x_hi + 1):
                costs = [cost(r, i, m, x) for r in range(len(resources))]
                if any(c > capacity for c, capacity in zip(costs, capacities)):
                    break  # costs grow with x
                src = tuple(slice(0, capacity + 1 - c) for c, capacity in zip(costs, capacities))
                dst = tuple(slice(c, None) for c in costs)
                cand = R[x][src] + pw_prefix[x, m]
                seg = row[dst]
                better = cand > seg
                seg[better] = cand[better]
                arg_row[dst][better] = x
            row += dw_value[m]
        R, choices[i] = new, arg
    conv_value = _top_sum_table(problem.conv_scores, problem.lower[0], problem.upper[0])

    def scaled_remaining(x0):
        remaining = [res.budget - res.conv * x0 for res in resources]
        if min(remaining) < 0:
            return None
        return tuple(min(rem // unit, capacity) for rem, unit, capacity in zip(remaining, units, capacities))

    best, best_x0 = -np.inf, None
    for x0 in range(ranges[0][0], ranges[0][1] + 1):
        index = scaled_remaining(x0)
        if index is None:
            break
        candidate = conv_value[x0] + R[x0][index]
        if candidate > best:
            best, best_x0 = candidate, x0
    if best_x0 is None or not np.isfinite(best):
        budgets = " / ".join(f"{res.budget} {res.name}" for res in resources)
        raise KnapsackInfeasible(f"budget {budgets} is below the minimum widths {[r[0] for r in ranges]}")
    widths = [best_x0]
    index = list(scaled_remaining(best_x0))
    for i in range(blocks):
        m = widths[-1]
        x = int(choices[i][m][tuple(index)])
        index = [r - cost(k, i, m, x) for k, r in enumerate(index)]
        widths.append(x)
    return tuple(int(w) for w in widths), status

# variable layout: y | per block: d_i, p_i, q_i (row-major [filter][kernel]) | x_0..x_b


def dscnn_brute_force(problem):
    """Enumerate widths and, for the faithful variant, every kernel subset of every filter (tiny U only)."""
    start = time.perf_counter()
    best, best_widths = -np.inf, None
    ranges = [range(lo, hi + 1) for lo, hi in (problem.width_range(i) for i in range(len(problem.sizes)))]
    for widths in itertools.product(*ranges):
        if not problem.fits(widths):
            continue
        value = _top_sum_table(problem.conv_scores, problem.lower[0], problem.upper[0])[widths[0]]
        for i in range(problem.blocks):
            m, x = widths[i], widths[i + 1]
            value += _top_sum_table(problem.dw_scores[i], problem.lower[i], problem.upper[i])[m]
            for k in range(x):
                if problem.prefix_kernels:
                    value += problem.pw_scores[i][k, :m].sum()
                else:
                    value += max(problem.pw_scores[i][k, list(s)].sum()
                                 for s in itertools.combinations(range(problem.sizes[i]), m))
        if value > best:
            best, best_widths = value, widths
    if best_widths is None:
        raise KnapsackInfeasible("no feasible selection")
    return _make_result(problem, best_widths, best, "optimal", float(best), start, "brute_force")
