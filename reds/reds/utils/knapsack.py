"""Knapsack formulations of REDS (``utils/knapsack.py`` in FraCorti/REDS) and the solvers that answer them.

Two problems, as in the original:

- ``LayerKnapsack`` (DNN / CNN): one binary per unit of every scored layer, uniform full-fan-in MAC cost per
  unit of a layer, at least ``min_units`` per layer, maximise the summed importance scores.
- ``DSCNNKnapsack``: first-conv filters ``y``, depthwise channels ``d`` (as many as the previous layer keeps),
  pointwise filters ``p`` (prefix-ordered) and one binary ``q`` per pointwise *kernel* (input channel of a
  filter). A kept filter uses exactly ``x_{i-1}`` kernels, but *which* ones is free (quirk Q7; the
  ``prefix_kernels`` variant ties them to the first ``x_{i-1}``).

Nesting is expressed on widths: ``lower[l]`` forces units ``0..lower[l]-1`` in (bottom-up freezing of the
previous, smaller budget), ``upper[l]`` forbids units ``>= upper[l]`` (top-down with ``--td_nested``).

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

import itertools
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

SOLVERS = ("dp", "highs", "gurobi", "brute_force")


class KnapsackInfeasible(RuntimeError):
    """No selection satisfies the budget and the per-layer minima (quirk Q11: the original crashed later)."""


class SolverTimeLimit(KnapsackInfeasible):
    """The MILP solver hit its time limit before finding any feasible selection."""


class DPTooLarge(RuntimeError):
    """The exact DP with both a MAC and a memory budget would need too large a table (use a MILP solver)."""


class SolverLicenceLimit(RuntimeError):
    """The solver's licence does not allow a model of this size (Gurobi's pip licence: 2,000 x 2,000)."""


# Limits of the exact two-budget DP (MACs and memory): table cells held at once (float64 + int16 choices, about
# 18 bytes a cell, two tables) and elementary updates (a few seconds of NumPy). Above either, ``solve_dp``
# raises ``DPTooLarge`` and names the MILP solvers.
DP_MAX_CELLS = 10**7
DP_MAX_WORK = 5 * 10**8

_KEEP = object()  # with_bounds: leave the memory budget as it is (None means unconstrained)


@dataclass
class SolveResult:
    widths: tuple  # units kept per width variable (prefix widths)
    objective: float  # summed importance scores of the selection
    model_macs: int  # MACs of the selection in the knapsack's cost model
    status: str  # "optimal" | "time_limit" (feasible incumbent, optimality not proven)
    bound: float  # best proven upper bound on the objective
    seconds: float
    solver: str
    selection: list = field(default_factory=list, repr=False)  # chosen unit indices per layer (MILP/brute force)
    memory: int = None  # memory of the selection in the knapsack's cost model; None without memory costs
    memory_budget: int = None  # the memory row's right-hand side; None = unconstrained

    @property
    def gap(self):
        """Relative optimality gap; None when no bound is known (the coarsened DP)."""
        if not np.isfinite(self.bound):
            return None
        return 0.0 if self.bound == self.objective else (self.bound - self.objective) / max(abs(self.bound), 1e-12)

    def as_dict(self):
        return {
            "widths": [int(w) for w in self.widths],
            "objective": float(self.objective),
            "bound": float(self.bound) if np.isfinite(self.bound) else None,
            "gap": self.gap,
            "model_macs": int(self.model_macs),
            "status": self.status,
            "seconds": round(float(self.seconds), 4),
            "solver": self.solver,
            # only with memory costs, so results of an unconstrained problem without them are unchanged
            **({"model_memory": int(self.memory)} if self.memory is not None else {}),
            **({"memory_budget": int(self.memory_budget)} if self.memory_budget is not None else {}),
        }


def _top_sum_table(scores, lower, upper):
    """value[n] for n = 0..len(scores): units 0..lower-1 forced, the rest the best of lower..upper-1.

    -inf where n is not reachable under the bounds. With scores sorted descending this is the prefix sum.
    """
    scores = np.asarray(scores, dtype=np.float64)
    value = np.full(len(scores) + 1, -np.inf)
    forced = scores[:lower].sum()
    free = np.sort(scores[lower:upper])[::-1]
    value[lower : upper + 1] = forced + np.concatenate([[0.0], np.cumsum(free)])
    return value


def _optional_ints(values, count, name):
    """Per-layer (or per-block) integer costs, or None; non-negative and of the right length."""
    if values is None:
        return None
    values = [int(v) for v in values]
    if len(values) != count or min(values, default=0) < 0:
        raise ValueError(f"{name} needs {count} non-negative integers, got {values}")
    return values


def _make_result(problem, widths, objective, status, bound, start, solver, selection=()):
    widths = tuple(int(w) for w in widths)
    return SolveResult(widths, float(objective), problem.macs(widths), status, bound, time.perf_counter() - start,
                       solver, list(selection), memory=problem.memory(widths), memory_budget=problem.memory_budget)


def _fits_units(remaining, unit_cost, hi):
    """Largest width <= hi whose cost fits ``remaining`` (elementwise); negative where nothing fits."""
    if unit_cost > 0:
        return np.minimum(hi, np.floor_divide(remaining, unit_cost))
    return np.where(remaining >= 0, hi, -1)


# --------------------------------------------------------------------------------------------------------------
# DNN / CNN: per-item knapsack


@dataclass
class LayerKnapsack:
    """Per-unit knapsack of ``kws_dnn.py`` / ``kws_convolution_cnn.py`` (one binary per neuron or filter)."""

    scores: list  # per layer: importance score of each unit (integers in the original: score * 1e5, rounded)
    unit_costs: list  # per layer: MACs of one unit at full fan-in
    budget: int
    min_units: list = None  # per layer minimum (2 in the original)
    lower: list = None  # per layer: units 0..lower-1 forced (bottom-up nesting)
    upper: list = None  # per layer: units >= upper forbidden (top-down nesting)
    unit_memory: list = None  # per layer: memory of one unit (parameters or bytes: fan-in weights + bias)
    memory_budget: int = None  # same unit as unit_memory; None = unconstrained (faithful, Q8)

    def __post_init__(self):
        self.scores = [np.asarray(s, dtype=np.float64) for s in self.scores]
        self.unit_costs = [int(c) for c in self.unit_costs]
        sizes = [len(s) for s in self.scores]
        self.min_units = list(self.min_units) if self.min_units is not None else [1] * len(sizes)
        self.lower = list(self.lower) if self.lower is not None else [0] * len(sizes)
        self.upper = list(self.upper) if self.upper is not None else sizes
        self.unit_memory = _optional_ints(self.unit_memory, len(sizes), "unit_memory")
        if self.memory_budget is not None:
            if self.unit_memory is None:
                raise ValueError("memory_budget needs per-unit memory costs (unit_memory)")
            self.memory_budget = int(self.memory_budget)

    @property
    def sizes(self):
        return [len(s) for s in self.scores]

    def _minima(self):
        return self.min_units

    def with_bounds(self, budget=None, lower=None, upper=None, memory_budget=_KEEP):
        """A copy with another MAC budget, nesting bounds or memory budget (``memory_budget=None`` removes it)."""
        return replace(
            self,
            budget=self.budget if budget is None else budget,
            lower=self.lower if lower is None else lower,
            upper=self.upper if upper is None else upper,
            memory_budget=self.memory_budget if memory_budget is _KEEP else memory_budget,
        )

    def width_range(self, layer):
        lo = max(self._minima()[layer], self.lower[layer])
        hi = min(self.sizes[layer], self.upper[layer])
        return lo, hi

    def macs(self, widths):
        return int(sum(c * w for c, w in zip(self.unit_costs, widths)))

    def memory(self, widths):
        """Memory of the widths in the knapsack's cost model; None without memory costs."""
        if self.unit_memory is None:
            return None
        return int(sum(c * w for c, w in zip(self.unit_memory, widths)))

    def fits(self, widths):
        """Within the MAC budget and, when there is one, the memory budget."""
        return self.macs(widths) <= self.budget and (self.memory_budget is None
                                                      or self.memory(widths) <= self.memory_budget)

    def value(self, widths):
        return float(sum(_top_sum_table(s, lo, up)[w] for s, lo, up, w in zip(self.scores, self.lower, self.upper, widths)))

    def total_macs(self):
        return self.macs(self.sizes)

    def total_memory(self):
        return self.memory(self.sizes)

    # MILP in matrix form: maximise c.x s.t. lo <= A x <= hi, bounds, integrality
    def milp_matrices(self):
        from scipy import sparse

        offsets = np.cumsum([0] + self.sizes)
        n = offsets[-1]
        c = np.concatenate(self.scores)
        lb = np.zeros(n)
        ub = np.ones(n)
        rows, cols, vals, row_lo, row_hi = [], [], [], [], []
        for layer, (cost, size) in enumerate(zip(self.unit_costs, self.sizes)):
            start = offsets[layer]
            lb[start : start + self.lower[layer]] = 1
            ub[start + self.upper[layer] : start + size] = 0
            rows += [0] * size
            cols += list(range(start, start + size))
            vals += [cost] * size
        row_lo.append(-np.inf)
        row_hi.append(self.budget)
        for layer, size in enumerate(self.sizes):
            start = offsets[layer]
            r = len(row_lo)
            rows += [r] * size
            cols += list(range(start, start + size))
            vals += [1] * size
            row_lo.append(self.min_units[layer])
            row_hi.append(np.inf)
        if self.memory_budget is not None:  # the last row, so the rows without memory keep their order
            r = len(row_lo)
            for layer, (cost, size) in enumerate(zip(self.unit_memory, self.sizes)):
                rows += [r] * size
                cols += list(range(offsets[layer], offsets[layer] + size))
                vals += [cost] * size
            row_lo.append(-np.inf)
            row_hi.append(self.memory_budget)
        A = sparse.csr_array((vals, (rows, cols)), shape=(len(row_lo), n))
        return c, A, np.array(row_lo, float), np.array(row_hi, float), lb, ub, np.ones(n)

    def decode(self, x):
        offsets = np.cumsum([0] + self.sizes)
        selection = [np.flatnonzero(np.round(x[offsets[i] : offsets[i + 1]]) > 0.5) for i in range(len(self.sizes))]
        return selection, tuple(len(s) for s in selection)

    def solve_dp(self):
        """Exact optimum over layer widths (costs are uniform within a layer, so prefixes are optimal).

        Without a memory budget: the multiple-choice knapsack DP on one MAC axis, costs divided by their GCD.
        With one: exact enumeration of the widths of every layer but the last (vectorised over the
        second-to-last), the last layer in closed form (its best width among those that still fit both
        budgets). That costs the product of the first L-1 width ranges (DNN L: 435 x 435 = 189 k) and raises
        ``DPTooLarge`` above ``DP_MAX_WORK``; a 2-D (MACs x memory) table would be far larger (DNN S: 38,736 x
        77,904 cells).
        """
        if self.memory_budget is None:
            return self._solve_dp_macs()
        return self._solve_dp_two_budgets()

    def _solve_dp_macs(self):
        start = time.perf_counter()
        unit = math.gcd(*self.unit_costs)
        capacity = self.budget // unit
        if capacity < 0:
            raise KnapsackInfeasible(f"negative budget {self.budget}")
        dp = np.zeros(capacity + 1)  # best value with scaled cost <= b
        choices = []
        for layer in range(len(self.sizes)):
            lo, hi = self.width_range(layer)
            value = _top_sum_table(self.scores[layer], self.lower[layer], self.upper[layer])
            step = self.unit_costs[layer] // unit
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
                f"budget {self.budget} MACs is below the minimum widths {[self.width_range(i)[0] for i in range(len(self.sizes))]}"
            )
        widths = []
        b = capacity
        for layer in reversed(range(len(self.sizes))):
            n = int(choices[layer][b])
            widths.append(n)
            b -= n * (self.unit_costs[layer] // unit)
        widths = tuple(reversed(widths))
        objective = float(dp[capacity])
        return _make_result(self, widths, objective, "optimal", objective, start, "dp")

    def _solve_dp_two_budgets(self):
        start = time.perf_counter()
        layers = len(self.sizes)
        ranges = [self.width_range(layer) for layer in range(layers)]
        values = [_top_sum_table(s, lo, up) for s, lo, up in zip(self.scores, self.lower, self.upper)]
        infeasible = KnapsackInfeasible(f"budget {self.budget} MACs / memory budget {self.memory_budget} is below "
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
            mid_value, mid_cost, mid_memory = values[-2][mid], self.unit_costs[-2], self.unit_memory[-2]
        else:
            mid, mid_value, mid_cost, mid_memory = np.zeros(1, dtype=int), np.zeros(1), 0, 0
        best, best_widths = -np.inf, None
        for head in itertools.product(*(range(lo, hi + 1) for lo, hi in ranges[:-2])):
            head_macs = sum(c * w for c, w in zip(self.unit_costs, head))
            head_memory = sum(c * w for c, w in zip(self.unit_memory, head))
            cap = np.minimum(
                _fits_units(self.budget - head_macs - mid_cost * mid, self.unit_costs[-1], last_hi),
                _fits_units(self.memory_budget - head_memory - mid_memory * mid, self.unit_memory[-1], last_hi))
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
        objective = self.value(best_widths)
        return _make_result(self, best_widths, objective, "optimal", objective, start, "dp")

    def solve_brute_force(self):
        start = time.perf_counter()
        best = (-np.inf, None)
        per_layer = []
        unit_memory = self.unit_memory or [0] * len(self.sizes)
        for layer, size in enumerate(self.sizes):
            opts = []
            for mask in itertools.product((0, 1), repeat=size):
                mask = np.array(mask)
                if mask[: self.lower[layer]].min(initial=1) < 1 or mask[self.upper[layer] :].max(initial=0) > 0:
                    continue
                if mask.sum() < self.min_units[layer]:
                    continue
                opts.append((mask, float(mask @ self.scores[layer]), int(mask.sum()) * self.unit_costs[layer],
                             int(mask.sum()) * unit_memory[layer]))
            per_layer.append(opts)
        memory_budget = np.inf if self.memory_budget is None else self.memory_budget
        for combo in itertools.product(*per_layer):
            if sum(o[2] for o in combo) <= self.budget and sum(o[3] for o in combo) <= memory_budget:
                value = sum(o[1] for o in combo)
                if value > best[0]:
                    best = (value, combo)
        if best[1] is None:
            raise KnapsackInfeasible("no feasible selection")
        selection = [np.flatnonzero(o[0]) for o in best[1]]
        widths = tuple(len(s) for s in selection)
        return _make_result(self, widths, best[0], "optimal", best[0], start, "brute_force", selection)


# --------------------------------------------------------------------------------------------------------------
# DS-CNN: knapsack with pointwise-kernel variables


@dataclass(frozen=True)
class _Resource:
    """One budgeted resource of the DS-CNN DP.

    cost(widths) = conv * x_0 + sum_i (dw_i * x_{i-1} + kernel_i * x_{i-1} * x_i + filter_i * x_i)
    """

    conv: int
    dw: list
    kernel: list
    filter: list
    budget: int
    name: str


@dataclass
class DSCNNKnapsack:
    """The DS-CNN formulation of the original (``y``, ``d``, ``p``, ``q`` variables; see module docstring).

    Width variables are ``x_0`` (first conv filters) and ``x_i`` (pointwise filters of block i); block i's
    depthwise layer keeps ``x_{i-1}`` channels and each kept pointwise filter ``x_{i-1}`` kernels.
    Memory costs are all-or-nothing: ``conv_memory``, ``dw_memory`` and ``kernel_memory`` together
    (``pw_memory``, the per-filter bias, defaults to 0), or none of them.
    """

    conv_scores: np.ndarray  # (U_0,)
    dw_scores: list  # block i: (U_{i-1},) depthwise channel scores
    pw_scores: list  # block i: (U_i, U_{i-1}) [filter][kernel] scores
    conv_cost: int  # MACs of one first-conv filter
    dw_costs: list  # block i: MACs of one depthwise channel
    kernel_costs: list  # block i: MACs of one pointwise kernel (one input channel of one filter)
    budget: int
    min_widths: list = None  # per width variable; original: 1, and last_pointwise_filters (60) for the last
    lower: list = None
    upper: list = None
    prefix_kernels: bool = False  # False = faithful free kernels (Q7)
    conv_memory: int = None  # memory of one first-conv filter (kh * kw * cin + 1 parameters)
    dw_memory: list = None  # block i: memory of one depthwise channel (kh * kw + 1)
    kernel_memory: list = None  # block i: memory of one pointwise kernel (1)
    pw_memory: list = None  # block i: memory per kept pointwise filter beyond its kernels (its bias: 1)
    memory_budget: int = None  # same unit as the memory costs; None = unconstrained (faithful, Q8)

    def __post_init__(self):
        self.conv_scores = np.asarray(self.conv_scores, dtype=np.float64)
        self.dw_scores = [np.asarray(s, dtype=np.float64) for s in self.dw_scores]
        self.pw_scores = [np.asarray(s, dtype=np.float64) for s in self.pw_scores]
        self.conv_cost = int(self.conv_cost)
        self.dw_costs = [int(c) for c in self.dw_costs]
        self.kernel_costs = [int(c) for c in self.kernel_costs]
        n = len(self.sizes)
        self.min_widths = list(self.min_widths) if self.min_widths is not None else [1] * n
        self.lower = list(self.lower) if self.lower is not None else [0] * n
        self.upper = list(self.upper) if self.upper is not None else self.sizes
        for i, pw in enumerate(self.pw_scores):
            if pw.shape[1] != self.sizes[i] or len(self.dw_scores[i]) != self.sizes[i]:
                raise ValueError(f"block {i + 1}: pointwise fan-in {pw.shape[1]} / depthwise channels "
                                 f"{len(self.dw_scores[i])} differ from the previous width {self.sizes[i]}")
        given = [v is not None for v in (self.conv_memory, self.dw_memory, self.kernel_memory)]
        if any(given) and not all(given):
            raise ValueError("memory costs need conv_memory, dw_memory and kernel_memory together")
        if all(given):
            if int(self.conv_memory) < 0:
                raise ValueError(f"conv_memory must be non-negative, got {self.conv_memory}")
            self.conv_memory = int(self.conv_memory)
            self.dw_memory = _optional_ints(self.dw_memory, self.blocks, "dw_memory")
            self.kernel_memory = _optional_ints(self.kernel_memory, self.blocks, "kernel_memory")
            self.pw_memory = _optional_ints(self.pw_memory if self.pw_memory is not None else [0] * self.blocks,
                                            self.blocks, "pw_memory")
        elif self.pw_memory is not None:
            raise ValueError("pw_memory needs conv_memory, dw_memory and kernel_memory")
        if self.memory_budget is not None:
            if not all(given):
                raise ValueError("memory_budget needs per-unit memory costs (conv_memory, dw_memory, kernel_memory)")
            self.memory_budget = int(self.memory_budget)

    @property
    def blocks(self):
        return len(self.pw_scores)

    @property
    def sizes(self):
        return [len(self.conv_scores)] + [pw.shape[0] for pw in self.pw_scores]

    with_bounds = LayerKnapsack.with_bounds
    width_range = LayerKnapsack.width_range
    fits = LayerKnapsack.fits

    def _minima(self):
        return self.min_widths

    def _mac_resource(self):
        return _Resource(self.conv_cost, self.dw_costs, self.kernel_costs, [0] * self.blocks, self.budget, "MACs")

    def _memory_resource(self):
        return _Resource(self.conv_memory, self.dw_memory, self.kernel_memory, self.pw_memory, self.memory_budget,
                         "memory")

    @staticmethod
    def _cost(resource, widths):
        total = resource.conv * widths[0]
        for i in range(len(resource.dw)):
            total += (resource.dw[i] * widths[i] + resource.kernel[i] * widths[i] * widths[i + 1]
                      + resource.filter[i] * widths[i + 1])
        return int(total)

    def macs(self, widths):
        return self._cost(self._mac_resource(), widths)

    def memory(self, widths):
        """Memory of the widths (exact parameter count of the conv stack); None without memory costs."""
        return None if self.conv_memory is None else self._cost(self._memory_resource(), widths)

    def total_macs(self):
        return self.macs(self.sizes)

    def total_memory(self):
        return self.memory(self.sizes)

    def _kernel_value_table(self, block):
        """table[k, m]: score of filter k using m kernels (top m, or the first m with prefix_kernels)."""
        pw = self.pw_scores[block]
        ordered = pw if self.prefix_kernels else -np.sort(-pw, axis=1)
        return np.concatenate([np.zeros((pw.shape[0], 1)), np.cumsum(ordered, axis=1)], axis=1)

    def _block_value(self, block, m, x):
        return float(self._kernel_value_table(block)[:x, m].sum())

    def value(self, widths):
        total = _top_sum_table(self.conv_scores, self.lower[0], self.upper[0])[widths[0]]
        for i in range(self.blocks):
            total += _top_sum_table(self.dw_scores[i], self.lower[i], self.upper[i])[widths[i]]
            total += self._block_value(i, widths[i], widths[i + 1])
        return float(total)

    def solve_dp(self, max_budget_steps=None):
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
        if self.memory_budget is None:
            widths, status = self._solve_widths([self._mac_resource()], max_budget_steps)
        else:
            for relaxed in (self._mac_resource(), self._memory_resource()):
                widths, status = self._solve_widths([relaxed], max_budget_steps)
                if self.fits(widths):
                    break
            else:
                widths, status = self._solve_widths([self._mac_resource(), self._memory_resource()], max_budget_steps)
        objective = self.value(widths)
        bound = objective if status == "optimal" else np.inf
        return _make_result(self, widths, objective, status, bound, start, "dp")

    def _solve_widths(self, resources, max_budget_steps=None):
        """The backward DP with one axis per resource; returns (widths, "optimal" | "approximate")."""
        sizes, blocks = self.sizes, self.blocks
        ranges = [self.width_range(i) for i in range(len(sizes))]
        status = "optimal"
        units, capacities = [], []
        for res in resources:
            unit = math.gcd(*res.dw, *res.kernel, *res.filter) or 1
            capacity = (res.budget - res.conv * max(self.min_widths[0], self.lower[0])) // unit
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
            dw_value = _top_sum_table(self.dw_scores[i], self.lower[i], self.upper[i])
            kernel_table = self._kernel_value_table(i)
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
        conv_value = _top_sum_table(self.conv_scores, self.lower[0], self.upper[0])

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
    def _layout(self):
        sizes = self.sizes
        offset = sizes[0]
        blocks = []
        for i in range(self.blocks):
            d = offset
            p = d + sizes[i]
            q = p + sizes[i + 1]
            offset = q + sizes[i + 1] * sizes[i]
            blocks.append((d, p, q))
        return blocks, offset

    def milp_matrices(self):
        from scipy import sparse

        sizes = self.sizes
        blocks, x_start = self._layout()
        n = x_start + len(sizes)
        c = np.zeros(n)
        lb, ub = np.zeros(n), np.ones(n)
        integrality = np.ones(n)
        c[: sizes[0]] = self.conv_scores
        rows, cols, vals, row_lo, row_hi = [], [], [], [], []

        def add_row(entries, lo, hi):
            r = len(row_lo)
            for col, val in entries:
                rows.append(r)
                cols.append(col)
                vals.append(val)
            row_lo.append(lo)
            row_hi.append(hi)

        def fix_prefix(start, layer):
            lb[start : start + self.lower[layer]] = 1
            ub[start + self.upper[layer] : start + sizes[layer]] = 0

        fix_prefix(0, 0)
        for w, size in enumerate(sizes):
            lb[x_start + w] = max(self.min_widths[w], self.lower[w])
            ub[x_start + w] = min(size, self.upper[w])
        capacity = [(u, self.conv_cost) for u in range(sizes[0])]
        memory = [(u, self.conv_memory) for u in range(sizes[0])] if self.memory_budget is not None else None
        add_row([(u, 1) for u in range(sizes[0])] + [(x_start, -1)], 0, 0)  # x_0 = sum y
        for i, (d, p, q) in enumerate(blocks):
            m_size, k_size = sizes[i], sizes[i + 1]
            c[d : d + m_size] = self.dw_scores[i]
            c[q : q + k_size * m_size] = self.pw_scores[i].ravel()
            fix_prefix(d, i)
            fix_prefix(p, i + 1)
            capacity += [(d + u, self.dw_costs[i]) for u in range(m_size)]
            capacity += [(q + j, self.kernel_costs[i]) for j in range(k_size * m_size)]
            if memory is not None:
                memory += [(d + u, self.dw_memory[i]) for u in range(m_size)]
                memory += [(p + k, self.pw_memory[i]) for k in range(k_size) if self.pw_memory[i]]
                memory += [(q + j, self.kernel_memory[i]) for j in range(k_size * m_size)]
            add_row([(d + u, 1) for u in range(m_size)] + [(x_start + i, -1)], 0, 0)  # sum d_i = x_{i-1}
            add_row([(p + k, 1) for k in range(k_size)] + [(x_start + i + 1, -1)], 0, 0)  # x_i = sum p_i
            for k in range(k_size - 1):
                add_row([(p + k, 1), (p + k + 1, -1)], 0, np.inf)  # pointwise prefix
            for k in range(k_size):
                kernels = [(q + k * m_size + t, 1) for t in range(m_size)]
                for t in range(m_size):
                    add_row([(q + k * m_size + t, 1), (p + k, -1)], -np.inf, 0)  # q <= p
                    if self.prefix_kernels and t + 1 < m_size:
                        add_row([(q + k * m_size + t, 1), (q + k * m_size + t + 1, -1)], 0, np.inf)
                add_row([(p + k, 1)] + [(col, -1) for col, _ in kernels], -np.inf, 0)  # p <= sum q
                add_row(kernels + [(x_start + i, -1)], -np.inf, 0)  # sum q <= x_{i-1}
                # sum q >= x_{i-1} - U (1 - p)
                add_row(kernels + [(x_start + i, -1), (p + k, -m_size)], -m_size, np.inf)
        add_row(capacity, -np.inf, self.budget)
        if memory is not None:  # after the MAC row, so the rows without memory keep their order
            add_row(memory, -np.inf, self.memory_budget)
        A = sparse.csr_array((vals, (rows, cols)), shape=(len(row_lo), n))
        return c, A, np.array(row_lo, float), np.array(row_hi, float), lb, ub, integrality

    def decode(self, x):
        sizes = self.sizes
        _, x_start = self._layout()
        widths = tuple(int(round(v)) for v in x[x_start:])
        y = np.flatnonzero(np.round(x[: sizes[0]]) > 0.5)
        selection = [y] + [np.flatnonzero(np.round(x[p : p + sizes[i + 1]]) > 0.5)
                           for i, (_, p, _) in enumerate(self._layout()[0])]
        return selection, widths

    def solve_brute_force(self):
        """Enumerate widths and, for the faithful variant, every kernel subset of every filter (tiny U only)."""
        start = time.perf_counter()
        best, best_widths = -np.inf, None
        ranges = [range(lo, hi + 1) for lo, hi in (self.width_range(i) for i in range(len(self.sizes)))]
        for widths in itertools.product(*ranges):
            if not self.fits(widths):
                continue
            value = _top_sum_table(self.conv_scores, self.lower[0], self.upper[0])[widths[0]]
            for i in range(self.blocks):
                m, x = widths[i], widths[i + 1]
                value += _top_sum_table(self.dw_scores[i], self.lower[i], self.upper[i])[m]
                for k in range(x):
                    if self.prefix_kernels:
                        value += self.pw_scores[i][k, :m].sum()
                    else:
                        value += max(self.pw_scores[i][k, list(s)].sum()
                                     for s in itertools.combinations(range(self.sizes[i]), m))
            if value > best:
                best, best_widths = value, widths
        if best_widths is None:
            raise KnapsackInfeasible("no feasible selection")
        return _make_result(self, best_widths, best, "optimal", float(best), start, "brute_force")


# --------------------------------------------------------------------------------------------------------------
# MILP backends


def gurobi_available():
    """True when gurobipy imports and a (possibly size-limited) licence starts an environment."""
    try:
        import gurobipy as gp

        with gp.Env(params={"OutputFlag": 0}):
            return True
    except Exception:  # no package, no licence
        return False


def milp_size(problem):
    """(variables, constraint rows) of a problem's MILP formulation."""
    c, A, *_ = problem.milp_matrices()
    return len(c), A.shape[0]


def gurobi_fits(problem):
    """(True, "") when gurobipy and its licence can take ``problem``'s MILP, else (False, the reason).

    The licence's size limit is probed on a trivial model of the same size (one bound row per constraint), so a
    size-limited licence (the pip package's: 2,000 variables / 2,000 constraints) is caught before any training.
    """
    variables, rows = milp_size(problem)
    try:
        import gurobipy as gp
        from gurobipy import GRB
    except ImportError:
        return False, "gurobipy is not installed (pip install gurobipy)"
    try:
        with gp.Env(params={"OutputFlag": 0}) as env, gp.Model(env=env) as model:
            x = model.addMVar(variables, lb=0, ub=1, vtype=GRB.BINARY)
            for i in range(rows):
                model.addConstr(x[i % variables] <= 1)
            model.optimize()
    except gp.GurobiError as err:
        if err.errno == GUROBI_SIZE_LIMITED:
            return False, (f"the knapsack has {variables:,} variables and {rows:,} constraints, above this Gurobi "
                           f"licence's size limit (the pip package's: 2,000 x 2,000); use --solver dp or highs, or a "
                           f"full licence (--gurobi_license_file)")
        return False, f"Gurobi cannot start ({err}); use --solver dp or highs"
    return True, ""


def _solve_milp(problem, solver, time_limit, verbose=False):
    start = time.perf_counter()
    c, A, row_lo, row_hi, lb, ub, integrality = problem.milp_matrices()
    if solver == "highs":
        from scipy.optimize import Bounds, LinearConstraint, milp

        options = {"mip_rel_gap": 0.0, "disp": verbose}
        if time_limit:
            options["time_limit"] = float(time_limit)
        res = milp(-c, constraints=LinearConstraint(A, row_lo, row_hi), integrality=integrality,
                   bounds=Bounds(lb, ub), options=options)
        if res.x is None:
            error = SolverTimeLimit if res.status == 1 else KnapsackInfeasible
            raise error(f"HiGHS found no feasible selection ({res.message}); raise --solver_time_limit or use "
                        f"--solver dp")
        objective = float(c @ np.round(res.x))
        # mip_dual_bound is the minimisation bound of -c.x
        dual = getattr(res, "mip_dual_bound", None)
        bound = -float(dual) if dual is not None and np.isfinite(dual) else objective
        status = "optimal" if res.status == 0 else "time_limit"
        x = res.x
    elif solver == "gurobi":
        x, objective, bound, status = _solve_gurobi(c, A, row_lo, row_hi, lb, ub, time_limit, verbose)
    else:
        raise ValueError(f"unknown MILP solver {solver!r}")
    selection, widths = problem.decode(x)
    return _make_result(problem, widths, objective, status, max(bound, objective), start, solver, selection)


GUROBI_SIZE_LIMITED = 10010  # GurobiError.errno: "Model too large for size-limited license"


def _solve_gurobi(c, A, row_lo, row_hi, lb, ub, time_limit, verbose):
    """Maximise c.x on the matrix form with gurobipy; returns (x, objective, bound, status)."""
    import gurobipy as gp
    from gurobipy import GRB

    equal = row_lo == row_hi
    upper = np.isfinite(row_hi) & ~equal
    lower = np.isfinite(row_lo) & ~equal
    with gp.Env(params={"OutputFlag": int(verbose)}) as env, gp.Model(env=env) as model:
        var = model.addMVar(len(c), lb=lb, ub=ub, vtype=GRB.INTEGER)
        model.setObjective(c @ var, GRB.MAXIMIZE)
        for rows, sense, rhs in ((equal, "=", row_hi), (upper, "<", row_hi), (lower, ">", row_lo)):
            if rows.any():  # one Gurobi constraint per formulation row (equalities are not split in two)
                model.addMConstr(A[rows], var, sense, rhs[rows])
        model.Params.MIPGap = 0.0
        if time_limit:
            model.Params.TimeLimit = float(time_limit)
        try:
            model.optimize()
        except gp.GurobiError as err:
            if err.errno != GUROBI_SIZE_LIMITED:
                raise
            model.update()
            raise SolverLicenceLimit(
                f"this knapsack has {model.NumVars:,} variables and {model.NumConstrs:,} constraints (rows), above "
                f"the size-limited Gurobi licence of the pip package (2,000 variables, 2,000 constraints); use "
                f"--solver dp or highs, or a full Gurobi licence (GRB_LICENSE_FILE or --gurobi_license_file)"
            ) from err
        if model.SolCount == 0:
            error = SolverTimeLimit if model.Status == GRB.TIME_LIMIT else KnapsackInfeasible
            raise error(f"Gurobi found no feasible selection (status {model.Status}); raise --solver_time_limit "
                        f"or use --solver dp")
        x = var.X
        objective = float(c @ np.round(x))
        status = "optimal" if model.Status == GRB.OPTIMAL else "time_limit"
        return x, objective, float(model.ObjBound), status


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
        return _solve_milp(problem, solver, time_limit, verbose)
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
