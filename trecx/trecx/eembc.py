"""Evaluate an original T-RECX model (the repo's trained SavedModel) on an EEMBC energyrunner folder.

    python -m trecx.eembc --task kws --model ../shared/fidelity/models/trecx/keyword_spotting/model_with_ev_assist \
        --data ../shared/fidelity/eembc/kws01 [--json FILE]

The SavedModel is loaded into our registered architecture (``trecx.originals``: weights copied by structure) and
our outputs are checked against the SavedModel's own serving signature on the stimuli (max |difference| <= 1e-5,
else the command fails). Stimuli are read by ``mlperf_tiny.eembc`` (IC pixels 0..255, VWW /255, KWS int8 MFCC
dequantized or raw audio through the MFCC front end). Reported: params (ours / the original's), the standalone
accuracy of every exit, and the MACs-saving point at -1 pt: the cheapest threshold rho (exit rule
``score >= rho``, ``--strict_exit`` for ``>``) whose total accuracy is within one point of the final exit's
standalone accuracy, with its MACs against the final exit's cost C_Ef and against the plain base model. When no
threshold reaches it on the given stimuli, that is said. Accuracies are percentages.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

from trecx import originals

TASKS = tuple(originals.ARCHITECTURES)
ACCURACY_DROP = 1.0  # points below the final exit's standalone accuracy (Table 1's first trade-off)
IDENTITY = ("task", "model", "data")


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--task", required=True, choices=TASKS, help="ic, kws or vww")
    parser.add_argument("--model", required=True,
                        help="an original T-RECX SavedModel folder (the repo's */trained_models/model_*)")
    parser.add_argument("--data", required=True, help="EEMBC folder: y_labels.csv plus one .bin per stimulus")
    parser.add_argument("--json", default=None, help="write the result (exits, curve, saving point) to this file")
    parser.add_argument("--strict_exit", action="store_true", help="exit when score > rho (original code)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a --json file that holds the result of another model, data or task")
    return parser


def saving_point(points, final_accuracy, final_macs, base_macs, drop=ACCURACY_DROP):
    """The cheapest sweep point within ``drop`` points of the final exit's accuracy (None if none reaches it).

    ``points``: ``helpers.multi_exit_curve`` records (accuracy as a fraction); accuracies here are fractions too.
    """
    target = final_accuracy - drop / 100
    reaching = [p for p in points if p["accuracy"] >= target - 1e-12]
    if not reaching:
        return None
    best = min(reaching, key=lambda p: (p["avg_macs"], -p["accuracy"]))
    return {**best, "target_accuracy": target, "mac_reduction_vs_final_exit": 1 - best["avg_macs"] / final_macs,
            "mac_reduction_vs_base_model": 1 - best["avg_macs"] / base_macs}


def evaluate(model, architecture, probabilities, labels, task, strict=False):
    """Exits, sweep and saving point of a loaded model from its exits' softmax outputs (dict, model order)."""
    from mlperf_tiny.counting import count_macs
    from mlperf_tiny.registry import get_model

    from trecx import helpers

    probs = [probabilities[name] for name in model.output_names]
    costs = helpers.side_exit_costs(model)
    accuracies = [float((p.argmax(1) == labels).mean()) for p in probs]
    points = helpers.multi_exit_curve(probs, labels, costs, strict=strict)
    base_macs = count_macs(get_model(originals.BASE_ARCHITECTURES[task]))
    point = saving_point(points, accuracies[-1], costs[-1], base_macs)
    percent = lambda p: {**p, "accuracy": 100 * p["accuracy"]}  # noqa: E731
    result = {
        "architecture": architecture,
        "exits": [{"name": n, "accuracy": 100 * a, "macs": int(c)}
                  for n, a, c in zip(model.output_names, accuracies, costs, strict=True)],
        "ee_accuracy": 100 * accuracies[0],
        "final_accuracy": 100 * accuracies[-1],
        "base_architecture": originals.BASE_ARCHITECTURES[task],
        "base_macs": base_macs,
        "exit_rule": "score > rho" if strict else "score >= rho",
        "curve": [percent(p) for p in points],
        "saving_point": None if point is None else {**percent(point), "target_accuracy": 100 * point["target_accuracy"]},
    }
    return result


def summary_lines(result):
    exits = ", ".join(f"{e['name']} {e['accuracy']:.2f}%" for e in result["exits"])
    lines = [f"{result['task']}: {Path(result['model']).name} as {result['architecture']} "
             f"({result['params']:,} params, original {result['params_original']:,}; max |output difference| "
             f"{result['max_output_difference']:.2g}) on {result['n']} stimuli of {result['data']}: {exits}"]
    point = result["saving_point"]
    if point is None:
        lines.append(f"no threshold keeps the total accuracy within {ACCURACY_DROP:g} pt of the final exit's "
                     f"{result['final_accuracy']:.2f}% on these {result['n']} stimuli")
    else:
        lines.append(f"-{ACCURACY_DROP:g} pt of the final exit: rho {point['rho']:.2f}, accuracy {point['accuracy']:.2f}%, "
                     f"exit rate {point['exit_rate']:.3f}, {point['avg_macs'] / 1e6:.3f} MMACs: "
                     f"{100 * point['mac_reduction_vs_final_exit']:.1f}% fewer than the final exit "
                     f"({result['exits'][-1]['macs'] / 1e6:.3f}), {100 * point['mac_reduction_vs_base_model']:.1f}% "
                     f"fewer than {result['base_architecture']} ({result['base_macs'] / 1e6:.3f})")
    return lines


def run(task, model_path, data_dir, strict=False):
    """Load, check against the SavedModel, evaluate: the result dict."""
    from mlperf_tiny import eembc

    rows = eembc.read_labels(data_dir)  # a bad folder is reported before the model is loaded
    if not rows:
        raise rc.RunFailed(f"{Path(data_dir) / eembc.LABELS_FILE} lists no stimuli: nothing to evaluate")
    try:
        model, architecture, original_params = originals.load_original(model_path, task)
    except originals.OriginalModelError as err:
        raise rc.UsageError(str(err)) from None
    stimuli = eembc.load_stimuli(data_dir, task)
    x = np.asarray(eembc.model_inputs(stimuli, model), dtype=np.float32)
    if tuple(x.shape[1:]) != tuple(model.input_shape[1:]):
        raise rc.bad_file(data_dir, f"its {task} stimuli give inputs of shape {x.shape[1:]}, but the model takes "
                                    f"{tuple(model.input_shape[1:])}")
    try:
        difference, probabilities = originals.check_outputs(model, model_path, x)
    except originals.OriginalModelError as err:
        raise rc.RunFailed(str(err)) from None
    result = {"task": task, "model": str(Path(model_path)), "data": str(Path(data_dir)),
              "data_format": stimuli.format, "n": len(stimuli.rows), "params": int(model.count_params()),
              "params_original": int(original_params), "max_output_difference": difference}
    result.update(evaluate(model, architecture, probabilities, stimuli.labels, task, strict))
    return result


@rc.command
def main(argv=None):
    from mlperf_tiny.eembc import _check_json_target

    args = get_args_parser().parse_args(argv)
    if args.json:
        _check_json_target(args.json, {"task": args.task, "model": str(Path(args.model)), "data": str(Path(args.data))},
                           args.overwrite)
    result = run(args.task, args.model, args.data, args.strict_exit)
    print("\n".join(summary_lines(result)))
    if args.json:
        rc.write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    rc.entry(main)
