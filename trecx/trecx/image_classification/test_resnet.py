"""Evaluate trained T-RECX / baseline ResNet-8 models on the CIFAR-10 test set (original ``test_resnet.py``).

For each model found under --out_dir: standalone accuracy of every exit, per-sample traces
(``trace_data/trace_data_model_<name>_ee.json`` / ``_ef.json``), the rho sweep (exit rule ``score >= rho``,
``--strict_exit`` for the original ``>``), the 1/2/3-point trade-offs against the baseline, and the plots
``results/Fig4a.png`` (EV vs no EV) and ``results/Fig7a.png`` (T-RECX vs SDN vs BranchyNet), all into
``--out_dir``. Models that were not trained are skipped with a message (the original crashed on a missing
baseline-EE model).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

# run folder name -> (architecture, label in plots); the names the original train_resnet.sh used.
MODELS = {
    "model_with_ev_assist": ("resnet_ev", "T-RECX (EE + EV)"),
    "model_without_ev_assist": ("resnet_noev", "EE, no EV"),
    "model_sdn": ("resnet_sdn", "SDN"),
    "model_branchynet": ("resnet_branchynet", "BranchyNet"),
    "model_baselineEE": ("resnet_baselineEE", "baseline EE"),
}
BASELINE = ("trainedResnet", "resnet_v1_eembc")
PAPER_BASELINE = {"accuracy": 0.872, "mflops": 25.28}  # Table 1, unmodified ResNet-8 on real CIFAR-10


def get_args_parser(add_help=True):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--data_dir", default="cifar-10-batches-py", help="folder with the CIFAR-10 python pickles")
    parser.add_argument("--out_dir", default="trained_models", help="folder holding the run folders of train_resnet")
    parser.add_argument("--num_test_samples", type=int, default=-1, help="use only the first N test images")
    parser.add_argument("--strict_exit", action="store_true", help="exit when score > rho (original code)")
    parser.add_argument("--get_trace", action="store_true", help="accepted for compatibility: traces are always written")
    parser.add_argument("--tflite", action="store_true",
                        help="also export T-RECX as two int8 TFLite parts and report the measured dynamic-exit run")
    return parser


def evaluate(args):
    from mlperf_tiny import run_utils
    from mlperf_tiny.counting import count_macs
    from mlperf_tiny.image_classification import train as ic
    from trecx import curves, helpers
    from trecx import early_exit as ee

    out_dir = Path(args.out_dir)
    _, _, _, x_test, _, y_test, label_names = ic.load_cifar_10_data(args.data_dir)
    if args.num_test_samples > 0:
        x_test, y_test = x_test[: args.num_test_samples], y_test[: args.num_test_samples]
    x_test, truth = x_test.astype(np.float32), y_test.argmax(1)
    dataset = ic.dataset_label(args.data_dir)
    suffix = " (mini data)" if dataset == "mini" else ""
    shape, classes = x_test.shape[1:], len(label_names)

    results = {"dataset": dataset, "num_test_samples": int(len(truth)), "models": {}}
    baseline = None
    if (out_dir / BASELINE[0] / helpers.FINAL_WEIGHTS).is_file():
        model = helpers.load_trained(BASELINE[1], out_dir / BASELINE[0], shape, classes)
        accuracy = float((helpers.evaluate_exits(model, x_test)[0].argmax(1) == truth).mean())
        baseline = {"accuracy": accuracy, "macs": count_macs(model)}
        print(f"===== baseline ResNet-8\nStandalone accuracy is {accuracy:.4f}")
    results["baseline"] = baseline

    curve_sets = {}
    for run_name, (arch, label) in MODELS.items():
        run_dir = out_dir / run_name
        if not (run_dir / helpers.FINAL_WEIGHTS).is_file():
            print(f"skipping {run_name}: {run_dir / helpers.FINAL_WEIGHTS} not found")
            continue
        print(f"===== {run_name} ({arch})")
        model = helpers.load_trained(arch, run_dir, shape, classes)
        probs = helpers.evaluate_exits(model, x_test)
        accuracies = [float((p.argmax(1) == truth).mean()) for p in probs]
        print("Standalone accuracies are " + " ".join(f"{a:.4f}" for a in accuracies))
        entry = {"architecture": arch, "standalone_accuracies": accuracies, "params": model.count_params()}
        if len(probs) == 2:
            helpers.write_trecx_traces(out_dir / "trace_data", run_name, truth, probs[0], probs[1])
            trace_ee, trace_ef = curves.load_trace_pair(out_dir / "trace_data", run_name)
            macs_ee, macs_final = ee.exit_costs(model)
            curve = curves.compute_curve(
                trace_ee, trace_ef, macs_ee, macs_final, strict=args.strict_exit,
                baseline_accuracy=None if baseline is None else baseline["accuracy"],
                baseline_macs=None if baseline is None else baseline["macs"])
            print(curves.format_tradeoffs(curve, label=f"[{run_name}] "))
        else:
            costs = helpers.side_exit_costs(model)
            curve = {"points": helpers.multi_exit_curve(probs, truth, costs, strict=args.strict_exit), "exit_macs": costs}
        entry["curve"] = curve
        curve_sets[run_name] = (label, curve)
        results["models"][run_name] = entry
        if args.tflite and arch == "resnet_ev":
            from trecx import deploy

            entry["tflite"] = deploy.export_and_run(model, x_test, truth, out_dir / "tflite", run_name,
                                                    calibration=x_test[:100], strict=args.strict_exit)

    ref = None if baseline is None else (baseline["accuracy"], baseline["macs"])
    figures = {"Fig4a": ("model_with_ev_assist", "model_without_ev_assist"),
               "Fig7a": ("model_with_ev_assist", "model_sdn", "model_branchynet")}
    for fig, names in figures.items():
        chosen = {curve_sets[n][0]: curve_sets[n][1] for n in names if n in curve_sets}
        if chosen:
            curves.plot_curves(chosen, out_dir / "results" / f"{fig}.png",
                               f"ResNet-8 / CIFAR-10 ({fig}){suffix}", baseline=ref)
    run_utils.write_json(out_dir / "results" / "metrics.json", results)
    print(f"wrote {out_dir / 'results'}")
    return results


def main(argv=None):
    from mlperf_tiny.image_classification.train import DatasetError

    args = get_args_parser().parse_args(argv)
    try:
        evaluate(args)
    except (DatasetError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
