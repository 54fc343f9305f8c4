"""Solver layer: DP == HiGHS == brute force on small instances, exact formulation sizes, BU/TD semantics."""

import numpy as np
import pytest
from reds.benchmark_solvers import make_instance
from reds.utils import knapsack as ks


def _layer_instance(rng, sizes=(4, 3, 3), costs=(5, 3, 7), fraction=None):
    scores = [np.sort(rng.integers(1, 100, s))[::-1] for s in sizes]
    problem = ks.LayerKnapsack(scores, list(costs), budget=0, min_units=[1] * len(sizes))
    fraction = rng.uniform(0.2, 0.9) if fraction is None else fraction
    return problem.with_bounds(budget=int(problem.total_macs() * fraction))


def _dscnn_instance(rng, sizes=(3, 3, 2), prefix_kernels=False, sorted_scores=True):
    blocks = len(sizes) - 1

    def vec(n):
        v = rng.integers(1, 100, n)
        return np.sort(v)[::-1] if sorted_scores else v

    problem = ks.DSCNNKnapsack(vec(sizes[0]), [vec(sizes[i]) for i in range(blocks)],
                               [rng.integers(1, 100, (sizes[i + 1], sizes[i])) for i in range(blocks)],
                               conv_cost=7, dw_costs=[3] * blocks, kernel_costs=[2] * blocks, budget=0,
                               prefix_kernels=prefix_kernels)
    return problem.with_bounds(budget=int(problem.total_macs() * rng.uniform(0.35, 0.95)))


def test_layer_knapsack_dp_highs_brute_force_agree():
    rng = np.random.default_rng(0)
    for _ in range(25):
        problem = _layer_instance(rng, fraction=rng.uniform(0.35, 0.9))
        dp, brute, highs = problem.solve_dp(), problem.solve_brute_force(), ks.solve(problem, "highs")
        assert dp.objective == brute.objective == highs.objective
        assert highs.status == "optimal" and highs.gap == 0.0
        assert dp.model_macs <= problem.budget and highs.model_macs <= problem.budget
        assert problem.value(dp.widths) == dp.objective


@pytest.mark.parametrize("prefix_kernels", [False, True])
@pytest.mark.parametrize("sorted_scores", [True, False])
def test_dscnn_knapsack_dp_highs_brute_force_agree(prefix_kernels, sorted_scores):
    rng = np.random.default_rng(1 + prefix_kernels + 2 * sorted_scores)
    solved = 0
    for _ in range(12):
        problem = _dscnn_instance(rng, prefix_kernels=prefix_kernels, sorted_scores=sorted_scores)
        try:
            brute = problem.solve_brute_force()
        except ks.KnapsackInfeasible:
            continue
        dp, highs = problem.solve_dp(), ks.solve(problem, "highs")
        assert dp.objective == brute.objective == highs.objective, (dp, brute, highs)
        assert dp.model_macs <= problem.budget
        solved += 1
    assert solved >= 8


def test_dscnn_free_kernels_never_worse_than_prefix_kernels():
    # Q7: the faithful model picks the best x_{i-1} kernels of a filter, so it dominates the prefix variant
    rng = np.random.default_rng(5)
    for _ in range(10):
        free = _dscnn_instance(rng)
        prefix = ks.DSCNNKnapsack(**{**free.__dict__, "prefix_kernels": True})
        assert free.solve_dp().objective >= prefix.solve_dp().objective


def test_dscnn_milp_size_matches_original_formulation():
    # DS-CNN S: U = 64, 4 blocks -> 16,965 variables, 17,414 rows (reds.md section 3.2)
    U, b = 64, 4
    problem = ks.DSCNNKnapsack(np.ones(U), [np.ones(U)] * b, [np.ones((U, U))] * b, 5000, [1125] * b, [125] * b,
                               budget=10**6)
    c, A, *_ = problem.milp_matrices()
    assert len(c) == U + 2 * b * U + b * U * U + b + 1 == 16_965
    assert A.shape[0] == 2 + b * (2 + (U - 1) + U * (U + 3)) == 17_414
    assert problem.total_macs() == 2_656_000


@pytest.mark.parametrize("bottom_up,td_nested", [(True, False), (False, True)])
def test_iterative_knapsack_nests_and_respects_budgets_dscnn_s(bottom_up, td_nested):
    problem = make_instance("dscnn_s")
    percentages = [0.25, 0.5, 0.75]
    results, targets = ks.iterative_knapsack(problem, percentages, bottom_up=bottom_up, td_nested=td_nested,
                                             log=lambda _: None)
    assert targets == [664_000, 1_328_000, 1_992_000]
    widths = [r.widths for r in results] + [tuple(problem.sizes)]
    assert ks.nesting_violations(widths) == []
    for result, target in zip(results, targets):
        assert result.model_macs == problem.macs(result.widths) <= target
        assert result.widths[-1] >= 60  # last_pointwise_filters
        assert result.status == "optimal"
    # each later budget is at least as good as freezing nothing would allow given the frozen units
    assert results[0].objective < results[1].objective < results[2].objective


def test_bottom_up_solution_is_optimal_given_frozen_units():
    # the 50 % solve of BU is the exact optimum among solutions containing the 25 % widths
    problem = _layer_instance(np.random.default_rng(3), sizes=(5, 4, 3), costs=(2, 3, 4))
    results, targets = ks.iterative_knapsack(problem, [0.3, 0.6], log=lambda _: None)
    constrained = problem.with_bounds(budget=targets[1], lower=list(results[0].widths))
    assert results[1].objective == constrained.solve_brute_force().objective
    assert all(a <= b for a, b in zip(results[0].widths, results[1].widths))


def test_top_down_without_nesting_is_independent_solves():
    problem = make_instance("dscnn_s", 2)
    results, targets = ks.iterative_knapsack(problem, [0.25, 0.5], bottom_up=False, log=lambda _: None)
    for result, target in zip(results, targets):
        assert result.objective == problem.with_bounds(budget=target).solve_dp().objective


def test_carry_residual_adds_unused_macs_to_the_next_capacity():
    problem = _layer_instance(np.random.default_rng(4), sizes=(6, 6), costs=(7, 11))
    plain, targets = ks.iterative_knapsack(problem, [0.3, 0.6], log=lambda _: None)
    carried, _ = ks.iterative_knapsack(problem, [0.3, 0.6], carry_residual=True, log=lambda _: None)
    residual = targets[0] - plain[0].model_macs
    assert carried[1].model_macs <= targets[1] + residual
    assert carried[1].objective >= plain[1].objective


def test_infeasible_budget_raises_clear_error():
    problem = _layer_instance(np.random.default_rng(0)).with_bounds(budget=3)
    problem.min_units = [2, 2, 2]
    with pytest.raises(ks.KnapsackInfeasible, match="below the minimum widths"):
        problem.solve_dp()


def test_highs_equals_dp_on_a_medium_dscnn_instance():
    rng = np.random.default_rng(11)
    problem = _dscnn_instance(rng, sizes=(12, 12, 10))
    result = ks.solve(problem, "highs", time_limit=60)
    assert result.status == "optimal" and result.gap == 0.0
    assert result.objective == problem.solve_dp().objective


def test_highs_time_limit_without_incumbent_says_what_to_do():
    problem = make_instance("dscnn_s", 1).with_bounds(budget=664_000)
    try:
        result = ks.solve(problem, "highs", time_limit=0.5)
    except ks.SolverTimeLimit as err:
        assert "--solver_time_limit" in str(err)
    else:  # an incumbent in time: it must be feasible and bounded by the exact optimum
        optimum = problem.solve_dp().objective
        assert result.model_macs <= 664_000 and result.objective <= optimum <= result.bound + 1e-6


@pytest.mark.skipif(not ks.gurobi_available(), reason="gurobipy not installed or not licensed")
def test_gurobi_matches_dp():
    # all within the pip package's size-limited licence (2,000 variables, 2,000 constraints)
    rng = np.random.default_rng(7)
    problems = [_dscnn_instance(rng) for _ in range(5)] + [_layer_instance(rng) for _ in range(5)]
    dnn_s = make_instance("dnn_s")  # real size: 3 x 144 neurons, fan-in 250 / 144 / 144 MACs, min 2 units
    problems += [dnn_s.with_bounds(budget=t) for t in ks.mac_targets(dnn_s.total_macs(), [0.25, 0.5, 0.75])]
    for problem in problems:
        gurobi, highs, dp = ks.solve(problem, "gurobi"), ks.solve(problem, "highs"), problem.solve_dp()
        assert gurobi.objective == highs.objective == dp.objective, (gurobi, highs, dp)
        assert gurobi.status == "optimal" and gurobi.model_macs <= problem.budget


@pytest.mark.skipif(not ks.gurobi_available(), reason="gurobipy not installed or not licensed")
def test_gurobi_size_limited_licence_says_what_to_do():
    problem = make_instance("dscnn_s").with_bounds(budget=1_992_000)  # DS-CNN S: 16,965 variables, 17,414 rows
    try:
        result = ks.solve(problem, "gurobi", time_limit=2)
    except ks.SolverLicenceLimit as err:
        message = str(err)
    except ks.SolverTimeLimit:
        pytest.skip("unrestricted Gurobi licence (no incumbent in 2 s)")
    else:
        assert result.model_macs <= problem.budget
        pytest.skip("unrestricted Gurobi licence")
    assert "16,965 variables and 17,414 constraints" in message
    assert "size-limited" in message and "--solver dp or highs" in message and "full Gurobi licence" in message


def test_gurobi_request_without_licence_says_what_to_do():
    if ks.gurobi_available():
        pytest.skip("gurobipy is licensed here")
    with pytest.raises(RuntimeError, match="--solver dp or highs"):
        ks.solve(_layer_instance(np.random.default_rng(0)), "gurobi")
