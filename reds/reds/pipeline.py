"""The REDS pipeline shared by the five scripts (each script only sets its own flag defaults).

Per model size and experimental run: pretrained model -> Taylor scores -> permutation -> head fine-tuning
(CNN / DS-CNN) -> pointwise-kernel scores (DS-CNN) -> iterative knapsack (bottom-up or top-down) -> joint
fine-tuning of the nested subnetworks -> BN-only fine-tuning -> evaluation, budget/nesting checks, int8
TFLite export per subnetwork, plots. ``--full_training`` runs the original ``*_full_training.py`` instead:
plain models at the knapsack widths trained from scratch (the paper's "Scratch" baseline).

Outputs under ``--out_dir``: ``args.json``, ``logs/<experiment>_<ISO time>.log``, and per size/run
``<size>/run<k>/`` with ``knapsack.json``, phase histories, ``metrics.json``, ``subnetworks.csv``,
``tflite/``; ``results.json`` / ``results.csv`` and ``plots/`` (PNG + HTML) at the top.
"""

import argparse
import csv
import datetime
import logging
import os
import sys
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np

from reds.utils import knapsack as ks

# Defaults shared by the scripts (the speech-data block of the original argparse).
COMMON_DEFAULTS = {
    "data_url": "https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
    "data_dir": "data",
    "background_volume": 0.1,
    "background_frequency": 0.8,
    "silence_percentage": 10.0,
    "unknown_percentage": 10.0,
    "time_shift_ms": 100.0,
    "testing_percentage": 10,
    "validation_percentage": 10,
    "sample_rate": 16000,
    "clip_duration_ms": 1000,
    "window_size_ms": 40.0,
    "window_stride_ms": 20.0,
    "dct_coefficient_count": 10,
    "classes": 12,
    "batch_size": 100,
    "wanted_words": "yes,no,up,down,left,right,on,off,stop,go",
    "dataset_name": "speech_dataset",
    "architecture_name": "ds_cnn",
    "dataset": "speech_commands",
    "subnets_number": 4,
    "constraints_percentages": "0.25,0.5,0.75",
    "learning_rate": "0.001,0.0001",
    "training_steps": "20000,20000",
    "epochs": 250,
    "finetune_head_epochs": 30,
    "finetune_batch_norm_epochs": 10,
    "minibatch_number": 100,
    "solver_max_iterations": 3,
    "solver_time_limit": 100000.0,
    "last_pointwise_filters": 60,
    "model_sizes": "l",
    "experimental_runs": 1,
    "seed": 0,
    "cuda_device": -1,
    "pretrain_epochs": 30,
    "pretrain_learning_rate": 1e-3,
    "head_stop_accuracy": None,
}


def _float_list(text):
    return [float(v) for v in str(text).replace(" ", "").split(",") if v]


def _int_list(text):
    return [int(v) for v in str(text).replace(" ", "").split(",") if v]


def get_args_parser(defaults=None, add_help=True, description=None):
    d = dict(COMMON_DEFAULTS, **(defaults or {}))
    p = argparse.ArgumentParser(description=description or __doc__.splitlines()[0], add_help=add_help,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data (the original speech-data block)")
    g.add_argument("--data_url", default=d["data_url"], help="Speech Commands tarball (mlperf_tiny.download fetches it)")
    g.add_argument("--data_dir", default=d["data_dir"], help="dataset folder (KWS: holds speech_commands/ and the test set)")
    g.add_argument("--dataset", default=d["dataset"], choices=["speech_commands", "fashion_mnist", "cifar10"])
    for name in ("background_volume", "background_frequency", "silence_percentage", "unknown_percentage",
                 "time_shift_ms", "window_size_ms", "window_stride_ms"):
        g.add_argument(f"--{name}", type=float, default=d[name])
    for name in ("testing_percentage", "validation_percentage", "sample_rate", "clip_duration_ms",
                 "dct_coefficient_count", "classes", "batch_size"):
        g.add_argument(f"--{name}", type=int, default=d[name])
    g.add_argument("--kws_augmentation", action=argparse.BooleanOptionalAction, default=True,
                   help="KWS training augmentation of the ARM AudioProcessor (--time_shift_ms, "
                        "--background_frequency, --background_volume), redrawn every epoch")
    g.add_argument("--wanted_words", default=d["wanted_words"])
    g.add_argument("--dataset_name", default=d["dataset_name"])

    g = p.add_argument_group("method (the original flags)")
    g.add_argument("--architecture_name", default=d["architecture_name"], choices=["dnn", "cnn", "ds_cnn"])
    g.add_argument("--model_sizes", default=d["model_sizes"], help="comma list of s,m,l")
    g.add_argument("--subnets_number", type=int, default=d["subnets_number"], help="subnetworks incl. the full model")
    g.add_argument("--constraints_percentages", default=d["constraints_percentages"],
                   help="MAC targets of the reduced subnetworks (subnets_number - 1 values)")
    g.add_argument("--learning_rate", default=d["learning_rate"], help="piecewise-constant values")
    g.add_argument("--training_steps", default=d["training_steps"], help="piecewise-constant boundaries (steps)")
    g.add_argument("--epochs", type=int, default=d["epochs"], help="joint REDS fine-tuning epochs")
    g.add_argument("--finetune_head_epochs", type=int, default=d["finetune_head_epochs"])
    g.add_argument("--finetune_batch_norm_epochs", type=int, default=d["finetune_batch_norm_epochs"])
    g.add_argument("--minibatch_number", type=int, default=d["minibatch_number"],
                   help="batches of accumulated gradients for the importance scores")
    g.add_argument("--solver_max_iterations", type=int, default=d["solver_max_iterations"])
    g.add_argument("--solver_time_limit", type=float, default=d["solver_time_limit"], help="seconds per try (MILP)")
    g.add_argument("--last_pointwise_filters", type=int, default=d["last_pointwise_filters"])
    g.add_argument("--bottom_up", action=argparse.BooleanOptionalAction, default=True,
                   help="bottom-up (smallest budget first, frozen into larger ones); --no-bottom_up = top-down")
    g.add_argument("--top_down", dest="bottom_up", action="store_false", help="same as --no-bottom_up")
    g.add_argument("--experimental_runs", type=int, default=d["experimental_runs"])
    g.add_argument("--seed", type=int, default=d["seed"])
    g.add_argument("--cuda_device", type=int, default=d["cuda_device"], help="GPU index, -1 = CPU/all visible")
    g.add_argument("--gurobi_home", default="", help="GUROBI_HOME for --solver gurobi (optional)")
    g.add_argument("--gurobi_license_file", default="", help="GRB_LICENSE_FILE for --solver gurobi (optional)")
    g.add_argument("--debug", action="store_true")
    g.add_argument("--print", action="store_true", help="print the log to stdout too (always on here)")
    g.add_argument("--plot", action=argparse.BooleanOptionalAction, default=True)
    g.add_argument("--full_training", action="store_true",
                   help="the *_full_training.py baseline: plain models at the knapsack widths, trained from scratch")

    g = p.add_argument_group("port: solver, pretrained model, run layout")
    g.add_argument("--solver", default="dp", choices=["dp", "highs", "gurobi"],
                   help="dp = exact width dynamic program (default); highs = scipy.optimize.milp")
    g.add_argument("--dp_max_budget_steps", type=int, default=400_000,
                   help="coarsen the DS-CNN DP budget axis beyond this (DS-CNN L); costs round up")
    g.add_argument("--out_dir", default=None, help="run folder (default runs/reds/<script>)")
    g.add_argument("--pretrained_weights", default=None,
                   help="weights of the pretrained model (.h5/.weights.h5, '{size}' is replaced); "
                        "default: pretrain here for --pretrain_epochs")
    g.add_argument("--pretrain_epochs", type=int, default=d["pretrain_epochs"])
    g.add_argument("--pretrain_learning_rate", type=float, default=d["pretrain_learning_rate"])
    g.add_argument("--head_stop_accuracy", type=float, default=d["head_stop_accuracy"],
                   help="head fine-tuning early-stop target (default: the pretrained accuracy; vision scripts "
                        "hard-coded 0.905 / 0.80)")
    g.add_argument("--max_samples", type=int, default=None, help="cap on training samples (quick checks)")
    g.add_argument("--export_tflite", action=argparse.BooleanOptionalAction, default=True)
    g.add_argument("--export_runtime_width", action=argparse.BooleanOptionalAction, default=True,
                   help="also one float TFLite holding every subnetwork, the active one an int32 input")
    g.add_argument("--configurations_indexes", default="0,1,2,3",
                   help="--full_training: which subnetworks to train (0 = full, then ascending budgets)")

    g = p.add_argument_group("port: faithful quirks (default) and their fixes")
    g.add_argument("--optimizer_fix", action="store_true", help="Q1: real Adam steps and lr schedule")
    g.add_argument("--consistent_permutation", action="store_true", help="Q3: function-preserving DS-CNN permutation")
    g.add_argument("--channel_aware_flatten_slice", action="store_true", help="Q4/Q5: slice flatten rows per channel")
    g.add_argument("--carry_residual", action="store_true", help="Q6: unused MACs carry over to the next budget")
    g.add_argument("--prefix_kernels", action="store_true", help="Q7: pointwise kernels tied to the active channels")
    g.add_argument("--td_nested", action="store_true", help="Q9: top-down bounds each budget by the larger one")
    g.add_argument("--memory_budget", default=None,
                   help="Q8: parameter budgets of the reduced subnetworks as fractions of the budgeted layers' "
                        "parameters, aligned with --constraints_percentages (default: unconstrained, faithful)")
    g.add_argument("--select_on_val", action="store_true", help="Q13: early stop and report on validation")
    g.add_argument("--score_training_mode", action=argparse.BooleanOptionalAction, default=True,
                   help="Q17: gradients for scores with training=True (BN statistics of the batch)")
    g.add_argument("--shuffle_each_epoch", action="store_true", help="Q23: reshuffle the training set every epoch")
    g.add_argument("--bn_mode", default="frozen_stats", choices=["frozen_stats", "per_subnet_recalib"],
                   help="Q2: frozen_stats = every subnetwork uses slices of the pretrained BN statistics (faithful); "
                        "per_subnet_recalib = after fine-tuning, each subnetwork gets the population statistics of "
                        "its own activations (a few floats per BN layer and subnetwork)")
    g.add_argument("--bn_recalibration_samples", type=int, default=2000,
                   help="training samples for --bn_mode per_subnet_recalib")
    p.set_defaults(script=d.get("script", "reds"))
    return p


# ----------------------------------------------------------------------------------------------- helpers


def setup_logging(out_dir, experiment):
    log_dir = Path(out_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H-%M-%S")
    logger = logging.getLogger(f"reds.{experiment}")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    for handler in (logging.FileHandler(log_dir / f"{experiment}_{stamp}.log"), logging.StreamHandler(sys.stdout)):
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    return logger


def validate_args(args):
    percentages = _float_list(args.constraints_percentages)
    if len(percentages) != args.subnets_number - 1:
        raise SystemExit(f"--constraints_percentages has {len(percentages)} values; --subnets_number "
                         f"{args.subnets_number} needs {args.subnets_number - 1}")
    if any(not 0 < p < 1 for p in percentages):
        raise SystemExit(f"--constraints_percentages must lie in (0, 1), got {percentages}")
    sizes = args.model_sizes.replace(" ", "").split(",")
    if any(s not in ("s", "m", "l") for s in sizes):
        raise SystemExit(f"--model_sizes takes s, m, l; got {args.model_sizes}")
    if args.dataset != "speech_commands" and sizes != ["s"]:
        raise SystemExit("the vision scripts have only the DS-CNN S model (--model_sizes s)")
    if args.memory_budget is not None:
        memory = _float_list(args.memory_budget)
        if len(memory) != len(percentages) or any(not 0 < m <= 1 for m in memory):
            raise SystemExit(f"--memory_budget needs {len(percentages)} fractions in (0, 1], one per "
                             f"--constraints_percentages value; got {args.memory_budget}")
    if len(_float_list(args.learning_rate)) < 1:
        raise SystemExit("--learning_rate needs at least one value")
    if args.solver == "gurobi":
        if args.gurobi_home:
            os.environ["GUROBI_HOME"] = args.gurobi_home
        if args.gurobi_license_file:
            os.environ["GRB_LICENSE_FILE"] = args.gurobi_license_file
    return percentages, sizes


def select_device(cuda_device):
    if cuda_device is not None and cuda_device >= 0:
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", str(cuda_device))


def load_data(args, cache_dir=None):
    from reds.utils import datasets

    if args.dataset == "speech_commands":
        data = datasets.load_speech_commands(args.data_dir, args.window_size_ms, args.window_stride_ms,
                                             args.dct_coefficient_count, args.silence_percentage,
                                             args.unknown_percentage, cache_dir=cache_dir,
                                             keep_train_audio=kws_augmentation_on(args))
    elif args.dataset == "fashion_mnist":
        data = datasets.load_fashion_mnist(args.data_dir)
    else:
        data = datasets.load_cifar10(args.data_dir)
    if args.max_samples:
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = (value[0][: args.max_samples], value[1][: args.max_samples])
        if args.dataset != "speech_commands":
            data["validation"] = data["test"]
    return data


def kws_augmentation_on(args):
    return args.dataset == "speech_commands" and args.kws_augmentation and (
        args.time_shift_ms > 0 or (args.background_frequency > 0 and args.background_volume > 0))


def augmentation(args, data, seed):
    """The training augmentation of the dataset (a callable on a batch), or None."""
    from reds.utils import datasets

    if args.dataset == "fashion_mnist":
        return lambda x: datasets.vision_augment(x, rotation_rad=0.2, rotation_probability=0.3)
    if args.dataset == "cifar10":
        return datasets.vision_augment
    if not kws_augmentation_on(args):
        return None
    return datasets.SpeechAugmentation(data["background_noise"], int(args.time_shift_ms * args.sample_rate / 1000),
                                       args.background_frequency, args.background_volume, args.window_size_ms,
                                       args.window_stride_ms, args.dct_coefficient_count, seed=seed)


def model_builder(args, size, input_shape, num_classes):
    from mlperf_tiny.registry import get_model_builder

    if args.dataset == "speech_commands":
        name = f"reds_{args.architecture_name}_{size}"
    else:
        name = "reds_vision_ds_cnn_s"
    builder = get_model_builder(name)
    return lambda widths=None: builder(widths=widths, input_shape=input_shape, num_classes=num_classes)


def knapsack_problem(model, scores, pw_scores, args):
    """The knapsack of the model's family with per-unit costs from a lookup table of the full model.

    Per unit: MACs (the original's lookup table) and parameters (kernel + bias, for ``--memory_budget``;
    DNN/CNN at full fan-in like the MACs, DS-CNN exact: conv filter, depthwise channel, pointwise kernel 1 plus
    the pointwise bias).
    """
    from mlperf_tiny.counting import count_params, layer_macs

    from reds.utils.keyword_spotting_models import architecture

    arch = architecture(model)
    get = model.get_layer
    if arch.family in ("dnn", "cnn"):
        costs, memory = [], []
        for name in arch.width_layers:
            layer = get(name)
            units = layer.units if hasattr(layer, "units") else layer.filters
            costs.append(layer_macs(layer) // units)
            memory.append(count_params(layer) // units)
        return ks.LayerKnapsack([scores[n] for n in arch.width_layers], costs, budget=0,
                                min_units=[arch.min_units] * len(costs), unit_memory=memory)
    blocks = len(arch.width_layers) - 1
    conv = get("conv_0")
    dw_costs, kernel_costs, dw_memory = [], [], []
    for i in range(1, blocks + 1):
        dw, pw = get(f"dw_{i}"), get(f"pw_{i}")
        dw_costs.append(layer_macs(dw) // dw.input_shape[-1])
        kernel_costs.append(layer_macs(pw) // (pw.input_shape[-1] * pw.filters))
        dw_memory.append(count_params(dw) // dw.input_shape[-1])
    min_widths = [1] * blocks + [min(args.last_pointwise_filters, get(f"pw_{blocks}").filters)]
    return ks.DSCNNKnapsack(scores["conv_0"], [scores[f"dw_{i}"] for i in range(1, blocks + 1)], pw_scores,
                            layer_macs(conv) // conv.filters, dw_costs, kernel_costs, budget=0,
                            min_widths=min_widths, prefix_kernels=args.prefix_kernels,
                            conv_memory=count_params(conv) // conv.filters, dw_memory=dw_memory,
                            kernel_memory=[1] * blocks, pw_memory=[1] * blocks)


def memory_targets(problem, args):
    """Parameter budgets per reduced subnetwork from ``--memory_budget`` (fractions), or None (Q8: faithful)."""
    if not args.memory_budget:
        return None
    return ks.mac_targets(problem.total_memory(), _float_list(args.memory_budget))


def knapsack_layer_macs(sub):
    """True MACs of the layers the knapsack budgets (DNN hidden dense, CNN convs, DS-CNN conv stack)."""
    from mlperf_tiny.counting import count_macs

    per_layer = count_macs(sub, per_layer=True)
    names = [n for n in per_layer if n.startswith(("conv_", "dw_", "pw_")) or n in ("dense_1", "dense_2", "dense_3")]
    if "linear" in per_layer:  # CNN: only the two convs are budgeted
        names = [n for n in names if n.startswith("conv_")]
    return int(sum(per_layer[n] for n in names))


# ---------------------------------------------------------------------------------------------- pipeline


def score_units(model, data, args, batch_size, augment=None, seed=0):
    """Taylor scores per unit from ``minibatch_number`` (augmented) training batches."""
    from reds.utils import importance_score as isc
    from reds.utils.forward import training_batches
    from reds.utils.keyword_spotting_models import architecture

    arch = architecture(model)
    grads = isc.accumulate_gradients(model, training_batches(data, batch_size, augment=augment,
                                                             augment_key=(seed, "unit scores")),
                                     args.minibatch_number, training=args.score_training_mode)
    if arch.family == "dnn":
        return {n: isc.unit_scores(grads[n], "dense") for n in arch.width_layers}
    scores = {n: isc.unit_scores(grads[n], "conv") for n in arch.width_layers if n.startswith("conv_")}
    for name in grads:
        if name.startswith("dw_"):
            scores[name] = isc.unit_scores(grads[name], "depthwise")
    return scores


def head_variables(model, family):
    """Variables of the original's "head" phase: pointwise convs + their BN + classifier (CNN: dense stack)."""
    names = ("pw_", "bn_pw_", "logits") if family == "ds_cnn" else ("linear", "dense_", "bn_3", "logits")
    return [v for layer in model.layers if layer.name.startswith(names) for v in layer.trainable_variables]


def run_one(args, size, run, data, out_dir, log):
    import tensorflow as tf
    from mlperf_tiny.run_utils import set_seed, write_json

    from reds.utils import forward
    from reds.utils import importance_score as isc
    from reds.utils.deploy import CALIBRATION_SAMPLES, export_subnetwork, nested_switch_us, tflite_switch_ms
    from reds.utils.keyword_spotting_models import architecture
    from reds.utils.reds_model import RedsModel, extract_subnetwork, kernel_parameter_count, subnetwork_widths

    keras = tf.keras
    seed = args.seed + run
    set_seed(seed)
    percentages, _ = validate_args(args)
    input_shape = data["train"][0].shape[1:]
    num_classes = int(max(data["train"][1].max(), data["test"][1].max()) + 1)
    num_classes = max(num_classes, args.classes if args.dataset == "speech_commands" else 10)
    build = model_builder(args, size, input_shape, num_classes)
    run_dir = out_dir / size / f"run{run}"
    run_dir.mkdir(parents=True, exist_ok=True)
    augment = augmentation(args, data, seed)
    report_split = "validation" if args.select_on_val else "test"

    # 1. pretrained model
    model = build()
    pretrained = out_dir / size / "pretrained.weights.h5"
    if args.pretrained_weights:
        model.load_weights(args.pretrained_weights.format(size=size))
    elif pretrained.is_file():
        model.load_weights(str(pretrained))
    else:
        log(f"no --pretrained_weights: pretraining {model.name} for {args.pretrain_epochs} epochs")
        forward.train_plain(model, data, args.pretrain_epochs, args.pretrain_learning_rate, args.batch_size, log,
                            augment=augment, seed=seed, desc="pretrain")
        forward.recalibrate_batch_norm(model, data["train"][0])
        model.save_weights(str(pretrained))
    pretrained_accuracy = forward.plain_accuracy(model, *data[report_split])
    log(f"{model.name}: pretrained {report_split} accuracy {pretrained_accuracy:.4f}")
    arch = architecture(model)

    # 2-3. scores and permutation
    scores = score_units(model, data, args, args.batch_size, augment, seed)
    perms = isc.permute_model(model, scores, args.consistent_permutation, args.channel_aware_flatten_slice)
    scores = isc.permuted_scores(scores, perms)
    permuted_accuracy = forward.plain_accuracy(model, *data[report_split])
    log(f"after permutation: {report_split} accuracy {permuted_accuracy:.4f} (drop {pretrained_accuracy - permuted_accuracy:+.4f})")

    # 4. head fine-tuning (CNN, DS-CNN), early stop at the pretrained accuracy
    if arch.family != "dnn" and args.finetune_head_epochs > 0:
        stop = args.head_stop_accuracy if args.head_stop_accuracy is not None else pretrained_accuracy
        forward.train_plain(model, data, args.finetune_head_epochs, _float_list(args.learning_rate)[0],
                            args.batch_size, log, trainable=head_variables(model, arch.family), stop_accuracy=stop,
                            stop_split=report_split, augment=augment, seed=seed, desc="head")

    # 5. pointwise-kernel scores (DS-CNN)
    pw_scores = None
    if arch.family == "ds_cnn":
        kernel_batches = forward.training_batches(data, args.batch_size, augment=augment,
                                                  augment_key=(seed, "pointwise kernel scores"))
        grads = isc.accumulate_gradients(model, kernel_batches, args.minibatch_number,
                                         training=args.score_training_mode)
        pw_scores = [isc.unit_scores(grads[n], "pointwise") for n in arch.width_layers[1:]]

    # 6. iterative knapsack
    problem = knapsack_problem(model, scores, pw_scores, args)
    memory_budgets = memory_targets(problem, args)
    results, targets = ks.iterative_knapsack(
        problem, percentages, bottom_up=args.bottom_up, solver=args.solver, solver_time_limit=args.solver_time_limit,
        solver_max_iterations=args.solver_max_iterations, carry_residual=args.carry_residual,
        td_nested=args.td_nested, log=log, max_budget_steps=args.dp_max_budget_steps,
        memory_targets=memory_budgets)
    full = tuple(problem.sizes)
    width_tuples = [full] + [r.widths for r in results]
    violations = ks.nesting_violations([r.widths for r in results] + [full])
    if violations:
        log(f"WARNING: subnetworks are not nested (layer, smaller, larger): {violations}")
    write_json(run_dir / "knapsack.json", {
        "total_macs": problem.total_macs(), "targets": targets, "percentages": percentages,
        "total_parameters": problem.total_memory(), "memory_targets": memory_budgets,
        "mode": "bottom_up" if args.bottom_up else "top_down", "results": [r.as_dict() for r in results],
        "nesting_violations": violations, "width_layers": list(arch.width_layers)})

    labels = ["100%"] + [f"{p:.0%}" for p in percentages]
    subnet_widths = subnetwork_widths(model, width_tuples)
    subs = [extract_subnetwork(model, w, build, args.channel_aware_flatten_slice) for w in subnet_widths]
    params = [kernel_parameter_count(s) for s in subs]

    if args.full_training:
        return full_training(args, build, subnet_widths, labels, percentages, data, run_dir, log, augment, seed,
                             targets, problem, pretrained_accuracy)

    # 7. joint fine-tuning (conv/dense trainable, BN frozen), then BN-only fine-tuning
    reds_model = RedsModel(model, subnet_widths, args.channel_aware_flatten_slice)
    alphas = forward.loss_weights(params)
    lrs, steps = _float_list(args.learning_rate), _int_list(args.training_steps)
    not_bn = [v for layer in model.layers if not isinstance(layer, keras.layers.BatchNormalization)
              for v in layer.trainable_variables]
    forward.train_joint(reds_model, not_bn, data, alphas, args.epochs, forward.make_optimizer(lrs, steps, args.optimizer_fix),
                        args.batch_size, run_dir, "joint", log, args.shuffle_each_epoch, augment, seed, labels)
    last = None
    if args.finetune_batch_norm_epochs > 0 and arch.family != "dnn":
        bn_vars = [v for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
                   for v in (layer.gamma, layer.beta)]
        bn_opt = forward.make_optimizer([forward.BN_PHASE_LEARNING_RATE], [], args.optimizer_fix)
        last = forward.train_joint(reds_model, bn_vars, data, alphas, args.finetune_batch_norm_epochs, bn_opt,
                                   args.batch_size, run_dir, "batch_norm", log, args.shuffle_each_epoch, augment,
                                   seed, labels)
    final = forward.evaluate(reds_model, *data[report_split]) if last is None else last[report_split]
    shared_stats_accuracy = [a for a, _ in final]
    if args.bn_mode == "per_subnet_recalib" and arch.family != "dnn":
        reds_model.recalibrate_batch_norm(data["train"][0][: args.bn_recalibration_samples])
        final = forward.evaluate(reds_model, *data[report_split])
        log("per-subnetwork BN statistics: " + ", ".join(
            f"{label} {before:.4f} -> {after:.4f}" for label, before, (after, _) in
            zip(labels, shared_stats_accuracy, final)))

    # 8. extraction, checks and deployment
    subs = [extract_subnetwork(model, w, build, args.channel_aware_flatten_slice, reds_model._statistics(s))
            for s, w in enumerate(subnet_widths)]
    rows, contents = [], []
    calibration = data["train"][0][:CALIBRATION_SAMPLES]
    total = problem.total_macs()
    for s, (label, sub, widths) in enumerate(zip(labels, subs, width_tuples)):
        true_macs = knapsack_layer_macs(sub)
        target = total if s == 0 else targets[s - 1]
        row = {"subnetwork": label, "mac_percentage": 100.0 * true_macs / total, "widths": list(widths),
               "target_macs": target, "knapsack_layer_macs": true_macs,
               "knapsack_model_macs": problem.macs(widths), "within_budget": bool(true_macs <= target),
               "params": params[s], "accuracy": final[s][0], "loss": final[s][1], "split": report_split,
               "accuracy_shared_bn_statistics": shared_stats_accuracy[s],
               "knapsack_model_parameters": problem.memory(widths)}
        if memory_budgets is not None and s:
            row["memory_target"] = memory_budgets[s - 1]
            row["within_memory_budget"] = bool(row["knapsack_model_parameters"] <= memory_budgets[s - 1])
        if args.export_tflite:
            content, deploy = export_subnetwork(sub, f"{model.name}_{label.rstrip('%')}pct", run_dir / "tflite",
                                                calibration, *data["test"])
            contents.append(content)
            row.update(deploy)
        rows.append(row)
        log(f"{label}: widths {list(widths)}, {true_macs} MACs ({row['mac_percentage']:.1f}%), {params[s]} params, "
            f"{report_split} accuracy {final[s][0]:.4f}" + (f", int8 TFLite {row['tflite_bytes']} B acc "
                                                             f"{row['tflite_accuracy']:.4f}" if contents else ""))
    switch = nested_switch_us(reds_model, data["test"][0])
    if contents:
        switch["tflite_interpreter_switch_ms"] = tflite_switch_ms(contents)
    if args.export_tflite and args.export_runtime_width:
        switch["runtime_width_tflite"] = runtime_width_export(model, reds_model, subnet_widths, args, data,
                                                              run_dir, labels, log)
    metrics = {"model": model.name, "size": size, "run": run, "seed": seed,
               "dataset": "mini" if "mini" in str(args.data_dir) else args.dataset,
               "pretrained_accuracy": pretrained_accuracy, "permuted_accuracy": permuted_accuracy,
               "bn_mode": args.bn_mode, "subnetworks": rows, **switch}
    write_json(run_dir / "metrics.json", metrics)
    _write_csv(run_dir / "subnetworks.csv", rows)
    return metrics


RUNTIME_WIDTH_SAMPLES = 8  # inputs for the output check and the timings of the run-time-width flatbuffer
RUNTIME_WIDTH_KEYS = ("tflite", "tflite_bytes", "full_model_tflite_bytes", "bytes_ratio", "stored_constants",
                      "max_abs_diff", "argmax_agreement", "latency_ms", "switch", "modes", "fallbacks")


def runtime_width_export(model, reds_model, subnet_widths, args, data, run_dir, labels, log):
    """One float TFLite flatbuffer whose active subnetwork is an int32 input (``utils/runtime_width.py``)."""
    from reds.utils.runtime_width import export_runtime_width_tflite

    if reds_model.bn_statistics is not None:
        log("run-time-width TFLite skipped: it shares one set of BN statistics (use --bn_mode frozen_stats)")
        return None
    path = run_dir / "tflite" / f"{model.name}_runtime_width.tflite"
    result = export_runtime_width_tflite(model, subnet_widths, args.channel_aware_flatten_slice, path,
                                         data["test"][0][:RUNTIME_WIDTH_SAMPLES])
    result["tflite"] = str(path)
    log(f"run-time-width float TFLite: {result['tflite_bytes']} B ({result['bytes_ratio']:.2f}x the full model), "
        f"max |diff| vs nested {max(result['max_abs_diff']):.1e}, latency ms " + ", ".join(
            f"{label} {ms:.3f}" for label, ms in zip(labels, result["latency_ms"])) +
        f", invoke after a switch {result['switch']['after_switch_us']:.0f} us vs "
        f"{result['switch']['same_index_us']:.0f} us")
    return {k: result[k] for k in RUNTIME_WIDTH_KEYS if k in result}


def full_training(args, build, subnet_widths, labels, percentages, data, run_dir, log, augment, seed, targets,
                  problem, pretrained_accuracy):
    """Scratch baseline: plain models at the knapsack widths (Q20: regenerated, not the hard-coded table)."""
    from mlperf_tiny.run_utils import write_json
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    from reds.utils import forward
    from reds.utils.reds_model import kernel_parameter_count

    rows = []
    total = problem.total_macs()
    for index in _int_list(args.configurations_indexes):
        if index >= len(subnet_widths):
            raise SystemExit(f"--configurations_indexes {index}: only {len(subnet_widths)} subnetworks")
        model = build(widths=subnet_widths[index])
        # the original exported the (untrained, float) TFLite before training
        save_tflite(convert_to_tflite(model, int8=False), run_dir / "knapsack_solver" / f"{model.name}_{labels[index].rstrip('%')}pct_macs.tflite")
        accuracy = forward.train_plain(model, data, args.epochs, _float_list(args.learning_rate)[0], args.batch_size,
                                       log, augment=augment, seed=seed, desc=f"scratch {labels[index]}",
                                       stop_split="validation" if args.select_on_val else "test")
        macs = knapsack_layer_macs(model)
        rows.append({"subnetwork": labels[index], "widths": list(subnet_widths[index].values()),
                     "mac_percentage": 100.0 * macs / total, "knapsack_layer_macs": macs,
                     "params": kernel_parameter_count(model), "accuracy": accuracy})
        log(f"scratch {labels[index]}: accuracy {accuracy:.4f}")
    metrics = {"full_training": True, "subnetworks": rows, "pretrained_accuracy": pretrained_accuracy,
               "dataset": "mini" if "mini" in str(args.data_dir) else args.dataset}
    write_json(run_dir / "metrics.json", metrics)
    _write_csv(run_dir / "subnetworks.csv", rows)
    return metrics


def _write_csv(path, rows):
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def accuracy_non_decreasing(rows):
    """True when the (mean) accuracy never drops as the MAC percentage grows (ties allowed)."""
    accuracies = [r["accuracy"] for r in sorted(rows, key=lambda r: r["mac_percentage"])]
    return all(a <= b for a, b in zip(accuracies, accuracies[1:]))


def summarise(all_metrics, out_dir, log, mini, name="REDS"):
    """Mean +- std over runs per size and subnetwork -> results.json / results.csv / plots."""
    from mlperf_tiny.run_utils import write_json

    from reds.utils.plots import plot_results

    summary, rows_by_model, per_size = [], {}, {}
    for size, runs in all_metrics.items():
        rows = []
        for s, first in enumerate(runs[0]["subnetworks"]):
            accs = [r["subnetworks"][s]["accuracy"] for r in runs]
            row = dict(first, size=size, accuracy=float(np.mean(accs)), accuracy_std=float(np.std(accs)), runs=len(runs))
            rows.append(row)
            log(f"size {size.upper()} {row['subnetwork']}: accuracy {100 * row['accuracy']:.2f} +- "
                f"{100 * row['accuracy_std']:.2f} over {len(runs)} run(s), {row['mac_percentage']:.1f}% MACs")
        summary += rows
        rows_by_model[f"size {size.upper()}" + (" (mini data)" if mini else "")] = rows
        pretrained = float(np.mean([r["pretrained_accuracy"] for r in runs]))
        monotone = accuracy_non_decreasing(rows)
        per_size[size] = {"pretrained_accuracy": pretrained, "accuracy_non_decreasing": monotone}
        log(f"size {size.upper()} pretrained accuracy: {pretrained:.4f}; accuracy non-decreasing with the MAC "
            f"budget: {'yes' if monotone else 'NO'}")
    write_json(out_dir / "results.json", {"dataset": "mini" if mini else "full", "sizes": per_size,
                                          "subnetworks": summary})
    _write_csv(out_dir / "results.csv", summary)
    return plot_results(rows_by_model, out_dir / "plots", f" — {name}" + (" (mini data)" if mini else ""))


def run(args):
    """Run the pipeline for every size and experimental run; returns {size: [metrics per run]}."""
    from mlperf_tiny.run_utils import save_args

    _, sizes = validate_args(args)
    select_device(args.cuda_device)
    out_dir = Path(args.out_dir or Path("runs") / "reds" / args.script)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_args(args, out_dir)
    experiment = f"{args.script}{'_full_training' if args.full_training else ''}"
    logger = setup_logging(out_dir, experiment)
    log = logger.info
    log(f"{experiment}: {' '.join(sys.argv[1:]) if sys.argv else ''}")
    data = load_data(args, cache_dir=out_dir.parent / "feature_cache")
    log("data: " + ", ".join(f"{k} {v[0].shape}" for k, v in data.items() if isinstance(v, tuple)))
    all_metrics = {}
    for size in sizes:
        for run_index in range(args.experimental_runs):
            all_metrics.setdefault(size, []).append(run_one(args, size, run_index, data, out_dir, log))
    mini = "mini" in str(args.data_dir)
    if args.plot or not args.full_training:
        summarise(all_metrics, out_dir, log, mini, experiment)
    return all_metrics


def script_main(defaults, argv=None, description=None):
    args = get_args_parser(defaults, description=description).parse_args(argv)
    return run(args)
