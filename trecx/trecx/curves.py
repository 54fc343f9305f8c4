"""Early-exit benefit curves from per-sample trace files (T-RECX Eq. 1-3), without a model.

    python -m trecx.curves --traces DIR --name NAME --macs-ee C_EE --macs-final C_EF [--json OUT] [--plot PNG]

reads ``DIR/trace_data_model_NAME_ee.json`` and ``..._ef.json`` (the original repo's format: one entry per test
sample index with ``truth``, ``prediction``, ``isCorrect``, ``score_max_1/2``, ``arg_max_1/2``, all strings),
sweeps the exit threshold rho and reports, for each rho, the early-exit rate r, the total accuracy and the
average cost ``r * C_Ee + (1 - r) * C_Ef`` (the EE head is always paid). The trade-off points are the sweep
points whose accuracy is closest to ``baseline - 1/2/3`` accuracy points (Table 1 of the paper).

Exit rule: a sample leaves at the early exit when its EE max-softmax ``>= rho`` (the paper, Eq. 1);
``--strict-exit`` gives the original T-RECX test code's ``> rho``. The sweep is rho = 0, 0.01, ..., 1.00 as
the paper says; ``--original-sweep`` gives the original code's ``linspace(0.01, 1.0, 101)``.
"""

import json
from pathlib import Path

import numpy as np
import run_contract as rc

TRACE_KEYS = ("truth", "prediction", "isCorrect", "score_max_1", "score_max_2", "arg_max_1", "arg_max_2")
TRADEOFF_DROPS = (1.0, 2.0, 3.0)  # accuracy points below the baseline (Table 1 of the paper)
RHO_STEP = 0.01


def trace_path(traces_dir, name, exit_name):
    """Original file naming: ``trace_data/trace_data_model_<name>_<ee|ef>.json``."""
    return Path(traces_dir) / f"trace_data_model_{name}_{exit_name}.json"


def make_trace(truth, probabilities):
    """Per-sample trace dict in the original format from labels and one exit's softmax outputs."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    truth = np.asarray(truth).astype(np.int64)
    if probabilities.ndim != 2 or probabilities.shape[1] < 2 or len(probabilities) != len(truth):
        raise ValueError(f"need (N, classes>=2) probabilities for N labels, got {probabilities.shape} / {truth.shape}")
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :2]
    top = np.take_along_axis(probabilities, order, axis=1)
    trace = {}
    for i, label in enumerate(truth):
        trace[str(i)] = {
            "truth": str(int(label)),
            "prediction": str(int(order[i, 0])),
            "isCorrect": str(bool(order[i, 0] == label)),
            "score_max_1": str(top[i, 0]),
            "score_max_2": str(top[i, 1]),
            "arg_max_1": str(int(order[i, 0])),
            "arg_max_2": str(int(order[i, 1])),
        }
    return trace


def write_trace(path, truth, probabilities):
    return rc.write_text(path, json.dumps(make_trace(truth, probabilities), indent=4))


def load_trace(path):
    """Arrays ``truth``, ``prediction`` and ``score`` (max softmax) of one exit, ordered by sample index."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"trace file {path} not found: run the task's test script (e.g. `make trecx-ic-test`) or pass the "
            "--traces folder of the original repo (image_classification/trace_data/)"
        )
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"trace file {path} is not valid JSON ({err}); regenerate it with the test script") from err
    try:
        indices = sorted(raw, key=int)
        if indices != [str(i) for i in range(len(indices))]:
            raise ValueError(f"trace file {path}: sample indices are not 0..{len(indices) - 1}")
        truth = np.array([int(raw[i]["truth"]) for i in indices], dtype=np.int64)
        prediction = np.array([int(raw[i]["arg_max_1"]) for i in indices], dtype=np.int64)
        score = np.array([float(raw[i]["score_max_1"]) for i in indices], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"trace file {path} is not in the T-RECX format (keys {TRACE_KEYS}): {err}") from err
    return {"truth": truth, "prediction": prediction, "score": score}


def load_trace_pair(traces_dir, name):
    ee = load_trace(trace_path(traces_dir, name, "ee"))
    ef = load_trace(trace_path(traces_dir, name, "ef"))
    if len(ee["truth"]) != len(ef["truth"]) or not np.array_equal(ee["truth"], ef["truth"]):
        raise ValueError(f"the _ee and _ef traces of {name!r} in {traces_dir} are not of the same test samples")
    return ee, ef


def rho_grid(original_sweep=False):
    """rho = 0, 0.01, ..., 1 (paper), or the original code's ``linspace(0.01, 1.0, 101)`` (step 0.0099)."""
    if original_sweep:
        return np.linspace(0.01, 1.0, 101)
    return np.round(np.arange(0, round(1 / RHO_STEP) + 1) * RHO_STEP, 10)


def exits_early(scores, rho, strict=False):
    """Eq. 1: boolean mask of samples leaving at the early exit."""
    return scores > rho if strict else scores >= rho


def operating_point(ee, ef, rho, macs_ee, macs_final, strict=False, flops_ee=None, flops_final=None):
    """Exit rate, total accuracy (Eq. 2) and average cost (Eq. 3) at one threshold."""
    early = exits_early(ee["score"], rho, strict)
    prediction = np.where(early, ee["prediction"], ef["prediction"])
    rate = float(early.mean())
    point = {
        "rho": float(rho),
        "exit_rate": rate,
        "accuracy": float((prediction == ee["truth"]).mean()),
        "avg_macs": rate * macs_ee + (1 - rate) * macs_final,
    }
    if flops_ee is not None and flops_final is not None:
        point["avg_flops"] = rate * flops_ee + (1 - rate) * flops_final
    return point


def sweep(ee, ef, macs_ee, macs_final, rhos=None, strict=False, flops_ee=None, flops_final=None):
    rhos = rho_grid() if rhos is None else rhos
    return [operating_point(ee, ef, rho, macs_ee, macs_final, strict, flops_ee, flops_final) for rho in rhos]


def tradeoff_points(points, baseline_accuracy, baseline_macs, drops=TRADEOFF_DROPS, baseline_flops=None):
    """For each drop d: the sweep point with accuracy closest to ``baseline - d`` points (ties: the cheapest).

    ``baseline_accuracy`` is a fraction; ``mac_reduction`` is ``1 - avg_macs / baseline_macs``.
    """
    result = []
    for drop in drops:
        target = baseline_accuracy - drop / 100
        best = min(points, key=lambda p: (round(abs(p["accuracy"] - target), 12), p["avg_macs"]))
        entry = dict(best, drop=drop, target_accuracy=target, mac_reduction=1 - best["avg_macs"] / baseline_macs)
        if baseline_flops is not None and "avg_flops" in best:
            entry["flop_reduction"] = 1 - best["avg_flops"] / baseline_flops
        result.append(entry)
    return result


def cheapest_at_baseline(points, baseline_accuracy):
    """Cheapest sweep point whose accuracy is not below the baseline (None if the curve never reaches it)."""
    reaching = [p for p in points if p["accuracy"] >= baseline_accuracy - 1e-12]
    return min(reaching, key=lambda p: p["avg_macs"]) if reaching else None


def mean_reduction(reductions):
    """The paper's headline: the mean of the per-model cost reductions at the 1-point trade-off."""
    return float(np.mean(reductions))


def compute_curve(ee, ef, macs_ee, macs_final, baseline_accuracy=None, baseline_macs=None, strict=False,
                  original_sweep=False, flops_ee=None, flops_final=None, baseline_flops=None):
    """The JSON document of ``python -m trecx.curves``.

    Without a separately trained baseline, the final exit's standalone accuracy and cost stand in for it.
    """
    ee_accuracy = float((ee["prediction"] == ee["truth"]).mean())
    final_accuracy = float((ef["prediction"] == ef["truth"]).mean())
    baseline_accuracy = final_accuracy if baseline_accuracy is None else baseline_accuracy
    baseline_macs = macs_final if baseline_macs is None else baseline_macs
    points = sweep(ee, ef, macs_ee, macs_final, rho_grid(original_sweep), strict, flops_ee, flops_final)
    return {
        "num_samples": int(len(ee["truth"])),
        "exit_rule": "score > rho" if strict else "score >= rho",
        "macs_ee": macs_ee,
        "macs_final": macs_final,
        "ee_accuracy": ee_accuracy,
        "final_accuracy": final_accuracy,
        "baseline_accuracy": baseline_accuracy,
        "baseline_macs": baseline_macs,
        "points": points,
        "tradeoffs": tradeoff_points(points, baseline_accuracy, baseline_macs, baseline_flops=baseline_flops),
        "at_baseline": cheapest_at_baseline(points, baseline_accuracy),
    }


def format_tradeoffs(curve, label=""):
    lines = [
        f"{label}standalone accuracies: EE {100 * curve['ee_accuracy']:.2f}%  final {100 * curve['final_accuracy']:.2f}%"
        f"  (baseline {100 * curve['baseline_accuracy']:.2f}% at {curve['baseline_macs'] / 1e6:.3f} MMACs)"
    ]
    for t in curve["tradeoffs"]:
        flops = f"  avg MFLOPs {t['avg_flops'] / 1e6:.3f}" if "avg_flops" in t else ""
        lines.append(
            f"{label}-{t['drop']:.0f} pt: rho={t['rho']:.4f} acc={100 * t['accuracy']:.2f}% exit_rate={t['exit_rate']:.3f}"
            f" avg MMACs {t['avg_macs'] / 1e6:.3f}{flops}  MAC reduction {100 * t['mac_reduction']:.1f}%"
        )
    at_base = curve["at_baseline"]
    if at_base is not None:
        lines.append(
            f"{label}at baseline accuracy: rho={at_base['rho']:.4f} avg MMACs {at_base['avg_macs'] / 1e6:.3f}"
            f" ({100 * (1 - at_base['avg_macs'] / curve['baseline_macs']):.1f}% fewer than the baseline)"
        )
    else:
        lines.append(f"{label}the curve never reaches the baseline accuracy")
    return "\n".join(lines)


def plot_curves(curves, out_png, title, baseline=None, cost="avg_macs", log_y=False):
    """Accuracy vs average cost for several models (Fig. 4/6/7 of the paper) as a PNG.

    ``curves``: {label: curve dict}; ``baseline``: optional (accuracy, cost) of the unmodified model.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale, unit = 1e6, "M"
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for label, curve in curves.items():
        xs = [p[cost] / scale for p in curve["points"] if cost in p]
        ys = [100 * p["accuracy"] for p in curve["points"] if cost in p]
        ax.plot(xs, ys, marker=".", markersize=3, linewidth=1.2, label=label)
    if baseline is not None:
        ax.scatter([baseline[1] / scale], [100 * baseline[0]], marker="*", s=140, color="k", zorder=5,
                   label="baseline (no EE)")
    ax.set_xlabel(f"average {'MACs' if cost == 'avg_macs' else 'FLOPs'} ({unit})")
    ax.set_ylabel("total accuracy (%)")
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    with rc.atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=150)
    plt.close(fig)
    return out_png


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--traces", required=True, type=Path, help="folder with trace_data_model_<name>_{ee,ef}.json")
    parser.add_argument("--name", required=True, help="model name in the trace file names (e.g. with_ev_assist)")
    parser.add_argument("--macs-ee", required=True, type=rc.positive_float, help="C_Ee: MACs of input -> early exit")
    parser.add_argument("--macs-final", required=True, type=rc.positive_float,
                        help="C_Ef: MACs of the full path (EE head included)")
    parser.add_argument("--flops-ee", type=rc.positive_float, help="optional FLOPs of input -> early exit (adds avg_flops)")
    parser.add_argument("--flops-final", type=rc.positive_float, help="optional FLOPs of the full path")
    parser.add_argument("--baseline-accuracy", type=rc.float_range(0, 100, lo_open=True),
                        help="baseline model accuracy in %% (default: the final exit's standalone accuracy)")
    parser.add_argument("--baseline-macs", type=rc.positive_float, help="baseline model MACs (default: --macs-final)")
    parser.add_argument("--baseline-flops", type=rc.positive_float, help="baseline model FLOPs (for flop_reduction)")
    parser.add_argument("--strict-exit", action="store_true",
                        help="exit when score > rho (original T-RECX code) instead of >= rho (paper, Eq. 1)")
    parser.add_argument("--original-sweep", action="store_true",
                        help="rho = linspace(0.01, 1.0, 101) as the original code, instead of 0..1 step 0.01")
    parser.add_argument("--json", type=Path, help="write the curve (points, trade-offs) here")
    parser.add_argument("--plot", type=Path, help="write an accuracy vs average MACs PNG here")
    return parser


def run(args):
    rc.check((args.flops_ee is None) == (args.flops_final is None), "--flops-ee and --flops-final go together")
    rc.check(args.macs_final >= args.macs_ee,
             f"--macs-final {args.macs_final:g} is below --macs-ee {args.macs_ee:g}: C_Ef includes C_Ee")
    try:
        ee, ef = load_trace_pair(args.traces, args.name)
    except (FileNotFoundError, ValueError) as err:
        raise rc.UsageError(str(err)) from None
    if not len(ee["truth"]):
        raise rc.RunFailed(f"the traces of {args.name!r} in {args.traces} hold no samples: nothing to evaluate")
    curve = compute_curve(
        ee, ef, args.macs_ee, args.macs_final,
        baseline_accuracy=None if args.baseline_accuracy is None else args.baseline_accuracy / 100,
        baseline_macs=args.baseline_macs, strict=args.strict_exit, original_sweep=args.original_sweep,
        flops_ee=args.flops_ee, flops_final=args.flops_final, baseline_flops=args.baseline_flops,
    )
    curve["name"] = args.name
    print(format_tradeoffs(curve, label=f"[{args.name}] "))
    if args.json:
        rc.write_json(args.json, curve)
        print(f"wrote {args.json}")
    if args.plot:
        baseline = (curve["baseline_accuracy"], curve["baseline_macs"])
        plot_curves({args.name: curve}, args.plot, f"T-RECX benefit curve: {args.name}", baseline=baseline)
        print(f"wrote {args.plot}")
    return curve


@rc.command
def main(argv=None):
    return run(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
