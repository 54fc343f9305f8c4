"""Training, evaluation and trace/curve helpers shared by the three tasks (original per-task ``helpers.py``).

Every run directory gets ``args.json``, ``history.csv``/``metrics.json`` (mlperf_tiny.run_utils), resumable
``last.weights.h5`` and, at the end, ``model.weights.h5`` (the make target). Models are rebuilt from the
registry and loaded from weights, so no custom-object bookkeeping is needed.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np

from trecx import curves
from trecx import early_exit as ee

FINAL_WEIGHTS = "model.weights.h5"


def output_labels(model, labels):
    """The same integer labels for every output of a multi-exit model (a dict keyed by output name)."""
    return {name: labels for name in model.output_names} if len(model.output_names) > 1 else labels


def make_multi_output_sequence(flow, model, one_hot=False):
    """Wrap an ImageDataGenerator flow of (x, y) so that y goes to every exit (one_hot: y -> argmax first)."""
    import tensorflow as tf

    class MultiOutputSequence(tf.keras.utils.Sequence):
        def __len__(self):
            return len(flow)

        def __getitem__(self, index):
            x, y = flow[index]
            return x, output_labels(model, y.argmax(1) if one_hot else y)

        def on_epoch_end(self):
            flow.on_epoch_end()

    return MultiOutputSequence()


def default_loss_weights(model_name, w_aux, eefmaps_faithful=True):
    """Per-output loss weights of each architecture, as in the original training scripts.

    T-RECX / noEV: CE(final) + W_aux CE(EE). BranchyNet: (1, 0.3, 1). baselineEE: (1, 1). eefmaps_concat: (1, 1)
    in the original (it ignores W_aux; ``eefmaps_faithful=False`` uses W_aux). SDN: tf.Variables ramped by
    :func:`early_exit.make_sdn_ramp_callback`.
    """
    import tensorflow as tf

    if model_name.endswith(("_ev", "_noev")):
        return {ee.EE_OUTPUT: w_aux, ee.FINAL_OUTPUT: 1.0}
    if model_name.endswith("_eefmaps_concat"):
        return {ee.EE_OUTPUT: 1.0 if eefmaps_faithful else w_aux, ee.FINAL_OUTPUT: 1.0}
    if model_name.endswith("_baselineEE"):
        return {ee.EE_OUTPUT: 1.0, ee.FINAL_OUTPUT: 1.0}
    if model_name.endswith("_branchynet"):
        return {"ee_1": 1.0, "ee_2": 0.3, ee.FINAL_OUTPUT: 1.0}
    if model_name.endswith("_sdn"):
        weights = {ee.FINAL_OUTPUT: 1.0}
        for i in range(1, 4):
            weights[f"ee_{i}"] = tf.Variable(0.01, trainable=False, name=f"sdn_tau_{i}")
        return weights
    return {}


def evaluate_exits(model, x, batch_size=256):
    """Softmax outputs of every exit (list, exits in order, final last)."""
    outputs = model.predict(x, batch_size=batch_size, verbose=0)
    return list(outputs) if isinstance(outputs, list) else [outputs]


def write_trecx_traces(trace_dir, name, truth, probs_ee, probs_final):
    """``trace_data/trace_data_model_<name>_ee.json`` and ``_ef.json`` in the original format."""
    paths = []
    for exit_name, probs in (("ee", probs_ee), ("ef", probs_final)):
        paths.append(curves.write_trace(curves.trace_path(trace_dir, name, exit_name), truth, probs))
    return paths


def multi_exit_curve(probs, truth, exit_macs, rhos=None, strict=False):
    """Benefit curve of an n-exit model (SDN/BranchyNet): a sample leaves at the first exit with score >= rho
    (one rho for all exits, as the original Fig. 7 code); cost = MACs up to that exit."""
    rhos = curves.rho_grid() if rhos is None else rhos
    scores = np.stack([p.max(1) for p in probs])  # (exits, N)
    predictions = np.stack([p.argmax(1) for p in probs])
    points = []
    for rho in rhos:
        leave = curves.exits_early(scores, rho, strict)
        leave[-1] = True  # the final exit always answers
        first = leave.argmax(0)
        chosen = predictions[first, np.arange(len(truth))]
        costs = np.asarray(exit_macs)[first]
        points.append({"rho": float(rho), "exit_rate": float((first < len(probs) - 1).mean()),
                       "accuracy": float((chosen == truth).mean()), "avg_macs": float(costs.mean())})
    return points


def side_exit_costs(model):
    """MACs of input -> each exit (exits in output order, final last)."""
    import tensorflow as tf
    from mlperf_tiny.counting import count_macs

    costs = []
    for name in model.output_names[:-1]:
        costs.append(count_macs(tf.keras.Model(model.inputs, model.get_layer(name).output)))
    return [*costs, count_macs(model)]


def load_trained(model_name, run_dir, input_shape, num_classes):
    from mlperf_tiny.registry import get_model

    weights = Path(run_dir) / FINAL_WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found: train it first (make trecx-train or the task's train script)")
    model = get_model(model_name, input_shape=input_shape, num_classes=num_classes)
    model.load_weights(str(weights))
    return model


# ----------------------------------------------------------------------------------- shared training driver
def add_trecx_training_flags(parser, w_aux):
    """The T-RECX flags every train script has (original names), with the task's defaults."""
    from trecx.flags import add_bool_flag

    parser.add_argument("--model_save_name", default="model_with_ev_assist",
                        help="name of the run folder under --out_dir (and of the trace files)")
    parser.add_argument("--W_aux", type=float, default=w_aux, help="weight of the early exit's cross-entropy")
    add_bool_flag(parser, "--isEV", "apply the EV weight-transfer schedule (needs an _ev architecture)")
    add_bool_flag(parser, "--isTrecx", "T-RECX joint loss (accepted for compatibility: the joint loss is always "
                                       "applied through per-output loss weights here)")
    parser.add_argument("--transfer_fraction", type=float, default=None,
                        help="fraction of epochs (from the start) with EV weight transfer (default: the original "
                             "callback's count, (epochs // 5) * 4 + 2)")
    parser.add_argument("--sdn_frozen_tau", action="store_true",
                        help="reproduce the original code's SDN bug: exit loss weights frozen at 0.01")
    return parser


def check_ev_flag(args):
    if args.isEV and not args.model_architecture.endswith("_ev"):
        raise SystemExit(f"--isEV needs an architecture with an EV branch (*_ev), not {args.model_architecture}")


def compile_model(model, model_name, w_aux, learning_rate, eefmaps_faithful=True):
    """Joint-loss compile with the architecture's loss weights; returns the weights (SDN's are variables)."""
    weights = default_loss_weights(model_name, w_aux, eefmaps_faithful)
    if len(model.output_names) == 1:
        weights = {model.output_names[0]: 1.0}
    weights = {name: weights[name] for name in model.output_names}
    ee.compile_joint(model, weights, learning_rate)
    return weights


def early_exit_callbacks(args, loss_weights, epochs, sdn_max_taus, transfer_epochs=None):
    """Weight transfer (--isEV) and SDN's loss-weight ramp (``*_sdn`` architectures).

    Transfer epochs: ``transfer_epochs`` if given, else ``--transfer_fraction`` of the epochs, else the original
    callback's count (:func:`early_exit.original_transfer_epochs`)."""
    callbacks = []
    if args.isEV:
        if transfer_epochs is None:
            transfer_epochs = (ee.original_transfer_epochs(epochs) if args.transfer_fraction is None
                               else ee.transfer_epochs_for(epochs, args.transfer_fraction))
        callbacks.append(ee.make_weight_transfer_callback(transfer_epochs=transfer_epochs))
    if args.model_architecture.endswith("_sdn"):
        variables = [loss_weights[f"ee_{i + 1}"] for i in range(len(sdn_max_taus))]
        callbacks.append(ee.make_sdn_ramp_callback(variables, sdn_max_taus, epochs, frozen=args.sdn_frozen_tau))
    return callbacks


def save_final(model, out_dir, title):
    """``model.weights.h5`` written last and atomically (the make target), plus the training-curve plot."""
    from mlperf_tiny import run_utils

    out_dir = Path(out_dir)
    tmp_path = out_dir / ("tmp." + FINAL_WEIGHTS)
    model.save_weights(str(tmp_path))
    tmp_path.replace(out_dir / FINAL_WEIGHTS)
    if (out_dir / run_utils.HISTORY_CSV).exists():
        run_utils.plot_history(out_dir / run_utils.HISTORY_CSV, out_dir / "training_curves.png", title)
    return out_dir / FINAL_WEIGHTS


# ---------------------------------------------------------------------------------- shared test driver
def evaluate_task(out_dir, x_test, truth, models, baseline, figures, title, dataset, num_classes,
                  strict=False, tflite=False, calibration=None):
    """What every test script does (original ``test_*.py``), for the models trained under ``out_dir``.

    models: run folder -> (architecture, plot label); baseline: (run folder, architecture) of the model without
    early exit (its accuracy and MACs are the reference point of the trade-offs); figures: PNG name -> run
    folders plotted together. Writes traces, ``results/metrics.json`` and ``results/<figure>.png``; models that
    were not trained are skipped with a message. Returns the metrics dict.
    """
    from mlperf_tiny import run_utils
    from mlperf_tiny.counting import count_macs

    out_dir = Path(out_dir)
    suffix = " (mini data)" if dataset == "mini" else ""
    shape = x_test.shape[1:]
    results = {"dataset": dataset, "num_test_samples": int(len(truth)), "models": {}}
    reference = None
    if (out_dir / baseline[0] / FINAL_WEIGHTS).is_file():
        model = load_trained(baseline[1], out_dir / baseline[0], shape, num_classes)
        accuracy = float((evaluate_exits(model, x_test)[0].argmax(1) == truth).mean())
        reference = {"accuracy": accuracy, "macs": count_macs(model), "architecture": baseline[1]}
        print(f"===== baseline {baseline[1]}\nStandalone accuracy is {accuracy:.4f}")
    else:
        print(f"no baseline: {out_dir / baseline[0] / FINAL_WEIGHTS} not found (trade-offs need it)")
    results["baseline"] = reference

    curve_sets = {}
    for run_name, (arch, label) in models.items():
        run_dir = out_dir / run_name
        if not (run_dir / FINAL_WEIGHTS).is_file():
            print(f"skipping {run_name}: {run_dir / FINAL_WEIGHTS} not found")
            continue
        print(f"===== {run_name} ({arch})")
        model = load_trained(arch, run_dir, shape, num_classes)
        probs = evaluate_exits(model, x_test)
        accuracies = [float((p.argmax(1) == truth).mean()) for p in probs]
        print("Standalone accuracies are " + " ".join(f"{a:.4f}" for a in accuracies))
        entry = {"architecture": arch, "standalone_accuracies": accuracies, "params": int(model.count_params())}
        if len(probs) == 2:
            write_trecx_traces(out_dir / "trace_data", run_name, truth, probs[0], probs[1])
            trace_ee, trace_ef = curves.load_trace_pair(out_dir / "trace_data", run_name)
            macs_ee, macs_final = ee.exit_costs(model)
            curve = curves.compute_curve(
                trace_ee, trace_ef, macs_ee, macs_final, strict=strict,
                baseline_accuracy=None if reference is None else reference["accuracy"],
                baseline_macs=None if reference is None else reference["macs"])
            print(curves.format_tradeoffs(curve, label=f"[{run_name}] "))
        else:
            costs = side_exit_costs(model)
            curve = {"points": multi_exit_curve(probs, truth, costs, strict=strict), "exit_macs": costs}
        entry["curve"] = curve
        curve_sets[run_name] = (label, curve)
        results["models"][run_name] = entry
        if tflite and arch.endswith("_ev"):
            from trecx import deploy

            entry["tflite"] = deploy.export_and_run(model, x_test, truth, out_dir / "tflite", run_name,
                                                    calibration=calibration, strict=strict)

    point = None if reference is None else (reference["accuracy"], reference["macs"])
    for fig, names in figures.items():
        chosen = {curve_sets[n][0]: curve_sets[n][1] for n in names if n in curve_sets}
        if chosen:
            curves.plot_curves(chosen, out_dir / "results" / f"{fig}.png", f"{title} ({fig}){suffix}", baseline=point)
    run_utils.write_json(out_dir / "results" / "metrics.json", results)
    print(f"wrote {out_dir / 'results'}")
    return results
