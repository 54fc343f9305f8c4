"""REDS, depth pruning, T-RECX and magnitude pruning from ONE trained KWS DS-CNN, every point measured alike.

    python -m compare_kws.compare --base runs/mlperf/kws/kws_ref_model.h5 --data_dir data --out_dir runs/compare/kws
    python -m compare_kws.compare --base ../shared/fidelity/models/mlperf/keyword_spotting/kws_ref_model \\
        --data_dir ../shared/fidelity/eembc/kws01 --reference_int8 .../kws_ref_model.tflite --out_dir runs/compare/kws_real

``--data_dir`` a Speech Commands folder (the extracted tarballs, or the mini set): each method runs from the base
through its own subproject's command (REDS nested subnetworks at ``--reds_budgets``; depth pruning with the aux head
at each of ``--cuts``; T-RECX fine-tuned from the base, measured at each exit threshold ``--trecx_thresholds`` with the
MACs and latency it executes on average; tfmot magnitude pruning at ``--sparsities``, fine-tuned and without
fine-tuning), then every point is measured the same way on the test split (``measure.py``): float and int8 accuracy,
params, MACs, peak int8 activation memory (DERO's definition), int8 .tflite size and LiteRT latency (``latency.py``).
``--data_dir`` an EEMBC KWS folder (``y_labels.csv`` + .bin, e.g. the kit's kws01): the real-data panel, the points
that need no training (the base itself, magnitude pruning without fine-tuning; ``--reference_int8`` adds the shipped
int8 file), scored on those stimuli with two-fold int8 calibration.

Writes into ``--out_dir``: ``points.csv`` / ``points.json`` (one row per point, the columns of ``COLUMNS``),
``pareto_{macs,peak,latency}.png`` + ``pareto.html``, ``papers.csv`` (the papers' points), ``metrics.json``,
``args.json``, the subprojects' run folders, ``tflite/`` (every int8 file) and ``points/<stage>.json`` (one per
trained artefact: a rerun resumes after the last measured one; the subprojects resume their own training).
"""

import json
import sys
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from compare_kws import measure
from compare_kws.methods import METHODS, TRAINING_FREE, Context, Stage, clear_keras, point, stages

COLUMNS = ("method", "point", "setting", "data", "test_samples", "float_accuracy", "int8_accuracy",
           "int8_float_agreement", "reported_accuracy", "params", "kernel_params", "nonzero_kernel_params", "macs",
           "effective_macs", "peak_bytes", "peak_note", "tflite_bytes", "latency_median_ms", "latency_p10_ms",
           "latency_p90_ms", "latency_runs", "rho", "exit_rate", "float_exit_rate", "macs_ee", "macs_final", "model",
           "tflite")
DEFAULT_CUTS = ("conv1", "block1", "block2", "block3", "block4")
DEFAULT_THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
BASE_HINT = "a trained KWS DS-CNN: `make mlperf-kws` trains one (runs/mlperf/kws/kws_ref_model.h5), or the kit's kws_ref_model/"
NOT_IDENTITY = ("latency_runs", "latency_warmup")  # re-timing a finished comparison keeps its trained points


def _list_of(item_type, what, check=None, requirement=""):
    def parse(text):
        try:
            values = [item_type(v) for v in str(text).replace(" ", "").split(",") if v]
        except ValueError:
            raise rc.UsageError(f"{text!r} is not a comma list of {what}") from None
        bad = [v for v in values if check is not None and not check(v)]
        if not values or bad:
            raise rc.UsageError(f"{text!r}: {what} must be{requirement}" + (f" (not {bad[0]})" if bad else ""))
        return values

    parse.__name__ = what
    return parse


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    p.add_argument("--base", required=True, help=f"the trained base (.h5 or SavedModel folder): {BASE_HINT}")
    p.add_argument("--data_dir", required=True,
                   help="Speech Commands folder (extracted tarballs or data/mini), or an EEMBC KWS folder (real-data "
                        "panel: training-free points only)")
    p.add_argument("--out_dir", default="runs/compare/kws", help="comparison folder")
    p.add_argument("--methods", type=_list_of(str, "methods", lambda m: m in METHODS, f" among {', '.join(METHODS)}"),
                   default=None, help=f"comma list of {', '.join(METHODS)} (default: all; EEMBC data: "
                                      f"{', '.join(TRAINING_FREE)})")
    p.add_argument("--sparsities", type=_list_of(float, "sparsities", lambda s: 0 < s < 1, " in (0, 1)"),
                   default=[0.25, 0.5, 0.75], help="magnitude pruning: fractions of zeroed conv/dense kernel "
                                                   "weights (default: REDS's 75/50/25 %% MACs budgets mirrored)")
    p.add_argument("--cuts", type=_list_of(str, "cuts", lambda c: c in DEFAULT_CUTS, f" among {', '.join(DEFAULT_CUTS)}"),
                   default=list(DEFAULT_CUTS), help="depth pruning: cut points")
    p.add_argument("--reds_budgets", type=_list_of(float, "MAC budgets", lambda b: 0 < b < 1, " in (0, 1)"),
                   default=[0.25, 0.5, 0.75], help="REDS: MAC budgets of the nested subnetworks (the full model too)")
    p.add_argument("--trecx_thresholds", type=_list_of(float, "thresholds", lambda t: 0 <= t <= 1, " in [0, 1]"),
                   default=list(DEFAULT_THRESHOLDS), help="T-RECX: exit thresholds rho (exit when max softmax >= rho)")
    p.add_argument("--finetune_epochs", type=rc.positive_int, default=30,
                   help="epochs of depth pruning's head, magnitude pruning's fine-tuning and T-RECX's training from "
                        "the base (the depth-pruning scripts' 30; MLPerf step LR schedule)")
    p.add_argument("--batch_size", type=rc.positive_int, default=100, help="batch size of those three (MLPerf: 100)")
    p.add_argument("--seed", type=rc.nonnegative_int, default=0)
    p.add_argument("--num_train_samples", type=rc.int_range(-1), default=-1,
                   help="cap on training clips for every method (-1: all; quick checks)")
    for method, command in (("reds", "reds.kws_convolution_depthwise"), ("depth", "depth_pruning.kws.prune_kws_aux"),
                            ("trecx", "trecx.keyword_spotting.train_dscnn"),
                            ("magnitude", "depth_pruning.kws.prune_kws_mag")):
        p.add_argument(f"--{method}_args", default="", help=f"more flags for {command} (one quoted string)")
    p.add_argument("--reference_int8", default=None,
                   help="EEMBC panel: the shipped int8 .tflite of the base (kws_ref_model.tflite), one more row")
    p.add_argument("--latency_runs", type=rc.positive_int, default=200, help="timed invokes per int8 file")
    p.add_argument("--latency_warmup", type=rc.nonnegative_int, default=20, help="untimed invokes per file first")
    p.add_argument("--mini", action="store_true", help="label results as mini data (default: from the data path)")
    p.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return p


# ------------------------------------------------------------------------------------------------- inputs
def is_eembc(data_dir):
    from mlperf_tiny.eembc import LABELS_FILE

    return (Path(data_dir) / LABELS_FILE).is_file()


def load_base(path):
    from mlperf_tiny import model_io

    loaded = model_io.check_model_task(model_io.load_model(path, BASE_HINT), "kws", BASE_HINT)
    if loaded.keras_model is None:
        raise rc.bad_file(path, f"is a {loaded.kind} model; the methods start from a Keras model", BASE_HINT)
    rc.check(tuple(loaded.input_shape) == (49, 10, 1),
             f"{path}: input {loaded.input_shape}; the comparison takes the 49x10x1 MFCC DS-CNN. {BASE_HINT}")
    return loaded.keras_model


def check_inputs(args):
    """Every input and flag combination is checked before anything is written; returns the mode."""
    eembc = is_eembc(args.data_dir)
    methods = args.methods or (list(TRAINING_FREE) if eembc else list(METHODS))
    if eembc:
        from mlperf_tiny.eembc import read_labels

        trained = [m for m in methods if m not in TRAINING_FREE]
        rc.check(not trained, f"--methods {','.join(trained)}: an EEMBC folder has no training data; it takes "
                              f"{', '.join(TRAINING_FREE)} (pass a Speech Commands folder for the others)")
        read_labels(args.data_dir)
    else:
        from mlperf_tiny.keyword_spotting import get_dataset

        get_dataset.resolve_data_source(args.data_dir)
        rc.check(args.reference_int8 is None, "--reference_int8 belongs to the EEMBC panel (--data_dir an EEMBC folder)")
    if args.reference_int8 is not None:
        from mlperf_tiny import model_io

        reference = model_io.check_model_task(model_io.load_model(args.reference_int8), "kws")
        rc.check(reference.is_int8, f"--reference_int8 {args.reference_int8}: not an int8 model")
    return eembc, methods


def test_data(args, eembc):
    """(x, y, folds, dataset label, what the test set is)."""
    if eembc:
        from mlperf_tiny.eembc import load_stimuli

        stimuli = load_stimuli(args.data_dir, "kws")
        x, y = stimuli.x, stimuli.labels
        return (x, y, measure.two_folds(x), "real (EEMBC)",
                f"EEMBC folder {args.data_dir} ({stimuli.format}, {len(y)} stimuli; int8: two folds, each half "
                f"calibrated on the other)")
    from mlperf_tiny.keyword_spotting import get_dataset, kws_util

    flags = kws_util.parse_command(["--data_dir", str(args.data_dir)])
    x, y = get_dataset.get_eval_arrays(flags, "test")
    calibration, _ = get_dataset.get_eval_arrays(flags, "calibration")
    mini = args.mini or get_dataset.is_mini(flags)
    return (x, y, measure.single_fold(calibration, len(y)), "mini" if mini else "speech_commands_v0.02",
            f"Speech Commands test split of {args.data_dir} ({len(y)} clips; int8 calibrated on "
            f"{len(calibration)} validation clips, 10 per class)")


# -------------------------------------------------------------------------------------------------- stages
def measure_stage(stage, produced, test, tflite_dir, thresholds, dataset):
    x, y, folds = test
    rows = []
    for p in produced:
        base_row = {"method": stage.method, "setting": p["setting"], "data": dataset,
                    "reported_accuracy": p["reported_accuracy"], "model": p["model_file"]}
        if p["kind"] == "early_exit":
            for row in measure.measure_early_exit(p["point"], p["model"], thresholds, x, y, folds, tflite_dir):
                rows.append({**base_row, **row, "point": f"{p['point']}_rho{row['rho']:.2f}",
                             "setting": f"{p['setting']}, rho {row['rho']:g}"})
        else:
            rows.append({**base_row, **measure.measure_model(p["point"], p["model"], x, y, folds, tflite_dir),
                         "point": p["point"]})
    return rows


def reference_int8_row(path, base_row, test, dataset):
    """The shipped int8 file measured as is (its counts are the float reference's it was converted from)."""
    import numpy as np

    x, y, _ = test
    content = Path(path).read_bytes()
    predicted = measure.int8_probabilities(content, x).argmax(1)
    keep = ("params", "kernel_params", "nonzero_kernel_params", "macs", "effective_macs")
    return {"method": "reference_int8", "point": "reference_int8", "setting": "the shipped int8 .tflite (counts: "
            "the float reference's)", "data": dataset, "test_samples": int(len(y)), "float_accuracy": None,
            "int8_accuracy": float(np.mean(predicted == y)), **{k: base_row[k] for k in keep},
            "peak_bytes": measure.peak_bytes(path), "peak_note": measure.PEAK_NOTE_SINGLE,
            "tflite_bytes": len(content), "tflite": [str(path)], "latency_weights": [1.0], "model": str(path)}


def timings(rows, out_dir, args):
    """Latency of every int8 file, timed together; reused when the same files were timed with the same settings."""
    from compare_kws.latency import time_files

    path = out_dir / "latency.json"
    files = sorted({f for row in rows for f in row["tflite"]})
    if path.is_file():
        saved = json.loads(path.read_text())
        if (saved.get("runs"), saved.get("warmup")) == (args.latency_runs, args.latency_warmup) and set(files) <= set(saved["files"]):
            return saved["files"]
    print(f"[compare] timing {len(files)} int8 files, {args.latency_runs} rounds")
    result = time_files(files, args.latency_runs, args.latency_warmup)
    rc.write_json(path, {"runs": args.latency_runs, "warmup": args.latency_warmup, "threads": 1, "files": result})
    return result


def table(rows, timed):
    from compare_kws.latency import row_latency

    out = []
    for row in rows:
        full = {**row, **row_latency(row, timed)}
        full["tflite"] = ";".join(row["tflite"])
        out.append({k: full.get(k) for k in COLUMNS})
    return out


def summary_lines(rows):
    lines = [f"{'point':<34} {'float':>6} {'int8':>6} {'params':>7} {'MACs':>9} {'peak B':>7} {'bytes':>7} {'ms':>6}"]
    for r in rows:
        float_text = "-" if r["float_accuracy"] is None else f"{100 * r['float_accuracy']:.1f}"
        lines.append(f"{r['point']:<34} {float_text:>6} {100 * r['int8_accuracy']:6.1f} {r['params']:>7} "
                     f"{r['macs']:>9} {r['peak_bytes']:>7} {r['tflite_bytes']:>7} {r['latency_median_ms']:6.3f}")
    return lines


def run(args):
    eembc, methods = check_inputs(args)
    base = load_base(args.base)
    out_dir = Path(args.out_dir)
    mini = args.mini or (not eembc and "mini" in Path(args.data_dir).resolve().parts)
    ctx = Context(args, out_dir, Path(args.base), base, mini)
    all_stages = stages(ctx, methods)
    for stage in all_stages:
        stage.check()
    state = rc.claim_run_dir(out_dir, args, ignore=NOT_IDENTITY, overwrite=args.overwrite)
    print(f"[compare] {'resuming' if state == 'resume' else 'new run'} in {out_dir}: base {args.base}, "
          f"methods {', '.join(methods)}")

    x, y, folds, dataset, test_set = test_data(args, eembc)
    test = (x, y, folds)
    print(f"[compare] test set: {test_set}")
    tflite_dir, points_dir = out_dir / "tflite", out_dir / "points"
    rows = []
    for stage in [Stage("base", "base"), *all_stages]:
        saved = points_dir / f"{stage.name}.json"
        if saved.is_file():
            rows += json.loads(saved.read_text())["rows"]
            print(f"[compare] {stage.name}: measured before ({saved})")
            continue
        print(f"[compare] {stage.name}: running")
        produced = (stage.produce() if stage.produce is not None
                    else [point("base", "the trained base, unchanged", base, args.base)])
        stage_rows = measure_stage(stage, produced, test, tflite_dir, args.trecx_thresholds, dataset)
        rc.write_json(saved, {"rows": stage_rows})
        rows += stage_rows
        clear_keras()
    if args.reference_int8 is not None:
        rows.append(reference_int8_row(args.reference_int8, rows[0], test, dataset))
    if not rows:
        raise rc.RunFailed("nothing was measured")

    timed = timings(rows, out_dir, args)
    final = table(rows, timed)
    rc.write_csv(out_dir / "points.csv", final, fieldnames=list(COLUMNS))
    rc.write_json(out_dir / "points.json", {"dataset": dataset, "test_set": test_set, "columns": list(COLUMNS),
                                            "rows": final})
    from compare_kws.papers import paper_points
    from compare_kws.plots import AXES, pareto_front, plot_pareto

    papers = [] if eembc else paper_points()
    rc.write_csv(out_dir / "papers.csv", papers, fieldnames=["method", "paper", "label", "macs", "accuracy", "note"])
    what = "real data, EEMBC stimuli" if eembc else ("mini data" if dataset == "mini" else "Speech Commands v2")
    plot_pareto(final, out_dir, f"KWS DS-CNN, one base, every method ({what})", papers)
    fronts = {axis: [final[i]["point"] for i in pareto_front([(r[key], r["int8_accuracy"]) for r in final])]
              for axis, (key, _, _) in AXES.items()}
    rc.write_json(out_dir / "metrics.json", {"dataset": dataset, "test_set": test_set, "points": len(final),
                                             "methods": methods, "pareto_front": fronts})
    for line in summary_lines(final):
        print(line)
    print(f"[compare] wrote {out_dir / 'points.csv'} ({len(final)} points), pareto_*.png, pareto.html")
    return final


@rc.command
def main(argv=None):
    run(get_args_parser().parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    rc.entry(main)
