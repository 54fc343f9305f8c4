"""MILP back-ends of the REDS knapsacks: the original's binary formulations in matrix form, HiGHS and Gurobi.

``layer_matrices`` / ``dscnn_matrices`` build the same variables and rows as the original ``knapsack.py``
(DS-CNN S: 16,965 variables, 17,414 rows): maximise ``c.x`` s.t. ``lo <= A x <= hi``, bounds, integrality.
``solve_milp`` solves them with ``scipy.optimize.milp`` (HiGHS; gap 0, a time limit) or gurobipy (only with a
licence; the pip package's is size-limited to 2,000 variables and 2,000 constraints, which fits DNN S/L and CNN
but not DS-CNN: ``gurobi_fits`` checks a problem's size against the licence before any training).
"""

import time

import numpy as np

from reds.utils.knapsack.problem import KnapsackInfeasible, SolverLicenceLimit, SolverTimeLimit, _make_result

GUROBI_SIZE_LIMITED = 10010  # GurobiError.errno: "Model too large for size-limited license"


def layer_matrices(problem):
    from scipy import sparse

    offsets = np.cumsum([0] + problem.sizes)
    n = offsets[-1]
    c = np.concatenate(problem.scores)
    lb = np.zeros(n)
    ub = np.ones(n)
    rows, cols, vals, row_lo, row_hi = [], [], [], [], []
    for layer, (cost, size) in enumerate(zip(problem.unit_costs, problem.sizes)):
        start = offsets[layer]
        lb[start : start + problem.lower[layer]] = 1
        ub[start + problem.upper[layer] : start + size] = 0
        rows += [0] * size
        cols += list(range(start, start + size))
        vals += [cost] * size
    row_lo.append(-np.inf)
    row_hi.append(problem.budget)
    for layer, size in enumerate(problem.sizes):
        start = offsets[layer]
        r = len(row_lo)
        rows += [r] * size
        cols += list(range(start, start + size))
        vals += [1] * size
        row_lo.append(problem.min_units[layer])
        row_hi.append(np.inf)
    if problem.memory_budget is not None:  # the last row, so the rows without memory keep their order
        r = len(row_lo)
        for layer, (cost, size) in enumerate(zip(problem.unit_memory, problem.sizes)):
            rows += [r] * size
            cols += list(range(offsets[layer], offsets[layer] + size))
            vals += [cost] * size
        row_lo.append(-np.inf)
        row_hi.append(problem.memory_budget)
    A = sparse.csr_array((vals, (rows, cols)), shape=(len(row_lo), n))
    return c, A, np.array(row_lo, float), np.array(row_hi, float), lb, ub, np.ones(n)


def layer_decode(problem, x):
    offsets = np.cumsum([0] + problem.sizes)
    selection = [np.flatnonzero(np.round(x[offsets[i] : offsets[i + 1]]) > 0.5) for i in range(len(problem.sizes))]
    return selection, tuple(len(s) for s in selection)


def dscnn_layout(problem):
    sizes = problem.sizes
    offset = sizes[0]
    blocks = []
    for i in range(problem.blocks):
        d = offset
        p = d + sizes[i]
        q = p + sizes[i + 1]
        offset = q + sizes[i + 1] * sizes[i]
        blocks.append((d, p, q))
    return blocks, offset


def dscnn_matrices(problem):
    from scipy import sparse

    sizes = problem.sizes
    blocks, x_start = dscnn_layout(problem)
    n = x_start + len(sizes)
    c = np.zeros(n)
    lb, ub = np.zeros(n), np.ones(n)
    integrality = np.ones(n)
    c[: sizes[0]] = problem.conv_scores
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
        lb[start : start + problem.lower[layer]] = 1
        ub[start + problem.upper[layer] : start + sizes[layer]] = 0

    fix_prefix(0, 0)
    for w, size in enumerate(sizes):
        lb[x_start + w] = max(problem.min_widths[w], problem.lower[w])
        ub[x_start + w] = min(size, problem.upper[w])
    capacity = [(u, problem.conv_cost) for u in range(sizes[0])]
    memory = [(u, problem.conv_memory) for u in range(sizes[0])] if problem.memory_budget is not None else None
    add_row([(u, 1) for u in range(sizes[0])] + [(x_start, -1)], 0, 0)  # x_0 = sum y
    for i, (d, p, q) in enumerate(blocks):
        m_size, k_size = sizes[i], sizes[i + 1]
        c[d : d + m_size] = problem.dw_scores[i]
        c[q : q + k_size * m_size] = problem.pw_scores[i].ravel()
        fix_prefix(d, i)
        fix_prefix(p, i + 1)
        capacity += [(d + u, problem.dw_costs[i]) for u in range(m_size)]
        capacity += [(q + j, problem.kernel_costs[i]) for j in range(k_size * m_size)]
        if memory is not None:
            memory += [(d + u, problem.dw_memory[i]) for u in range(m_size)]
            memory += [(p + k, problem.pw_memory[i]) for k in range(k_size) if problem.pw_memory[i]]
            memory += [(q + j, problem.kernel_memory[i]) for j in range(k_size * m_size)]
        add_row([(d + u, 1) for u in range(m_size)] + [(x_start + i, -1)], 0, 0)  # sum d_i = x_{i-1}
        add_row([(p + k, 1) for k in range(k_size)] + [(x_start + i + 1, -1)], 0, 0)  # x_i = sum p_i
        for k in range(k_size - 1):
            add_row([(p + k, 1), (p + k + 1, -1)], 0, np.inf)  # pointwise prefix
        for k in range(k_size):
            kernels = [(q + k * m_size + t, 1) for t in range(m_size)]
            for t in range(m_size):
                add_row([(q + k * m_size + t, 1), (p + k, -1)], -np.inf, 0)  # q <= p
                if problem.prefix_kernels and t + 1 < m_size:
                    add_row([(q + k * m_size + t, 1), (q + k * m_size + t + 1, -1)], 0, np.inf)
            add_row([(p + k, 1)] + [(col, -1) for col, _ in kernels], -np.inf, 0)  # p <= sum q
            add_row(kernels + [(x_start + i, -1)], -np.inf, 0)  # sum q <= x_{i-1}
            # sum q >= x_{i-1} - U (1 - p)
            add_row(kernels + [(x_start + i, -1), (p + k, -m_size)], -m_size, np.inf)
    add_row(capacity, -np.inf, problem.budget)
    if memory is not None:  # after the MAC row, so the rows without memory keep their order
        add_row(memory, -np.inf, problem.memory_budget)
    A = sparse.csr_array((vals, (rows, cols)), shape=(len(row_lo), n))
    return c, A, np.array(row_lo, float), np.array(row_hi, float), lb, ub, integrality


def dscnn_decode(problem, x):
    sizes = problem.sizes
    _, x_start = dscnn_layout(problem)
    widths = tuple(int(round(v)) for v in x[x_start:])
    y = np.flatnonzero(np.round(x[: sizes[0]]) > 0.5)
    selection = [y] + [np.flatnonzero(np.round(x[p : p + sizes[i + 1]]) > 0.5)
                       for i, (_, p, _) in enumerate(dscnn_layout(problem)[0])]
    return selection, widths


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
        from scipy import sparse

        with gp.Env(params={"OutputFlag": 0}) as env, gp.Model(env=env) as model:
            x = model.addMVar(variables, lb=0, ub=1, vtype=GRB.BINARY)
            rows_matrix = sparse.csr_array((np.ones(rows), (np.arange(rows), np.arange(rows) % variables)),
                                           shape=(rows, variables))
            model.addMConstr(rows_matrix, x, "<", np.ones(rows))
            model.optimize()
    except gp.GurobiError as err:
        if err.errno == GUROBI_SIZE_LIMITED:
            return False, (f"the knapsack has {variables:,} variables and {rows:,} constraints, above this Gurobi "
                           f"licence's size limit (the pip package's: 2,000 x 2,000); use --solver dp or highs, or a "
                           f"full licence (--gurobi_license_file)")
        return False, f"Gurobi cannot start ({err}); use --solver dp or highs"
    return True, ""


def solve_milp(problem, solver, time_limit, verbose=False):
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
