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

Solvers: ``dp`` (exact width dynamic program, the default: licence-free and fast on these structures),
``highs`` (``scipy.optimize.milp`` on the full binary formulation, time limit, gap 0), ``gurobi`` (only
when gurobipy is importable and licensed) and ``brute_force`` (enumeration, for tests). Every solve returns
a ``SolveResult`` with objective, bound, gap, status and wall time.
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

    def __post_init__(self):
        self.scores = [np.asarray(s, dtype=np.float64) for s in self.scores]
        self.unit_costs = [int(c) for c in self.unit_costs]
        sizes = [len(s) for s in self.scores]
        self.min_units = list(self.min_units) if self.min_units is not None else [1] * len(sizes)
        self.lower = list(self.lower) if self.lower is not None else [0] * len(sizes)
        self.upper = list(self.upper) if self.upper is not None else sizes

    @property
    def sizes(self):
        return [len(s) for s in self.scores]

    def _minima(self):
        return self.min_units

    def with_bounds(self, budget=None, lower=None, upper=None):
        return replace(
            self,
            budget=self.budget if budget is None else budget,
            lower=self.lower if lower is None else lower,
            upper=self.upper if upper is None else upper,
        )

    def width_range(self, layer):
        lo = max(self._minima()[layer], self.lower[layer])
        hi = min(self.sizes[layer], self.upper[layer])
        return lo, hi

    def macs(self, widths):
        return int(sum(c * w for c, w in zip(self.unit_costs, widths)))

    def value(self, widths):
        return float(sum(_top_sum_table(s, lo, up)[w] for s, lo, up, w in zip(self.scores, self.lower, self.upper, widths)))

    def total_macs(self):
        return self.macs(self.sizes)

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
        A = sparse.csr_array((vals, (rows, cols)), shape=(len(row_lo), n))
        return c, A, np.array(row_lo, float), np.array(row_hi, float), lb, ub, np.ones(n)

    def decode(self, x):
        offsets = np.cumsum([0] + self.sizes)
        selection = [np.flatnonzero(np.round(x[offsets[i] : offsets[i + 1]]) > 0.5) for i in range(len(self.sizes))]
        return selection, tuple(len(s) for s in selection)

    def solve_dp(self):
        """Exact multiple-choice knapsack over layer widths (costs are uniform within a layer)."""
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
        return SolveResult(widths, objective, self.macs(widths), "optimal", objective, time.perf_counter() - start, "dp")

    def solve_brute_force(self):
        start = time.perf_counter()
        best = (-np.inf, None)
        per_layer = []
        for layer, size in enumerate(self.sizes):
            opts = []
            for mask in itertools.product((0, 1), repeat=size):
                mask = np.array(mask)
                if mask[: self.lower[layer]].min(initial=1) < 1 or mask[self.upper[layer] :].max(initial=0) > 0:
                    continue
                if mask.sum() < self.min_units[layer]:
                    continue
                opts.append((mask, float(mask @ self.scores[layer]), int(mask.sum()) * self.unit_costs[layer]))
            per_layer.append(opts)
        for combo in itertools.product(*per_layer):
            if sum(o[2] for o in combo) <= self.budget:
                value = sum(o[1] for o in combo)
                if value > best[0]:
                    best = (value, combo)
        if best[1] is None:
            raise KnapsackInfeasible("no feasible selection")
        selection = [np.flatnonzero(o[0]) for o in best[1]]
        widths = tuple(len(s) for s in selection)
        return SolveResult(widths, best[0], self.macs(widths), "optimal", best[0], time.perf_counter() - start,
                           "brute_force", selection)


# --------------------------------------------------------------------------------------------------------------
# DS-CNN: knapsack with pointwise-kernel variables


@dataclass
class DSCNNKnapsack:
    """The DS-CNN formulation of the original (``y``, ``d``, ``p``, ``q`` variables; see module docstring).

    Width variables are ``x_0`` (first conv filters) and ``x_i`` (pointwise filters of block i); block i's
    depthwise layer keeps ``x_{i-1}`` channels and each kept pointwise filter ``x_{i-1}`` kernels.
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

    @property
    def blocks(self):
        return len(self.pw_scores)

    @property
    def sizes(self):
        return [len(self.conv_scores)] + [pw.shape[0] for pw in self.pw_scores]

    with_bounds = LayerKnapsack.with_bounds
    width_range = LayerKnapsack.width_range

    def _minima(self):
        return self.min_widths

    def macs(self, widths):
        total = self.conv_cost * widths[0]
        for i in range(self.blocks):
            total += self.dw_costs[i] * widths[i] + self.kernel_costs[i] * widths[i] * widths[i + 1]
        return int(total)

    def total_macs(self):
        return self.macs(self.sizes)

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
        """
        start = time.perf_counter()
        sizes, blocks = self.sizes, self.blocks
        unit = math.gcd(*self.dw_costs, *self.kernel_costs)
        status = "optimal"
        capacity = (self.budget - self.conv_cost * max(self.min_widths[0], self.lower[0])) // unit
        if max_budget_steps is not None and capacity > max_budget_steps:
            unit = unit * math.ceil(capacity / max_budget_steps)
            status = "approximate"
        capacity = max(self.budget // unit, 0)

        def dw_cost(i, m):
            return -(-self.dw_costs[i] * m // unit)

        def pw_cost(i, m, x):
            return -(-self.kernel_costs[i] * m * x // unit)

        ranges = [self.width_range(i) for i in range(len(sizes))]
        # R[x, r]: best value of the blocks after the current one, given width x and remaining scaled budget r
        R = np.full((sizes[-1] + 1, capacity + 1), -np.inf)
        lo, hi = ranges[-1]
        R[lo : hi + 1] = 0.0
        choices = [None] * blocks
        for i in reversed(range(blocks)):
            dw_value = _top_sum_table(self.dw_scores[i], self.lower[i], self.upper[i])
            kernel_table = self._kernel_value_table(i)
            pw_prefix = np.concatenate([np.zeros((1, kernel_table.shape[1])), np.cumsum(kernel_table, axis=0)])
            new = np.full((sizes[i] + 1, capacity + 1), -np.inf)
            arg = np.full((sizes[i] + 1, capacity + 1), -1, dtype=np.int16)
            m_lo, m_hi = ranges[i]
            x_lo, x_hi = ranges[i + 1]
            for m in range(m_lo, m_hi + 1):
                row, arg_row = new[m], arg[m]
                base = dw_cost(i, m)
                for x in range(x_lo, x_hi + 1):
                    cost = base + pw_cost(i, m, x)
                    if cost > capacity:
                        break
                    cand = R[x, : capacity + 1 - cost] + pw_prefix[x, m]
                    seg = row[cost:]
                    better = cand > seg
                    seg[better] = cand[better]
                    arg_row[cost:][better] = x
                row += dw_value[m]
            R, choices[i] = new, arg
        conv_value = _top_sum_table(self.conv_scores, self.lower[0], self.upper[0])
        best, best_x0 = -np.inf, None
        for x0 in range(ranges[0][0], ranges[0][1] + 1):
            remaining = self.budget - self.conv_cost * x0
            if remaining < 0:
                break
            r = min(remaining // unit, capacity)
            candidate = conv_value[x0] + R[x0, r]
            if candidate > best:
                best, best_x0 = candidate, x0
        if best_x0 is None or not np.isfinite(best):
            raise KnapsackInfeasible(
                f"budget {self.budget} MACs is below the minimum widths {[r[0] for r in ranges]}")
        widths = [best_x0]
        r = min((self.budget - self.conv_cost * best_x0) // unit, capacity)
        for i in range(blocks):
            m = widths[-1]
            x = int(choices[i][m, r])
            r -= dw_cost(i, m) + pw_cost(i, m, x)
            widths.append(x)
        widths = tuple(int(w) for w in widths)
        objective = self.value(widths)
        bound = objective if status == "optimal" else np.inf
        return SolveResult(widths, objective, self.macs(widths), status, bound, time.perf_counter() - start, "dp")

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
        add_row([(u, 1) for u in range(sizes[0])] + [(x_start, -1)], 0, 0)  # x_0 = sum y
        for i, (d, p, q) in enumerate(blocks):
            m_size, k_size = sizes[i], sizes[i + 1]
            c[d : d + m_size] = self.dw_scores[i]
            c[q : q + k_size * m_size] = self.pw_scores[i].ravel()
            fix_prefix(d, i)
            fix_prefix(p, i + 1)
            capacity += [(d + u, self.dw_costs[i]) for u in range(m_size)]
            capacity += [(q + j, self.kernel_costs[i]) for j in range(k_size * m_size)]
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
            if self.macs(widths) > self.budget:
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
        return SolveResult(tuple(best_widths), float(best), self.macs(best_widths), "optimal", float(best),
                           time.perf_counter() - start, "brute_force")


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
        import gurobipy as gp
        from gurobipy import GRB

        with gp.Env(params={"OutputFlag": int(verbose)}) as env, gp.Model(env=env) as model:
            var = model.addMVar(len(c), lb=lb, ub=ub, vtype=GRB.INTEGER)
            model.setObjective(c @ var, GRB.MAXIMIZE)
            finite_hi, finite_lo = np.isfinite(row_hi), np.isfinite(row_lo)
            model.addMConstr(A[finite_hi], var, "<", row_hi[finite_hi])
            model.addMConstr(A[finite_lo], var, ">", row_lo[finite_lo])
            model.Params.MIPGap = 0.0
            if time_limit:
                model.Params.TimeLimit = float(time_limit)
            model.optimize()
            if model.SolCount == 0:
                raise KnapsackInfeasible(f"Gurobi found no feasible selection (status {model.Status})")
            x = var.X
            objective = float(c @ np.round(x))
            bound = float(model.ObjBound)
            status = "optimal" if model.Status == GRB.OPTIMAL else "time_limit"
    else:
        raise ValueError(f"unknown MILP solver {solver!r}")
    selection, widths = problem.decode(x)
    result = SolveResult(widths, objective, problem.macs(widths), status, max(bound, objective),
                         time.perf_counter() - start, solver, selection)
    return result


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
    """MAC target per percentage, as in the original: ``round(total * p)``."""
    return [int(round(total_macs * p)) for p in percentages]


def iterative_knapsack(problem, percentages, bottom_up=True, solver="dp", solver_time_limit=None,
                       solver_max_iterations=3, carry_residual=False, td_nested=False, log=print,
                       max_budget_steps=None):
    """Solve one knapsack per MAC percentage and return the results in ascending-percentage order.

    Bottom-up (the default, as in the paper): ascending budgets; each solution's widths become the lower
    bounds of the next (nested by construction). Top-down: descending budgets, each solved independently
    (faithful, quirk Q9) unless ``td_nested`` bounds each smaller solution by the larger one. Each budget gets
    up to ``solver_max_iterations`` tries with time limits 1x, 2x, 3x ``solver_time_limit``; a try is
    accepted when its MACs fit ``target + residual`` (residual only with ``carry_residual``, Q6).
    """
    order = sorted(range(len(percentages)), key=lambda i: percentages[i], reverse=not bottom_up)
    targets = mac_targets(problem.total_macs(), percentages)
    results = [None] * len(percentages)
    bounds = {}
    residual = 0
    for index in order:
        target = targets[index]
        capacity = target + (residual if carry_residual else 0)
        result = None
        for attempt in range(1, solver_max_iterations + 1):
            limit = solver_time_limit * attempt if solver_time_limit else None
            try:
                candidate = solve(problem.with_bounds(budget=capacity, **bounds), solver, limit,
                                  max_budget_steps=max_budget_steps)
            except SolverTimeLimit:
                if attempt == solver_max_iterations:
                    raise
                continue
            if candidate.model_macs <= capacity:
                result = candidate
                if candidate.status in ("optimal", "approximate") or attempt == solver_max_iterations:
                    break
        if result is None:
            raise KnapsackInfeasible(f"no selection within {capacity} MACs after {solver_max_iterations} tries")
        residual = capacity - result.model_macs
        gap = "unknown" if result.gap is None else f"{result.gap:.2e}"
        log(f"knapsack {percentages[index]:.0%} target {target} MACs: widths {list(result.widths)}, "
            f"{result.model_macs} MACs, objective {result.objective:.0f}, bound {result.bound:.0f}, "
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
