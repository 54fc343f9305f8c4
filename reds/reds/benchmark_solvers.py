"""Solver benchmark: which solver reaches the knapsack optimum fastest on REDS-sized instances.

    python -m reds.benchmark_solvers [--highs_time_limit 60] [--solvers dp,highs,gurobi] [--instances dscnn_s,dnn_l]
                                     [--memory_percentages 0.2,0.45,0.7]

Instances use synthetic importance scores (sorted log-normal, integer-scaled like the Taylor scores) with
the real per-unit MAC costs of each model and its per-unit parameter counts as memory costs; each runs the
bottom-up chain 25 -> 50 -> 75 %, with memory budgets only when ``--memory_percentages`` is given. Prints
objective, bound, gap, status and seconds per solve, and the gap to the DP optimum. Gurobi runs when gurobipy
is importable and licensed; an instance above the pip package's size-limited licence (2,000 variables, 2,000
constraints: DS-CNN S and L) gets a "skipped" row that says so.
"""

from pathlib import Path

import numpy as np
import run_contract as rc

from reds.pipeline import comma_list
from reds.utils import knapsack as ks

DNN_SIZES = {"dnn_s": 144, "dnn_l": 436}
DSCNN = {"dscnn_s": (64, 4, 5000, 1125, 125), "dscnn_l": (276, 5, 10000, 585, 65)}
LAST_POINTWISE_FILTERS = 60
INSTANCES = ("dnn_s", "dnn_l", "dscnn_s", "dscnn_l")
DNN_INPUTS = 250  # 25 x 10 MFCC features
# parameters per unit: first conv 10x4 on one input channel + bias, depthwise 3x3 + bias, pointwise kernel 1
# (its filter's bias counted once per kept filter)
DSCNN_MEMORY = {"conv": 10 * 4 + 1, "dw": 3 * 3 + 1, "kernel": 1, "pw": 1}


def make_instance(name, seed=0):
    rng = np.random.default_rng(seed)

    def scores(shape, scale):
        return np.round(rng.lognormal(0, 1, shape) * scale)

    if name in DNN_SIZES:
        units = DNN_SIZES[name]
        fan_in = [DNN_INPUTS, units, units]
        return ks.LayerKnapsack([np.sort(scores(units, 1e3))[::-1] for _ in range(3)], fan_in, budget=0,
                                min_units=[2, 2, 2], unit_memory=[n + 1 for n in fan_in])
    units, blocks, conv, dw, kernel = DSCNN[name]
    dw_costs = [dw] + [kernel * 9] * (blocks - 1) if name == "dscnn_l" else [dw] * blocks
    return ks.DSCNNKnapsack(np.sort(scores(units, 1e3))[::-1], [np.sort(scores(units, 1e3))[::-1] for _ in range(blocks)],
                            [scores((units, units), 1e2) for _ in range(blocks)], conv, dw_costs, [kernel] * blocks,
                            budget=0, min_widths=[1] * blocks + [LAST_POINTWISE_FILTERS],
                            conv_memory=DSCNN_MEMORY["conv"], dw_memory=[DSCNN_MEMORY["dw"]] * blocks,
                            kernel_memory=[DSCNN_MEMORY["kernel"]] * blocks, pw_memory=[DSCNN_MEMORY["pw"]] * blocks)


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description=__doc__.splitlines()[0], add_help=add_help)
    p.add_argument("--instances", default="dnn_s,dnn_l,dscnn_s", help="comma list of dnn_s,dnn_l,dscnn_s,dscnn_l",
                   type=comma_list(str, "instances", lambda v: v in INSTANCES, f" ({', '.join(INSTANCES)})"))
    p.add_argument("--solvers", default="dp,highs,gurobi",
                   help="comma list of dp,highs,gurobi (gurobi is skipped when not installed or licensed)",
                   type=comma_list(str, "solvers", lambda v: v in ("dp", "highs", "gurobi"), " (dp, highs, gurobi)"))
    p.add_argument("--highs_time_limit", type=rc.positive_float, default=60.0, help="seconds per MILP solve")
    p.add_argument("--dp_max_budget_steps", type=rc.positive_int, default=400_000)
    p.add_argument("--percentages", default="0.25,0.5,0.75",
                   type=comma_list(float, "fractions", lambda v: 0 < v < 1, " in (0, 1)"))
    p.add_argument("--memory_percentages", default=None,
                   type=comma_list(float, "fractions", lambda v: 0 < v <= 1, " in (0, 1]"),
                   help="memory budgets as fractions of the total parameter count, aligned with --percentages "
                        "(default: memory unconstrained, as in the original)")
    p.add_argument("--seed", type=rc.nonnegative_int, default=0)
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    return p


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    percentages = [float(v) for v in args.percentages.split(",")]
    memory_percentages = None
    if args.memory_percentages:
        memory_percentages = [float(v) for v in args.memory_percentages.split(",")]
        rc.check(len(memory_percentages) == len(percentages),
                 "--memory_percentages needs one entry per --percentages entry")
    gurobi = ks.gurobi_available()
    rows = []
    print(f"{'instance':9} {'solver':6} {'budget':>6} {'objective':>12} {'bound':>12} {'gap':>9} {'vs DP':>9} "
          f"{'status':>11} {'seconds':>8} {'memory':>8}  widths")
    for name in args.instances.split(","):
        problem = make_instance(name, args.seed)
        memory_targets = (ks.mac_targets(problem.total_memory(), memory_percentages)
                          if memory_percentages else None)
        dp_by_budget = {}
        for solver in args.solvers.split(","):
            if solver == "gurobi" and not gurobi:
                print(f"{name:9} gurobi skipped: gurobipy not installed or not licensed")
                continue
            try:
                results, _ = ks.iterative_knapsack(problem, percentages, solver=solver,
                                                   solver_time_limit=args.highs_time_limit, solver_max_iterations=1,
                                                   log=lambda _: None, max_budget_steps=args.dp_max_budget_steps,
                                                   memory_targets=memory_targets)
            except ks.SolverTimeLimit as err:
                print(f"{name:9} {solver:6} no incumbent within the time limit: {err}")
                continue
            except ks.SolverLicenceLimit as err:
                print(f"{name:9} {solver:6} skipped: {err}")
                continue
            except ks.DPTooLarge as err:
                print(f"{name:9} {solver:6} skipped: {err}")
                continue
            for p, r in zip(percentages, results):
                if solver == "dp":
                    dp_by_budget[p] = r.objective
                vs_dp = (r.objective - dp_by_budget[p]) / dp_by_budget[p] if p in dp_by_budget else float("nan")
                rows.append({"instance": name, "percentage": p, "vs_dp": vs_dp, **r.as_dict()})
                gap = r.gap if r.gap is not None else float("nan")
                memory = "" if r.memory_budget is None else r.memory  # shown only when constrained
                print(f"{name:9} {solver:6} {p:>6.0%} {r.objective:>12.0f} {r.bound:>12.0f} {gap:>9.2e} "
                      f"{vs_dp:>+9.2e} {r.status:>11} {r.seconds:>8.2f} {memory:>8}  {list(r.widths)}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        rc.write_json(args.json, rows)
    if not rows:
        raise rc.RunFailed("no solver produced a result")
    return 0


if __name__ == "__main__":
    rc.entry(main)
