"""The two knapsack problems of REDS (``utils/knapsack.py`` in FraCorti/REDS): data, cost model, objective.

- ``LayerKnapsack`` (DNN / CNN): one binary per unit of every scored layer, uniform full-fan-in MAC cost per
  unit of a layer, at least ``min_units`` per layer, maximise the summed importance scores.
- ``DSCNNKnapsack``: first-conv filters ``y``, depthwise channels ``d`` (as many as the previous layer keeps),
  pointwise filters ``p`` (prefix-ordered) and one binary ``q`` per pointwise *kernel* (input channel of a
  filter). A kept filter uses exactly ``x_{i-1}`` kernels, but *which* ones is free (quirk Q7; the
  ``prefix_kernels`` variant ties them to the first ``x_{i-1}``).

A selection is a width per layer (after the permutation, costs are uniform within a layer and scores sorted, so
prefixes are optimal). Nesting is expressed on widths: ``lower[l]`` forces units ``0..lower[l]-1`` in (bottom-up
freezing of the previous, smaller budget), ``upper[l]`` forbids units ``>= upper[l]`` (top-down with
``--td_nested``). Memory (quirk Q8) is an optional second budget with per-unit costs; see the package docstring.
The solvers live beside this module: ``exact`` (width DP, brute force) and ``milp`` (HiGHS, Gurobi).
"""

import time
from dataclasses import dataclass, field, replace

import numpy as np


class KnapsackInfeasible(RuntimeError):
    """No selection satisfies the budget and the per-layer minima (quirk Q11: the original crashed later)."""


class SolverTimeLimit(KnapsackInfeasible):
    """The MILP solver hit its time limit before finding any feasible selection."""


class DPTooLarge(RuntimeError):
    """The exact DP with both a MAC and a memory budget would need too large a table (use a MILP solver)."""


class SolverLicenceLimit(RuntimeError):
    """The solver's licence does not allow a model of this size (Gurobi's pip licence: 2,000 x 2,000)."""


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
        """The original's binary MILP in matrix form (``milp.layer_matrices``)."""
        from reds.utils.knapsack import milp

        return milp.layer_matrices(self)

    def decode(self, x):
        from reds.utils.knapsack import milp

        return milp.layer_decode(self, x)

    def solve_dp(self):
        """Exact optimum over layer widths (``exact.solve_layer_dp``)."""
        from reds.utils.knapsack import exact

        return exact.solve_layer_dp(self)

    def solve_brute_force(self):
        from reds.utils.knapsack import exact

        return exact.layer_brute_force(self)


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
        """Exact backward DP over (previous width, remaining budget) (``exact.solve_dscnn_dp``)."""
        from reds.utils.knapsack import exact

        return exact.solve_dscnn_dp(self, max_budget_steps)

    def milp_matrices(self):
        """The original's MILP (y, d, p, q and width variables) in matrix form (``milp.dscnn_matrices``)."""
        from reds.utils.knapsack import milp

        return milp.dscnn_matrices(self)

    def decode(self, x):
        from reds.utils.knapsack import milp

        return milp.dscnn_decode(self, x)

    def solve_brute_force(self):
        from reds.utils.knapsack import exact

        return exact.dscnn_brute_force(self)
