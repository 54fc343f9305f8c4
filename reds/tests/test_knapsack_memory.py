"""Memory budget (quirk Q8): DP == HiGHS (== Gurobi) == brute force with a binding memory row; None changes nothing."""

from dataclasses import replace

import numpy as np
import pytest
from reds.benchmark_solvers import make_instance
from reds.utils import knapsack as ks
from reds.utils.knapsack import exact

GUROBI = ks.gurobi_available()

# pre-memory results (commit 55c9b51) of the unconstrained BU chain 25 -> 50 -> 75 %
DSCNN_S_WIDTHS = [(11, 31, 41, 22, 64), (19, 48, 60, 37, 64), (25, 63, 60, 62, 64)]
DSCNN_S_OBJECTIVES = [1_576_204, 2_353_552, 2_920_571]
DNN_S_WIDTHS = [(29, 40, 44), (65, 74, 82), (97, 115, 120)]
DNN_S_OBJECTIVES = [442_278, 585_198, 661_445]


def _layer_instance(rng, sizes=(4, 3, 3), costs=(5, 3, 7)):
    scores = [np.sort(rng.integers(1, 100, s))[::-1] for s in sizes]
    problem = ks.LayerKnapsack(scores, list(costs), budget=0, unit_memory=list(rng.integers(1, 12, len(sizes))))
    return problem.with_bounds(budget=int(problem.total_macs() * rng.uniform(0.35, 0.9)),
                               memory_budget=int(problem.total_memory() * rng.uniform(0.25, 0.9)))


def _dscnn_instance(rng, prefix_kernels=False, macs=(7, 8, 1), memory=(2, 1, 4)):
    # conv and depthwise cheap in memory but dear in MACs, pointwise kernels the other way round, so the
    # MAC-only and the memory-only optima often both break the other budget (the exact two-axis DP runs)
    sizes, blocks = (3, 3, 2), 2

    def vec(n):
        return np.sort(rng.integers(1, 100, n))[::-1]

    problem = ks.DSCNNKnapsack(vec(sizes[0]), [vec(sizes[i]) for i in range(blocks)],
                               [rng.integers(1, 100, (sizes[i + 1], sizes[i])) for i in range(blocks)],
                               macs[0], [macs[1]] * blocks, [macs[2]] * blocks, budget=0,
                               prefix_kernels=prefix_kernels, conv_memory=memory[0], dw_memory=[memory[1]] * blocks,
                               kernel_memory=[memory[2]] * blocks, pw_memory=list(rng.integers(0, 3, blocks)))
    return problem.with_bounds(budget=int(problem.total_macs() * rng.uniform(0.3, 0.8)),
                               memory_budget=int(problem.total_memory() * rng.uniform(0.3, 0.8)))


def _milp_solvers():
    return ["highs"] + (["gurobi"] if GUROBI else [])


def test_layer_knapsack_memory_dp_highs_brute_force_agree():
    rng = np.random.default_rng(0)
    solved = binding = 0
    for _ in range(25):
        problem = _layer_instance(rng)
        try:
            brute = problem.solve_brute_force()
        except ks.KnapsackInfeasible:
            continue
        dp = problem.solve_dp()
        milp = [ks.solve(problem, s) for s in _milp_solvers()]
        assert dp.objective == brute.objective == problem.value(dp.widths), (dp, brute)
        assert all(r.objective == dp.objective and r.status == "optimal" for r in milp), (dp, milp)
        for result in [dp, brute, *milp]:
            assert result.model_macs <= problem.budget and result.memory <= problem.memory_budget
            assert result.memory == problem.memory(result.widths) and result.memory_budget == problem.memory_budget
        mac_only = problem.with_bounds(memory_budget=None).solve_dp()
        if mac_only.memory > problem.memory_budget:  # the memory row binds: the MAC-only optimum breaks it
            binding += 1
            assert dp.objective < mac_only.objective and dp.widths != mac_only.widths
        solved += 1
    assert solved >= 20 and binding >= 5


@pytest.mark.parametrize("prefix_kernels", [False, True])
def test_dscnn_knapsack_memory_dp_highs_brute_force_agree(prefix_kernels):
    rng = np.random.default_rng(10 + prefix_kernels)
    solved = binding = two_axis = 0
    for index in range(24):
        # two families of opposed costs; in most instances one single-budget relaxation still fits (the fast
        # path), in some neither does and the exact two-axis DP runs
        costs = {} if index % 2 else {"macs": (9, 9, 1), "memory": (1, 1, 5)}
        problem = _dscnn_instance(rng, prefix_kernels=prefix_kernels, **costs)
        try:
            brute = problem.solve_brute_force()
        except ks.KnapsackInfeasible:
            continue
        dp = problem.solve_dp()
        both, _ = exact._dscnn_widths(problem, [problem._mac_resource(), problem._memory_resource()])
        milp = [ks.solve(problem, s) for s in _milp_solvers()]
        assert dp.objective == brute.objective == problem.value(both), (dp, brute, both)
        assert all(r.objective == dp.objective and r.status == "optimal" for r in milp), (dp, milp)
        for widths in [dp.widths, brute.widths, both, *(r.widths for r in milp)]:
            assert problem.fits(widths)
        mac_only = problem.with_bounds(memory_budget=None).solve_dp()
        if mac_only.memory > problem.memory_budget:
            binding += 1
            assert dp.objective < mac_only.objective and dp.widths != mac_only.widths
        memory_only, _ = exact._dscnn_widths(problem, [problem._memory_resource()])
        two_axis += not problem.fits(mac_only.widths) and not problem.fits(memory_only)
        solved += 1
    assert solved >= 18 and binding >= 5 and two_axis >= 1


def test_iterative_knapsack_memory_targets_nest_and_bind_dscnn_s():
    # real DS-CNN S costs (MACs 5000/1125/125, parameters 41/10/1 + 1 bias per pointwise filter)
    problem = make_instance("dscnn_s")  # parameter costs 41/10/1/1 of the KWS DS-CNN S
    assert problem.total_memory() == 64 * 41 + 4 * (64 * 10 + 64 * 64 + 64) == 21_824
    percentages = [0.25, 0.5, 0.75]
    memory_targets = ks.mac_targets(problem.total_memory(), [0.2, 0.45, 0.7])
    lines = []
    results, targets = ks.iterative_knapsack(problem, percentages, memory_targets=memory_targets, log=lines.append)
    assert ks.nesting_violations([r.widths for r in results] + [tuple(problem.sizes)]) == []
    for result, target, memory_target, line in zip(results, targets, memory_targets, lines):
        assert result.model_macs == problem.macs(result.widths) <= target
        assert result.memory == problem.memory(result.widths) <= memory_target
        assert result.status == "optimal" and result.widths[-1] >= 60
        assert result.as_dict()["model_memory"] == result.memory
        assert result.as_dict()["memory_budget"] == memory_target
        assert f"memory {result.memory} (budget {memory_target})" in line
    assert [r.widths for r in results] != DSCNN_S_WIDTHS  # the memory targets change the chain
    assert all(r.objective < o for r, o in zip(results, DSCNN_S_OBJECTIVES))


def test_memory_none_keeps_results_identical():
    with_costs = make_instance("dscnn_s")  # parameter costs 41/10/1/1 of the KWS DS-CNN S
    results, _ = ks.iterative_knapsack(with_costs, [0.25, 0.5, 0.75], log=lambda _: None)
    assert [r.widths for r in results] == DSCNN_S_WIDTHS
    assert [r.objective for r in results] == DSCNN_S_OBJECTIVES
    assert [r.memory for r in results] == [with_costs.memory(w) for w in DSCNN_S_WIDTHS]
    assert all(r.memory_budget is None and "memory_budget" not in r.as_dict() for r in results)

    dnn = make_instance("dnn_s")
    lines = []
    for problem in (dnn, replace(dnn, unit_memory=None)):  # memory costs given or not, no budget
        results, _ = ks.iterative_knapsack(problem, [0.25, 0.5, 0.75], memory_targets=[None] * 3,
                                           log=lines.append)
        assert [r.widths for r in results] == DNN_S_WIDTHS
        assert [r.objective for r in results] == DNN_S_OBJECTIVES
    plain = results[0].as_dict()
    assert "model_memory" not in plain and "memory_budget" not in plain and "memory" not in lines[-1]

    # the MILP matrices without a memory budget are the ones without memory costs
    rng = np.random.default_rng(3)
    for problem in (_layer_instance(rng), _dscnn_instance(rng)):
        unconstrained = problem.with_bounds(memory_budget=None)
        bare = (replace(unconstrained, unit_memory=None) if isinstance(problem, ks.LayerKnapsack) else
                replace(unconstrained, conv_memory=None, dw_memory=None, kernel_memory=None, pw_memory=None))
        for a, b in zip(unconstrained.milp_matrices(), bare.milp_matrices()):
            a, b = (a.toarray(), b.toarray()) if hasattr(a, "toarray") else (a, b)
            np.testing.assert_array_equal(a, b)
        assert problem.milp_matrices()[1].shape[0] == bare.milp_matrices()[1].shape[0] + 1  # one memory row
        assert ks.solve(unconstrained, "highs").objective == bare.solve_dp().objective


def test_two_budget_dp_too_large_says_use_highs(monkeypatch):
    rng = np.random.default_rng(0)
    while True:  # an instance where neither single-budget optimum fits the other budget
        problem = _dscnn_instance(rng)
        try:
            mac_only = exact._dscnn_widths(problem, [problem._mac_resource()])[0]
            memory_only = exact._dscnn_widths(problem, [problem._memory_resource()])[0]
        except ks.KnapsackInfeasible:
            continue
        if not problem.fits(mac_only) and not problem.fits(memory_only):
            break
    monkeypatch.setattr(exact, "DP_MAX_CELLS", 10)
    with pytest.raises(ks.DPTooLarge, match="--solver highs"):
        problem.solve_dp()
    assert ks.solve(problem, "highs").objective == problem.solve_brute_force().objective
    monkeypatch.setattr(exact, "DP_MAX_WORK", 1)
    with pytest.raises(ks.DPTooLarge, match="--solver highs"):
        _layer_instance(rng).solve_dp()


def test_memory_budget_errors_are_clear():
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="unit_memory"):
        ks.LayerKnapsack([np.ones(3)], [1], budget=3, memory_budget=10)
    with pytest.raises(ValueError, match="conv_memory"):
        ks.DSCNNKnapsack(np.ones(2), [np.ones(2)], [np.ones((2, 2))], 1, [1], [1], budget=9, memory_budget=5)
    with pytest.raises(ValueError, match="memory_targets has 1 entries"):
        ks.iterative_knapsack(_layer_instance(rng), [0.3, 0.6], memory_targets=[10], log=lambda _: None)
    problem = _layer_instance(rng).with_bounds(memory_budget=0)
    problem.min_units = [1, 1, 1]
    with pytest.raises(ks.KnapsackInfeasible, match="below the minimum widths"):
        problem.solve_dp()
    with pytest.raises(ks.KnapsackInfeasible, match="memory"):
        _dscnn_instance(rng).with_bounds(memory_budget=1).solve_dp()
