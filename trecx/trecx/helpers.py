"""Training, evaluation and trace/curve helpers shared by the three tasks (original per-task ``helpers.py``).

Every run directory gets ``args.json`` (claimed first: the same command resumes, another is refused unless
``--overwrite``), ``history.csv``/``metrics.json`` (mlperf_tiny.run_utils), the resume point ``last.weights.h5``
(weights, optimizer state, epoch) and, at the end, ``model.weights.h5`` (the make target). Every file is written
atomically. Models are rebuilt from the registry and loaded from weights, so no custom-object bookkeeping is needed.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

from trecx import curves
from trecx import early_exit as ee

FINAL_WEIGHTS = "model.weights.h5"
TRAIN_HINT = "train it first (make trecx-train, or the task's train script)"


def multi_output_batches(dataset, model, one_hot=False):
    """tf.data (x, y) batches -> (x, {exit: y}) for multi-exit models (``one_hot``: y -> its argmax first)."""
    import tensorflow as tf

    names = list(model.output_names)

    def split(x, y):
        labels = tf.argmax(y, axis=-1) if one_hot else y
        return x, ({name: labels for name in names} if len(names) > 1 else labels)

    return dataset.map(split)


def multi_output_sequence(flow, model, one_hot=False):
    """The same for a Keras ImageDataGenerator iterator, as a ``Sequence`` (Keras' own batch stream)."""
    import tensorflow as tf

    names = list(model.output_names)

    class MultiOutputSequence(tf.keras.utils.Sequence):
        def __len__(self):
            return len(flow)

        def __getitem__(self, index):
            x, y = flow[index]
            labels = y.argmax(1) if one_hot else y
            return x, ({name: labels for name in names} if len(names) > 1 else labels)

        def on_epoch_end(self):
            flow.on_epoch_end()

    return MultiOutputSequence()


def keras_fit_data(train_flow, val_flow, model, seed, start, end, exact_resume, one_hot=False):
    """``run_utils.keras_iterator_fit_data`` with the labels given to every exit: (x, steps, validation data,
    validation steps, extra callbacks). exact_resume=False: Keras' own stream (the figures of the README);
    True: each epoch drawn from (seed, epoch), so a resumed run trains on what an uninterrupted one would."""
    from mlperf_tiny import run_utils

    train, steps, val, val_steps, extra = run_utils.keras_iterator_fit_data(train_flow, val_flow, seed, start, end,
                                                                           exact_resume)
    wrap = multi_output_batches if exact_resume else multi_output_sequence
    return (wrap(train, model, one_hot), steps, None if val is None else wrap(val, model, one_hot), val_steps,
            extra)


EXACT_RESUME_HELP = ("draw each epoch's batch order, augmentation and dropout masks from (seed, epoch), so a run "
                     "resumed after a kill ends as an uninterrupted one (another random stream than the default: "
                     "other numbers)")


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

    weights = rc.require_file(Path(run_dir) / FINAL_WEIGHTS, "trained weights", TRAIN_HINT)
    model = get_model(model_name, input_shape=input_shape, num_classes=num_classes)
    try:
        model.load_weights(str(weights))
    except Exception as err:  # noqa: BLE001  (h5py/Keras raise OSError, ValueError, KeyError for broken files)
        raise rc.bad_file(weights, f"not {model_name} weights for input {tuple(input_shape)} ({type(err).__name__}: "
                                   f"{' '.join(str(err).split())[:160]})", "retrain it with --overwrite") from None
    return model


# ----------------------------------------------------------------------------------- shared training driver
def add_trecx_training_flags(parser, w_aux):
    """The T-RECX flags every train script has (original names), with the task's defaults."""
    from trecx.flags import add_bool_flag

    parser.add_argument("--model_save_name", default="model_with_ev_assist",
                        help="name of the run folder under --out_dir (and of the trace files)")
    parser.add_argument("--W_aux", type=rc.nonnegative_float, default=w_aux,
                        help="weight (>= 0) of the early exit's cross-entropy")
    add_bool_flag(parser, "--isEV", "apply the EV weight-transfer schedule (needs an _ev architecture)")
    add_bool_flag(parser, "--isTrecx", "T-RECX joint loss (accepted for compatibility: the joint loss is always "
                                       "applied through per-output loss weights here)")
    parser.add_argument("--transfer_fraction", type=rc.fraction, default=None,
                        help="fraction of epochs (from the start) with EV weight transfer (default: the original "
                             "callback's count, (epochs // 5) * 4 + 2)")
    parser.add_argument("--sdn_frozen_tau", action="store_true",
                        help="reproduce the original code's SDN bug: exit loss weights frozen at 0.01")
    parser.add_argument("--exact_resume", action="store_true", help=EXACT_RESUME_HELP)
    add_init_from_base_flag(parser)
    parser.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return parser


def add_init_from_base_flag(parser):
    parser.add_argument("--init_from_base", type=rc.existing_file("base model"), default=None,
                        metavar="BASE_H5",
                        help="not in the paper (the quick demo's shortcut): start the backbone and the final "
                             "classifier from this trained base model of the task (a Keras .h5 without early exit, "
                             "e.g. mlperf-tiny's), the EE head from scratch; an _ev/_noev architecture only")
    return parser


INIT_HINT = "; --init_from_base needs the trained base model of the same task (mlperf-tiny's .h5)"


def check_init_from_base(args):
    """Before the claim: --init_from_base only for the T-RECX architectures it can fill."""
    rc.check(args.init_from_base is None or args.model_architecture.endswith(("_ev", "_noev")),
             f"--init_from_base fills a T-RECX model (*_ev, *_noev), not {args.model_architecture}")


def init_from_base(args, model):
    """``--init_from_base``: copy the base into ``model`` (:func:`early_exit.init_from_base`); no-op without it."""
    if args.init_from_base is None:
        return model
    from mlperf_tiny import model_io

    loaded = model_io.load_model(args.init_from_base, BASELINE_HINT)
    if loaded.keras_model is None:
        raise rc.bad_file(args.init_from_base, f"a {loaded.kind} file, not a Keras model (.h5)", BASELINE_HINT)
    try:
        ee.init_from_base(model, loaded.keras_model, INIT_HINT)
    except ValueError as err:
        raise rc.bad_file(args.init_from_base, str(err), BASELINE_HINT) from None
    print(f"backbone and final classifier initialised from {args.init_from_base}")
    return model


def check_ev_flag(args):
    rc.check(not args.isEV or args.model_architecture.endswith("_ev"),
             f"--isEV needs an architecture with an EV branch (*_ev), not {args.model_architecture}")


def check_resume_point(run_dir):
    """A resume point that cannot be read is reported before the run folder is claimed (nothing is written)."""
    import h5py
    from mlperf_tiny.run_utils import LAST_WEIGHTS

    path = Path(run_dir) / LAST_WEIGHTS
    if path.exists():
        try:
            h5py.File(path, "r").close()
        except OSError as err:
            raise rc.bad_file(path, f"unusable resume point ({' '.join(str(err).split())[:160]})",
                              "delete it to start the run again, or rerun with --overwrite") from None


def claim_training_run(args, run_dir, extra=None, ignore=("verbose", "out_dir")):
    """Claim ``run_dir`` (nothing is written before): True when this run already finished (nothing to do).

    ``extra``: values recorded in args.json beside the flags (the dataset label, counts); they are part of the
    run's identity, so a run on other data is refused. Where the folder is (``--out_dir``) is not: a moved run
    folder resumes.
    """
    values = {**vars(args), **(extra or {})}
    if not args.overwrite:
        check_resume_point(run_dir)
    state = rc.claim_run_dir(run_dir, values, ignore=ignore, overwrite=args.overwrite)
    finished = state == "resume" and (Path(run_dir) / FINAL_WEIGHTS).is_file()
    if finished:
        print(f"{run_dir}: already trained ({FINAL_WEIGHTS}); nothing to do (--overwrite to train it again)")
    return finished


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
    """``model.weights.h5`` written last and atomically (the make target), after the training-curve plot."""
    from mlperf_tiny import run_utils

    out_dir = Path(out_dir)
    if (out_dir / run_utils.HISTORY_CSV).exists():
        with rc.atomic_path(out_dir / "training_curves.png") as tmp:
            run_utils.plot_history(out_dir / run_utils.HISTORY_CSV, tmp, title)
    with rc.atomic_path(out_dir / FINAL_WEIGHTS) as tmp:
        model.save_weights(str(tmp))
    return out_dir / FINAL_WEIGHTS


# ---------------------------------------------------------------------------------- shared test driver
TEST_IDENTITY = ("data_dir", "test_set", "num_test_samples", "strict_exit", "tflite", "baseline_model")
BASELINE_HINT = "pass the task's trained base model (mlperf-tiny's: make mlperf-ic / mlperf-kws / mlperf-vww)"


def trained_runs(out_dir, models):
    """The run folders of ``models`` under ``out_dir`` that hold trained weights."""
    return [name for name in models if (Path(out_dir) / name / FINAL_WEIGHTS).is_file()]


def load_baseline(args, baseline, shape, num_classes):
    """The base model without early exit: ``--baseline_model`` (a whole Keras model file, e.g. the one mlperf-tiny's
    pipeline trains, so no second copy is trained), else ``<out_dir>/<baseline run>/model.weights.h5``; None when
    neither is there. A file of another task or class count is refused from its shapes."""
    path = getattr(args, "baseline_model", None)
    if path is None:
        run_dir = Path(args.out_dir) / baseline[0]
        if not (run_dir / FINAL_WEIGHTS).is_file():
            print(f"no baseline: {run_dir / FINAL_WEIGHTS} not found (trade-offs need it)")
            return None
        return load_trained(baseline[1], run_dir, shape, num_classes)
    from mlperf_tiny import model_io

    loaded = model_io.load_model(path, BASELINE_HINT)
    if loaded.keras_model is None:
        raise rc.bad_file(path, f"a {loaded.kind} file, not a Keras model (.h5)", BASELINE_HINT)
    expected = (tuple(int(d) for d in shape), [(num_classes,)])
    if (tuple(loaded.input_shape), [tuple(o) for o in loaded.output_shapes]) != expected:
        raise rc.bad_file(path, f"takes {loaded.input_shape} -> {loaded.output_shapes}, the test set needs "
                                f"{expected[0]} -> {expected[1]}: a model of another task", BASELINE_HINT)
    return loaded.keras_model


def evaluate_task(args, x_test, truth, models, baseline, figures, title, dataset, test_set, num_classes,
                  calibration=None):
    """What every test script does (original ``test_*.py``), for the models trained under ``args.out_dir``.

    models: run folder -> (architecture, plot label); baseline: (run folder, architecture) of the model without
    early exit (its accuracy and MACs are the reference point of the trade-offs); figures: PNG name -> run
    folders plotted together; test_set: what the samples are (written into the metrics). Writes traces,
    ``results/metrics.json`` and ``results/<figure>.png`` into ``args.out_dir`` (the runs folder of the task, never
    a model's own folder); models that were not trained are skipped with a message, and when no early-exit model
    is trained the run fails before writing anything. The results are claimed (``test_args.json``): rerunning the
    same evaluation replaces them, another (other data, sample count, exit rule) is refused unless --overwrite.
    Returns the metrics dict.
    """
    from mlperf_tiny import run_utils
    from mlperf_tiny.counting import count_macs

    out_dir = Path(args.out_dir)
    strict, tflite = args.strict_exit, args.tflite
    if len(truth) == 0:
        raise rc.RunFailed(f"{test_set} holds no samples: nothing to evaluate")
    present = trained_runs(out_dir, models)
    if not present:
        looked = ", ".join(f"{name}/{FINAL_WEIGHTS}" for name in models)
        raise rc.RunFailed(f"nothing to evaluate: no trained early-exit model under {out_dir} (looked for {looked}); "
                           f"{TRAIN_HINT}")
    # Every model is loaded before anything is written: a broken weights file stops the run with the folder as it was.
    shape = x_test.shape[1:]
    baseline_model = load_baseline(args, baseline, shape, num_classes)
    loaded = {name: load_trained(models[name][0], out_dir / name, shape, num_classes) for name in present}
    run_utils.claim_eval_dir(out_dir, "test", {**vars(args), "test_set": test_set}, TEST_IDENTITY, args.overwrite)
    suffix = " (mini data)" if dataset == "mini" else ""
    results = {"dataset": dataset, "test_set": test_set, "num_test_samples": int(len(truth)), "models": {}}
    reference = None
    if baseline_model is not None:
        accuracy = float((evaluate_exits(baseline_model, x_test)[0].argmax(1) == truth).mean())
        reference = {"accuracy": accuracy, "macs": count_macs(baseline_model), "architecture": baseline[1],
                     "source": str(args.baseline_model or out_dir / baseline[0] / FINAL_WEIGHTS)}
        print(f"===== baseline {baseline[1]}\nStandalone accuracy is {accuracy:.4f}")
        if tflite:  # the base model on TFLite Micro, the reference of the early-exit parts' arenas
            from trecx import deploy

            path = deploy.export_int8(baseline_model, calibration, out_dir / "tflite" / f"{baseline[0]}_int8.tflite")
            reference["tflm"] = deploy.tflm_figures(path)
    results["baseline"] = reference

    curve_sets = {}
    for run_name, (arch, label) in models.items():
        if run_name not in loaded:
            print(f"skipping {run_name}: {out_dir / run_name / FINAL_WEIGHTS} not found")
            continue
        print(f"===== {run_name} ({arch})")
        model = loaded[run_name]
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
                                                    calibration=calibration, strict=strict,
                                                    baseline_tflm=None if reference is None else reference.get("tflm"))

    point = None if reference is None else (reference["accuracy"], reference["macs"])
    for fig, names in figures.items():
        chosen = {curve_sets[n][0]: curve_sets[n][1] for n in names if n in curve_sets}
        if chosen:
            curves.plot_curves(chosen, out_dir / "results" / f"{fig}.png", f"{title} ({fig}){suffix}", baseline=point)
    rc.write_json(out_dir / "results" / "metrics.json", results)
    print(f"wrote {out_dir / 'results'}")
    return results


def test_flags(parser):
    """Flags every test script shares (after its data flags)."""
    parser.add_argument("--out_dir", default="trained_models",
                        help="folder holding the run folders of the train script; results go into it")
    parser.add_argument("--strict_exit", action="store_true", help="exit when score > rho (original code)")
    parser.add_argument("--tflite", action="store_true",
                        help="also export T-RECX as two int8 TFLite parts and report the measured dynamic-exit run")
    parser.add_argument("--baseline_model", default=None,
                        help="the base model without early exit as a whole Keras model file (e.g. mlperf-tiny's "
                             "trained one); default: the baseline run folder under --out_dir")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace results of another evaluation (other data or settings) in --out_dir")
    return parser


def eembc_test_set(data_dir, task):
    """(float inputs, labels, dataset label, what the set is) of an EEMBC folder, or None for another folder."""
    from mlperf_tiny import eembc

    data_dir = Path(data_dir)
    if not (data_dir / eembc.LABELS_FILE).is_file():
        return None
    stimuli = eembc.load_stimuli(data_dir, task)
    return (np.asarray(stimuli.x, dtype=np.float32), stimuli.labels, "eembc",
            f"EEMBC folder {data_dir} ({stimuli.format}, {len(stimuli.rows)} stimuli)")
