"""The REDS pipeline shared by the five scripts (each script only sets its own flag defaults).

Per model size and experimental run, ``run_one`` goes through the stages of the original scripts; each leaves a
file in the run folder, so a rerun of the same command skips what is done and resumes what was interrupted:

1. ``pretrained_model``: the given checkpoint (``--pretrained_weights``) or our pretraining
   (``<size>/pretrained.weights.h5``, per-epoch ``pretrain_resume.h5``).
2. ``importance_and_head``: Taylor scores (``unit_scores.npz``), permutation into sorted prefixes, head
   fine-tuning (CNN / DS-CNN; ``head_resume.h5`` per epoch), pointwise-kernel scores (``pointwise_scores.npz``).
3. ``solve_knapsack``: iterative bottom-up / top-down knapsack (``knapsack.json``).
4. ``fine_tune``: joint fine-tuning of the nested subnetworks, then BN-only fine-tuning (``joint_resume.h5``,
   ``batch_norm_resume.h5`` and their ``*_history.csv``, per epoch).
5. ``evaluate_and_deploy``: evaluation, budget / nesting checks, int8 TFLite per subnetwork, the run-time-width
   flatbuffer (``metrics.json``, ``subnetworks.csv``, ``tflite/``).

``--full_training`` runs the original ``*_full_training.py`` after stage 3 instead: plain models at the knapsack
widths trained from scratch (the paper's "Scratch" baseline). At the top of ``--out_dir``: ``args.json`` (the run
directory is claimed before anything is written: another run's folder is refused unless ``--overwrite``),
``logs/<experiment>_<ISO time>.log``, and ``results.json`` / ``results.csv`` / ``plots/`` last.
"""

import argparse
import contextlib
import datetime
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

from reds.utils import knapsack as ks

FMNIST_ROTATION_RAD, FMNIST_ROTATION_PROBABILITY = 0.2, 0.3  # the original's Fashion-MNIST rotation
VISION_CLASSES = 10
VISION_INPUT_SHAPES = {"fashion_mnist": (28, 28, 1), "mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
# a pretrained model at or below this multiple of chance accuracy almost surely got other labels or features
CHANCE_ACCURACY_FACTOR = 1.5
MODEL_SIZES = ("s", "m", "l")
# flags that do not change a run's results: a rerun may differ in them
RUN_IDENTITY_IGNORE = ("plot", "print", "cuda_device", "gurobi_home", "gurobi_license_file", "tflm")

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
    "shuffle_each_epoch": False,
    "batch_norm_learning_rate": 5e-4,
}


def _float_list(text):
    return [float(v) for v in str(text).replace(" ", "").split(",") if v]


def _int_list(text):
    return [int(v) for v in str(text).replace(" ", "").split(",") if v]


def comma_list(item_type, what, check=None, requirement=""):
    """An argparse type for a comma-separated list (the original's spelling), each item checked."""

    def parse(text):
        try:
            values = [item_type(v) for v in str(text).replace(" ", "").split(",") if v]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {what}") from None
        if not values or (check is not None and not all(check(v) for v in values)):
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {what}{requirement}")
        return text

    return parse


def get_args_parser(defaults=None, add_help=True, description=None):
    d = dict(COMMON_DEFAULTS, **(defaults or {}))
    p = rc.ArgumentParser(description=description or __doc__.splitlines()[0], add_help=add_help,
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data (the original speech-data block)")
    g.add_argument("--data_url", default=d["data_url"], help="Speech Commands tarball (mlperf_tiny.download fetches it)")
    g.add_argument("--data_dir", default=d["data_dir"], help="dataset folder (KWS: holds speech_commands/ and the test set)")
    g.add_argument("--dataset", default=d["dataset"], choices=["speech_commands", "fashion_mnist", "cifar10"])
    for name in ("background_volume", "background_frequency"):
        g.add_argument(f"--{name}", type=rc.fraction, default=d[name])
    for name in ("silence_percentage", "unknown_percentage"):
        g.add_argument(f"--{name}", type=rc.float_range(0, 100), default=d[name])
    g.add_argument("--time_shift_ms", type=rc.nonnegative_float, default=d["time_shift_ms"])
    for name in ("window_size_ms", "window_stride_ms"):
        g.add_argument(f"--{name}", type=rc.positive_float, default=d[name])
    for name in ("testing_percentage", "validation_percentage"):
        g.add_argument(f"--{name}", type=rc.int_range(0, 100), default=d[name],
                       help="parsed as the original; the split is the dataset's own lists")
    for name in ("sample_rate", "clip_duration_ms", "dct_coefficient_count", "classes", "batch_size"):
        g.add_argument(f"--{name}", type=rc.positive_int, default=d[name])
    g.add_argument("--kws_augmentation", action=argparse.BooleanOptionalAction, default=True,
                   help="KWS training augmentation of the ARM AudioProcessor (--time_shift_ms, "
                        "--background_frequency, --background_volume), redrawn every epoch")
    g.add_argument("--wanted_words", default=d["wanted_words"],
                   help="keywords to classify; with _silence_ and _unknown_ they are the classes")
    g.add_argument("--label_order", default="arm", choices=["arm", "mlperf"],
                   help="class order: arm = _silence_, _unknown_, then --wanted_words as given (ARM's input_data.py, "
                        "what REDS and the ARM checkpoints use); mlperf = words sorted, then _silence_, _unknown_ "
                        "(MLPerf Tiny / EEMBC)")
    g.add_argument("--front_end", default="arm", choices=["arm", "mlperf"],
                   help="KWS features: arm = AudioSpectrogram + Mfcc as ARM's data.py (the ARM checkpoints' input); "
                        "mlperf = mlperf_tiny's tf.signal MFCCs")
    g.add_argument("--dataset_name", default=d["dataset_name"])

    g = p.add_argument_group("method (the original flags)")
    g.add_argument("--architecture_name", default=d["architecture_name"], choices=["dnn", "cnn", "ds_cnn"])
    g.add_argument("--model_sizes", default=d["model_sizes"], help="comma list of s,m,l",
                   type=comma_list(str, "model sizes", lambda v: v in MODEL_SIZES, " (s, m, l)"))
    g.add_argument("--subnets_number", type=rc.int_range(2, None), default=d["subnets_number"],
                   help="subnetworks incl. the full model")
    g.add_argument("--constraints_percentages", default=d["constraints_percentages"],
                   type=comma_list(float, "fractions", lambda v: 0 < v < 1, " in (0, 1)"),
                   help="MAC targets of the reduced subnetworks (subnets_number - 1 values)")
    g.add_argument("--learning_rate", default=d["learning_rate"], help="piecewise-constant values",
                   type=comma_list(float, "learning rates", lambda v: v > 0, " > 0"))
    g.add_argument("--training_steps", default=d["training_steps"], help="piecewise-constant boundaries (steps)",
                   type=comma_list(int, "step counts", lambda v: v >= 1, " >= 1"))
    g.add_argument("--epochs", type=rc.positive_int, default=d["epochs"], help="joint REDS fine-tuning epochs")
    g.add_argument("--finetune_head_epochs", type=rc.nonnegative_int, default=d["finetune_head_epochs"])
    g.add_argument("--finetune_batch_norm_epochs", type=rc.nonnegative_int, default=d["finetune_batch_norm_epochs"])
    g.add_argument("--batch_norm_learning_rate", type=rc.positive_float, default=d["batch_norm_learning_rate"],
                   help="constant lr of the BN-only phase (KWS scripts 5e-4; the vision scripts kept their first "
                        "schedule value, 1e-3)")
    g.add_argument("--minibatch_number", type=rc.positive_int, default=d["minibatch_number"],
                   help="batches of accumulated gradients for the importance scores")
    g.add_argument("--solver_max_iterations", type=rc.positive_int, default=d["solver_max_iterations"])
    g.add_argument("--solver_time_limit", type=rc.positive_float, default=d["solver_time_limit"],
                   help="seconds per try (MILP)")
    g.add_argument("--last_pointwise_filters", type=rc.positive_int, default=d["last_pointwise_filters"])
    g.add_argument("--bottom_up", action=argparse.BooleanOptionalAction, default=True,
                   help="bottom-up (smallest budget first, frozen into larger ones); --no-bottom_up = top-down")
    g.add_argument("--top_down", dest="bottom_up", action="store_false", help="same as --no-bottom_up")
    g.add_argument("--experimental_runs", type=rc.positive_int, default=d["experimental_runs"])
    g.add_argument("--seed", type=rc.nonnegative_int, default=d["seed"])
    g.add_argument("--cuda_device", type=rc.int_range(-1, None), default=d["cuda_device"],
                   help="GPU index, -1 = CPU/all visible")
    g.add_argument("--gurobi_home", default="", help="GUROBI_HOME for --solver gurobi (optional)")
    g.add_argument("--gurobi_license_file", default="", help="GRB_LICENSE_FILE for --solver gurobi (optional)")
    g.add_argument("--print", action="store_true", help="print the log to stdout too (always on here)")
    g.add_argument("--plot", action=argparse.BooleanOptionalAction, default=True,
                   help="write the PNG/HTML figures (--no-plot: results.json/csv only)")
    g.add_argument("--full_training", action="store_true",
                   help="the *_full_training.py baseline: plain models at the knapsack widths, trained from scratch")

    g = p.add_argument_group("port: solver, pretrained model, run layout")
    g.add_argument("--solver", default="dp", choices=["dp", "highs", "gurobi", "auto"],
                   help="dp = exact width dynamic program (default); highs = scipy.optimize.milp; gurobi = gurobipy "
                        "(its licence is checked against the knapsack's size before any training); auto = gurobi when "
                        "its licence fits, else dp with a warning")
    g.add_argument("--dp_max_budget_steps", type=rc.positive_int, default=400_000,
                   help="coarsen the DS-CNN DP budget axis beyond this (DS-CNN L); costs round up")
    g.add_argument("--out_dir", default=None, help="run folder (default runs/reds/<script>)")
    g.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    g.add_argument("--pretrained_weights", default=None,
                   help="weights of the pretrained model ('{size}' is replaced): ARM's checkpoint folder (.../ckpt), a "
                        "checkpoint prefix such as ds_cnn_0.94_ckpt, a Keras .h5/.keras; default: pretrain here for "
                        "--pretrain_epochs")
    g.add_argument("--pretrain_epochs", type=rc.positive_int, default=d["pretrain_epochs"])
    g.add_argument("--pretrain_learning_rate", type=rc.positive_float, default=d["pretrain_learning_rate"])
    g.add_argument("--head_stop_accuracy", type=rc.fraction, default=d["head_stop_accuracy"],
                   help="head fine-tuning early-stop target (default: the pretrained accuracy; vision scripts "
                        "hard-coded 0.905 / 0.80)")
    g.add_argument("--max_samples", type=rc.positive_int, default=None, help="cap on training samples (quick checks)")
    g.add_argument("--eval_every", type=rc.positive_int, default=1,
                   help="evaluate every subnetwork on the validation/test sets every N fine-tuning epochs and at the "
                        "last (the original: every epoch)")
    g.add_argument("--export_tflite", action=argparse.BooleanOptionalAction, default=True)
    g.add_argument("--tflm", action=argparse.BooleanOptionalAction, default=True,
                   help="with --export_tflite: each int8 subnetwork's smallest TFLite Micro arena and its flash bytes "
                        "(mlperf_tiny.tflm), beside the knapsack's parameter count")
    g.add_argument("--export_runtime_width", action=argparse.BooleanOptionalAction, default=True,
                   help="also one float TFLite holding every subnetwork, the active one an int32 input")
    g.add_argument("--configurations_indexes", default="0,1,2,3",
                   type=comma_list(int, "subnetwork indexes", lambda v: v >= 0, " >= 0"),
                   help="--full_training: which subnetworks to train (0 = full, then ascending budgets)")

    g = p.add_argument_group("port: faithful quirks (default) and their fixes")
    g.add_argument("--optimizer_fix", action="store_true", help="Q1: real Adam steps and lr schedule")
    g.add_argument("--consistent_permutation", action="store_true", help="Q3: function-preserving DS-CNN permutation")
    g.add_argument("--channel_aware_flatten_slice", action="store_true", help="Q4/Q5: slice flatten rows per channel")
    g.add_argument("--carry_residual", action="store_true", help="Q6: unused MACs carry over to the next budget")
    g.add_argument("--prefix_kernels", action="store_true", help="Q7: pointwise kernels tied to the active channels")
    g.add_argument("--td_nested", action="store_true", help="Q9: top-down bounds each budget by the larger one")
    g.add_argument("--memory_budget", default=None,
                   type=comma_list(float, "fractions", lambda v: 0 < v <= 1, " in (0, 1]"),
                   help="Q8: parameter budgets of the reduced subnetworks as fractions of the budgeted layers' "
                        "parameters, aligned with --constraints_percentages (default: unconstrained, faithful)")
    g.add_argument("--select_on_val", action="store_true", help="Q13: early stop and report on validation")
    g.add_argument("--score_training_mode", action=argparse.BooleanOptionalAction, default=True,
                   help="Q17: gradients for scores with training=True (BN statistics of the batch)")
    g.add_argument("--shuffle_each_epoch", action=argparse.BooleanOptionalAction, default=d["shuffle_each_epoch"],
                   help="reshuffle the training set every epoch (the vision scripts' tf.data shuffle; KWS keeps one "
                        "order, quirk Q23)")
    g.add_argument("--bn_mode", default="frozen_stats", choices=["frozen_stats", "per_subnet_recalib",
                                                                 "per_subnet_stats"],
                   help="Q2: frozen_stats = every subnetwork uses slices of the pretrained BN statistics (faithful); "
                        "per_subnet_recalib = after fine-tuning, each subnetwork gets the population statistics of "
                        "its own activations (a few floats per BN layer and subnetwork); per_subnet_stats = the same "
                        "at the start of every fine-tuning epoch instead, so each subnetwork trains with its own "
                        "statistics, and keeps those of the last epoch")
    g.add_argument("--final_bn_recalibration", action="store_true",
                   help="--bn_mode per_subnet_stats: recalibrate once more after the last epoch (statistics the "
                        "weights were never trained with; measured worse on Fashion-MNIST, reds/README.md)")
    g.add_argument("--bn_recalibration_samples", type=rc.positive_int, default=2000,
                   help="clean training samples each recalibration of --bn_mode per_subnet_* measures")
    p.set_defaults(script=d.get("script", "reds"))
    return p


def script(defaults, full_training_defaults, doc):
    """``(get_args_parser, main)`` of one of the original scripts, from its flag defaults and docstring."""

    def get_script_parser(add_help=True, full_training=False):
        merged = dict(defaults, **(full_training_defaults if full_training else {}))
        return get_args_parser(merged, add_help=add_help, description=doc.splitlines()[0])

    @rc.command
    def main(argv=None):
        argv = sys.argv[1:] if argv is None else list(argv)
        args = get_script_parser(full_training="--full_training" in argv).parse_args(argv)
        run(args)

    return get_script_parser, main


# ----------------------------------------------------------------------------------------------- checks


def validate_args(args):
    """Checks across flags (single values are checked by their argparse types); returns (percentages, sizes)."""
    percentages = _float_list(args.constraints_percentages)
    rc.check(len(percentages) == args.subnets_number - 1,
             f"--constraints_percentages has {len(percentages)} values; --subnets_number {args.subnets_number} "
             f"needs {args.subnets_number - 1}")
    rc.check(len(set(percentages)) == len(percentages),
             f"--constraints_percentages {args.constraints_percentages} repeats a budget")
    sizes = args.model_sizes.replace(" ", "").split(",")
    rc.check(args.dataset == "speech_commands" or sizes == ["s"],
             f"--model_sizes {args.model_sizes}: the vision scripts have only the DS-CNN S model (--model_sizes s)")
    rc.check(args.dataset == "speech_commands" or args.architecture_name == "ds_cnn",
             f"--architecture_name {args.architecture_name}: the vision scripts have only the DS-CNN")
    if args.memory_budget is not None:
        rc.check(len(_float_list(args.memory_budget)) == len(percentages),
                 f"--memory_budget needs {len(percentages)} fractions, one per --constraints_percentages value; got "
                 f"{args.memory_budget}")
    if args.full_training:
        bad = [i for i in _int_list(args.configurations_indexes) if i >= args.subnets_number]
        rc.check(not bad, f"--configurations_indexes {args.configurations_indexes}: only {args.subnets_number} "
                          f"subnetworks (0..{args.subnets_number - 1})")
    if args.dataset == "speech_commands":
        try:
            labels = speech_settings(args).labels
        except ValueError as err:
            raise rc.UsageError(str(err)) from None
        rc.check(args.classes == len(labels),
                 f"--classes {args.classes}: --wanted_words {args.wanted_words} gives {len(labels)} classes "
                 f"(the words, _silence_ and _unknown_)")
        rc.check(args.clip_duration_ms * args.sample_rate // 1000 > args.window_size_ms * args.sample_rate // 1000,
                 f"--window_size_ms {args.window_size_ms:g} does not fit a {args.clip_duration_ms} ms clip")
    else:
        rc.check(args.classes == VISION_CLASSES, f"--classes {args.classes}: {args.dataset} has {VISION_CLASSES}")
    return percentages, sizes


def require_data(args):
    """Fail before the run folder is claimed when the dataset folder is plainly missing (not its content)."""
    from reds.utils import datasets

    data_dir = Path(args.data_dir)
    if args.dataset == "speech_commands":
        from mlperf_tiny.keyword_spotting.get_dataset import LAYOUT_HELP, directory_layout_ok

        if not directory_layout_ok(data_dir):
            raise datasets.DatasetError(f"{data_dir} is not an extracted Speech Commands v0.02 folder. {LAYOUT_HELP}")
    elif args.dataset == "fashion_mnist":
        datasets.require_fashion_mnist(data_dir)
    else:
        rc.require_dir(data_dir, "CIFAR-10 folder (cifar-10-batches-py)",
                       "download it with `make mlperf-ic-data` or use data/mini/cifar-10-batches-py (`make mini-data`)",
                       must_contain=("data_batch_1", "test_batch"))


def input_shape_of(args):
    """The model input shape the flags imply (KWS: frames of the front end x MFCCs)."""
    if args.dataset != "speech_commands":
        return VISION_INPUT_SHAPES[args.dataset]
    samples = args.sample_rate * args.clip_duration_ms // 1000
    window = int(args.sample_rate * args.window_size_ms / 1000)
    stride = int(args.sample_rate * args.window_stride_ms / 1000)
    return (1 + (samples - window) // stride, args.dct_coefficient_count, 1)


def check_pretrained_weights(args, sizes):
    """Resolve ``--pretrained_weights`` for every size before any work: missing or unreadable files, another
    architecture or class count, or ARM's checkpoints with labels / features they were not trained on."""
    from reds.utils import checkpoints

    if not args.pretrained_weights:
        return
    for size in sizes:
        kind, path = checkpoints.resolve(args.pretrained_weights, size)
        if kind == "tf_checkpoint" and args.dataset == "speech_commands":
            wrong = [f"--{flag} {getattr(args, flag)}" for flag in ("label_order", "front_end")
                     if getattr(args, flag) != "arm"]
            rc.check(not wrong, f"{path}: ARM's checkpoints were trained with ARM's label order and front end; "
                                f"{' and '.join(wrong)} would score them on other labels/features (drop "
                                f"{' and '.join(w.split()[0] for w in wrong)})")
        model = model_builder(args, size, input_shape_of(args), len(class_names(args)))()
        checkpoints.load_pretrained(model, path)


def resolve_solver(args, sizes, log=print):
    """The knapsack solver to use: ``--solver gurobi`` / ``auto`` are checked against Gurobi's licence on this
    knapsack's size before any training (the pip licence stops at 2,000 variables / constraints)."""
    if args.solver not in ("gurobi", "auto"):
        return args.solver
    if args.gurobi_home:
        os.environ["GUROBI_HOME"] = args.gurobi_home
    if args.gurobi_license_file:
        os.environ["GRB_LICENSE_FILE"] = args.gurobi_license_file
    problems = []
    for size in sizes:
        model = model_builder(args, size, input_shape_of(args), len(class_names(args)))()
        problems.append((size, knapsack_problem(model, *zero_scores(model), args)))
    for size, problem in problems:
        fits, reason = ks.gurobi_fits(problem)
        if not fits:
            if args.solver == "auto":
                log(f"WARNING: --solver auto: {reason}; using the exact DP (--solver dp) instead")
                return "dp"
            raise rc.UsageError(f"--solver gurobi, size {size.upper()}: {reason}")
    return "gurobi"


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


def select_device(cuda_device):
    if cuda_device is not None and cuda_device >= 0:
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", str(cuda_device))


def load_data(args, cache_dir=None):
    from reds.utils import datasets

    if args.dataset == "speech_commands":
        data = datasets.load_speech_commands(args.data_dir, speech_settings(args), cache_dir=cache_dir,
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
        return datasets.VisionAugmentation(rotation_rad=FMNIST_ROTATION_RAD,
                                           rotation_probability=FMNIST_ROTATION_PROBABILITY, seed=seed)
    if args.dataset == "cifar10":
        return datasets.VisionAugmentation(seed=seed)
    if not kws_augmentation_on(args):
        return None
    return datasets.SpeechAugmentation(data["background_noise"], int(args.time_shift_ms * args.sample_rate / 1000),
                                       args.background_frequency, args.background_volume, speech_settings(args),
                                       seed=seed)


def speech_settings(args):
    """The KWS front end, classes and training-split composition of ``args``."""
    from reds.utils import datasets

    return datasets.SpeechSettings(args.window_size_ms, args.window_stride_ms, args.dct_coefficient_count,
                                   args.silence_percentage, args.unknown_percentage, args.wanted_words,
                                   args.label_order, args.front_end, args.sample_rate)


def class_names(args):
    """Class names by output index (KWS: ``--wanted_words`` in ``--label_order``; vision: the digits 0-9)."""
    if args.dataset == "speech_commands":
        return speech_settings(args).labels
    return [str(i) for i in range(VISION_CLASSES)]


def model_builder(args, size, input_shape, num_classes):
    from mlperf_tiny.registry import get_model_builder

    if args.dataset == "speech_commands":
        name = f"reds_{args.architecture_name}_{size}"
    else:
        name = "reds_vision_ds_cnn_s"
    builder = get_model_builder(name)
    return lambda widths=None: builder(widths=widths, input_shape=input_shape, num_classes=num_classes)


def zero_scores(model):
    """All-zero unit and pointwise-kernel scores of a model (the knapsack's size does not depend on them)."""
    from reds.utils.keyword_spotting_models import architecture

    arch = architecture(model)
    scores = {layer.name: np.zeros(layer.output_shape[-1]) for layer in model.layers
              if layer.name in arch.width_layers or layer.name.startswith("dw_")}
    pw_scores = None
    if arch.family == "ds_cnn":
        pw_scores = [np.zeros(model.get_layer(n).kernel.shape[2:][::-1]) for n in arch.width_layers[1:]]
    return scores, pw_scores


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


def head_layers(model, family):
    """Layers of the original's "head" phase: pointwise convs + their BN + classifier (CNN: the dense stack)."""
    names = ("pw_", "bn_pw_", "logits") if family == "ds_cnn" else ("linear", "dense_", "bn_3", "logits")
    return [layer for layer in model.layers if layer.name.startswith(names)]


@contextlib.contextmanager
def frozen_except(model, layers):
    """Every weighted layer of ``model`` outside ``layers`` is non-trainable inside the block, as the original's
    head phase set them: a frozen BN then runs in inference mode (pretrained statistics, not updated)."""
    keep = {id(layer) for layer in layers}
    frozen = [layer for layer in model.layers if layer.weights and id(layer) not in keep and layer.trainable]
    for layer in frozen:
        layer.trainable = False
    try:
        yield [v for layer in layers for v in layer.trainable_variables]
    finally:
        for layer in frozen:
            layer.trainable = True


BN_STATISTICS_FILE = "bn_statistics.npz"  # per-subnetwork BN statistics of a run with --bn_mode per_subnet_*


def bn_statistics_arrays(statistics):
    """{"<subnetwork>/<BN layer>/mean|variance": array} of ``RedsModel.bn_statistics``."""
    return {f"{s}/{name}/{kind}": np.asarray(value) for s, stats in enumerate(statistics)
            for name, pair in stats.items() for kind, value in zip(("mean", "variance"), pair)}


def bn_statistics_of(arrays, subnetworks):
    """The inverse of ``bn_statistics_arrays``: [{BN layer: (mean, variance)}] per subnetwork."""
    statistics = [{} for _ in range(subnetworks)]
    for key, value in arrays.items():
        s, name, kind = key.split("/")
        statistics[int(s)].setdefault(name, [None, None])[0 if kind == "mean" else 1] = value
    return [{name: tuple(pair) for name, pair in stats.items()} for stats in statistics]


def _save_arrays(path, arrays):
    with rc.atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def _load_arrays(path):
    """The arrays of an ``.npz`` a stage wrote, or None when it is missing (a truncated one is an error)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError) as err:
        raise rc.bad_file(path, f"unreadable stage file ({err})", "delete it to redo that stage") from err


# ------------------------------------------------------------------------------------------------ stages


@dataclass
class Run:
    """One experimental run of one model size: what every stage needs."""

    args: argparse.Namespace
    size: str
    index: int
    seed: int
    data: dict
    dir: Path
    size_dir: Path
    log: object
    build: object
    augment: object
    solver: str
    labels: list  # subnetwork labels, "100%" first, then the budgets

    @property
    def report_split(self):
        return "validation" if self.args.select_on_val else "test"

    @property
    def dataset_tag(self):
        return "mini" if "mini" in str(self.args.data_dir) else self.args.dataset


def pretrained_model(r):
    """Stage 1: the pretrained model and its accuracy (the head phase's early-stop target)."""
    from reds.utils import checkpoints, forward

    args, log = r.args, r.log
    model = r.build()
    saved = r.size_dir / "pretrained.weights.h5"
    if args.pretrained_weights:
        kind, path = checkpoints.load_pretrained(model, args.pretrained_weights, r.size)
        log(f"{model.name}: pretrained weights from {path} ({kind})")
    elif saved.is_file():
        checkpoints.load_pretrained(model, saved)
    else:
        log(f"no --pretrained_weights: pretraining {model.name} for {args.pretrain_epochs} epochs")
        forward.train_plain(model, r.data, args.pretrain_epochs, args.pretrain_learning_rate, args.batch_size, log,
                            augment=r.augment, seed=r.seed, desc="pretrain",
                            checkpoint=forward.PhaseCheckpoint(r.size_dir, "pretrain"))
        forward.recalibrate_batch_norm(model, r.data["train"][0])
        with rc.atomic_path(saved) as tmp:
            model.save_weights(str(tmp))
    accuracy = forward.plain_accuracy(model, *r.data[r.report_split])
    log(f"{model.name}: pretrained {r.report_split} accuracy {accuracy:.4f}")
    chance = 1.0 / model.output_shape[-1]
    if args.pretrained_weights and accuracy <= CHANCE_ACCURACY_FACTOR * chance:
        raise rc.RunFailed(
            f"{args.pretrained_weights} scores {accuracy:.1%} on the {r.report_split} set, about chance "
            f"({chance:.1%}): the checkpoint was trained on other labels or features (KWS: --label_order, "
            f"--wanted_words, --front_end, --window_stride_ms must be the checkpoint's)")
    return model, accuracy


def importance_and_head(r, model, pretrained_accuracy):
    """Stage 2: unit scores, permutation into sorted prefixes, head fine-tuning (CNN / DS-CNN) and the DS-CNN
    pointwise-kernel scores. Returns (permuted scores, pointwise scores or None, accuracy after permutation)."""
    from reds.utils import forward
    from reds.utils import importance_score as isc
    from reds.utils.keyword_spotting_models import architecture

    args, log = r.args, r.log
    arch = architecture(model)
    unit_file = r.dir / "unit_scores.npz"
    scores = _load_arrays(unit_file)
    if scores is None:
        scores = score_units(model, r.data, args, args.batch_size, r.augment, r.seed)
        _save_arrays(unit_file, scores)
    perms = isc.permute_model(model, scores, args.consistent_permutation, args.channel_aware_flatten_slice)
    scores = isc.permuted_scores(scores, perms)
    permuted_accuracy = forward.plain_accuracy(model, *r.data[r.report_split])
    log(f"after permutation: {r.report_split} accuracy {permuted_accuracy:.4f} "
        f"(drop {pretrained_accuracy - permuted_accuracy:+.4f})")

    if arch.family != "dnn" and args.finetune_head_epochs > 0:
        stop = args.head_stop_accuracy if args.head_stop_accuracy is not None else pretrained_accuracy
        with frozen_except(model, head_layers(model, arch.family)) as head_variables:
            forward.train_plain(model, r.data, args.finetune_head_epochs, _float_list(args.learning_rate)[0],
                                args.batch_size, log, trainable=head_variables, stop_accuracy=stop,
                                stop_split=r.report_split, augment=r.augment, seed=r.seed, desc="head",
                                checkpoint=forward.PhaseCheckpoint(r.dir, "head"))

    pw_scores = None
    if arch.family == "ds_cnn":
        pw_file = r.dir / "pointwise_scores.npz"
        saved = _load_arrays(pw_file)
        if saved is None:
            kernel_batches = forward.training_batches(r.data, args.batch_size, augment=r.augment,
                                                      augment_key=(r.seed, "pointwise kernel scores"))
            grads = isc.accumulate_gradients(model, kernel_batches, args.minibatch_number,
                                             training=args.score_training_mode)
            saved = {n: isc.unit_scores(grads[n], "pointwise") for n in arch.width_layers[1:]}
            _save_arrays(pw_file, saved)
        pw_scores = [saved[n] for n in arch.width_layers[1:]]
    return scores, pw_scores, permuted_accuracy


@dataclass
class KnapsackSolution:
    problem: object
    widths: list  # width tuples, the full model first, then ascending budgets
    targets: list
    memory_targets: list | None


def solve_knapsack(r, model, scores, pw_scores, percentages):
    """Stage 3: the iterative knapsack; a rerun reads the widths back from ``knapsack.json``."""
    from reds.utils.keyword_spotting_models import architecture

    args, log = r.args, r.log
    problem = knapsack_problem(model, scores, pw_scores, args)
    memory = memory_targets(problem, args)
    full = tuple(problem.sizes)
    path = r.dir / "knapsack.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        widths = [full] + [tuple(result["widths"]) for result in saved["results"]]
        log(f"knapsack: widths from {path}: {[list(w) for w in widths[1:]]}")
        return KnapsackSolution(problem, widths, saved["targets"], memory)
    results, targets = ks.iterative_knapsack(
        problem, percentages, bottom_up=args.bottom_up, solver=r.solver, solver_time_limit=args.solver_time_limit,
        solver_max_iterations=args.solver_max_iterations, carry_residual=args.carry_residual,
        td_nested=args.td_nested, log=log, max_budget_steps=args.dp_max_budget_steps, memory_targets=memory)
    violations = ks.nesting_violations([r_.widths for r_ in results] + [full])
    if violations:
        log(f"WARNING: subnetworks are not nested (layer, smaller, larger): {violations}")
    rc.write_json(path, {
        "total_macs": problem.total_macs(), "targets": targets, "percentages": percentages,
        "total_parameters": problem.total_memory(), "memory_targets": memory,
        "mode": "bottom_up" if args.bottom_up else "top_down", "results": [x.as_dict() for x in results],
        "nesting_violations": violations, "width_layers": list(architecture(model).width_layers)})
    return KnapsackSolution(problem, [full] + [x.widths for x in results], targets, memory)


def fine_tune(r, model, subnet_widths, params):
    """Stage 4: joint fine-tuning (conv/dense trainable, BN frozen), then BN-only fine-tuning. Returns the nested
    model, the final (accuracy, loss) per subnetwork and the accuracies with the BN statistics the last epoch used
    (before any recalibration after training)."""
    import tensorflow as tf

    from reds.utils import forward
    from reds.utils.keyword_spotting_models import architecture
    from reds.utils.reds_model import RedsModel

    args, log = r.args, r.log
    keras = tf.keras
    family = architecture(model).family
    reds_model = RedsModel(model, subnet_widths, args.channel_aware_flatten_slice)
    alphas = forward.loss_weights(params)
    lrs, steps = _float_list(args.learning_rate), _int_list(args.training_steps)
    not_bn = [v for layer in model.layers if not isinstance(layer, keras.layers.BatchNormalization)
              for v in layer.trainable_variables]
    statistics_file = r.dir / BN_STATISTICS_FILE

    def recalibrate_and_save():
        reds_model.recalibrate_batch_norm(r.data["train"][0][: args.bn_recalibration_samples])
        _save_arrays(statistics_file, bn_statistics_arrays(reds_model.bn_statistics))

    def per_subnet_stats(phase_epochs):
        """``on_epoch_start`` of --bn_mode per_subnet_stats: each epoch trains with the statistics of the weights it
        starts with (saved, so a phase finished before a resume ends with the ones its last epoch used)."""
        def on_epoch_start(epoch):
            saved = _load_arrays(statistics_file) if epoch > phase_epochs else None
            if saved is None:
                recalibrate_and_save()
            else:
                reds_model.set_bn_statistics(bn_statistics_of(saved, len(subnet_widths)))
        return on_epoch_start if args.bn_mode == "per_subnet_stats" and family != "dnn" else None

    last = forward.train_joint(reds_model, not_bn, r.data, alphas, args.epochs,
                               forward.make_optimizer(lrs, steps, args.optimizer_fix), args.batch_size, r.dir, "joint",
                               log, args.shuffle_each_epoch, r.augment, r.seed, r.labels, args.eval_every,
                               per_subnet_stats(args.epochs))
    if args.finetune_batch_norm_epochs > 0 and family != "dnn":
        bn_vars = [v for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
                   for v in (layer.gamma, layer.beta)]
        bn_opt = forward.make_optimizer([args.batch_norm_learning_rate], [], args.optimizer_fix)
        last = forward.train_joint(reds_model, bn_vars, r.data, alphas, args.finetune_batch_norm_epochs, bn_opt,
                                   args.batch_size, r.dir, "batch_norm", log, args.shuffle_each_epoch, r.augment,
                                   r.seed, r.labels, args.eval_every, per_subnet_stats(args.finetune_batch_norm_epochs))
    final = last[r.report_split]
    training_stats_accuracy = [a for a, _ in final]
    if family != "dnn" and (args.bn_mode == "per_subnet_recalib"
                            or args.bn_mode == "per_subnet_stats" and args.final_bn_recalibration):
        recalibrate_and_save()
        final = forward.evaluate(reds_model, *r.data[r.report_split])
        log("per-subnetwork BN statistics recalibrated after training: " + ", ".join(
            f"{label} {before:.4f} -> {after:.4f}" for label, before, (after, _) in
            zip(r.labels, training_stats_accuracy, final)))
    return reds_model, final, training_stats_accuracy


def evaluate_and_deploy(r, model, reds_model, solution, subnet_widths, final, training_stats_accuracy, params):
    """Stage 5: per subnetwork the true MACs, budget checks, accuracy, int8 TFLite; the nested-model switch time
    and the run-time-width flatbuffer. Returns (rows, switch figures)."""
    from reds.utils.deploy import CALIBRATION_SAMPLES, export_subnetwork, nested_switch_us, tflite_switch_ms
    from reds.utils.reds_model import extract_subnetwork

    args, log = r.args, r.log
    subs = [extract_subnetwork(model, w, r.build, args.channel_aware_flatten_slice, reds_model._statistics(s))
            for s, w in enumerate(subnet_widths)]
    rows, contents = [], []
    calibration = r.data["train"][0][:CALIBRATION_SAMPLES]
    problem, memory = solution.problem, solution.memory_targets
    total = problem.total_macs()
    for s, (label, sub, widths) in enumerate(zip(r.labels, subs, solution.widths)):
        true_macs = knapsack_layer_macs(sub)
        target = total if s == 0 else solution.targets[s - 1]
        row = {"subnetwork": label, "mac_percentage": 100.0 * true_macs / total, "widths": list(widths),
               "target_macs": target, "knapsack_layer_macs": true_macs,
               "knapsack_model_macs": problem.macs(widths), "within_budget": bool(true_macs <= target),
               "params": params[s], "accuracy": final[s][0], "loss": final[s][1], "split": r.report_split,
               "accuracy_training_bn_statistics": training_stats_accuracy[s],
               "knapsack_model_parameters": problem.memory(widths)}
        if memory is not None and s:
            row["memory_target"] = memory[s - 1]
            row["within_memory_budget"] = bool(row["knapsack_model_parameters"] <= memory[s - 1])
        if args.export_tflite:
            content, deploy = export_subnetwork(sub, f"{model.name}_{label.rstrip('%')}pct", r.dir / "tflite",
                                                calibration, *r.data["test"])
            contents.append(content)
            row.update(deploy)
            if args.tflm:
                row.update(tflm_figures(deploy["tflite"]))
        rows.append(row)
        log(f"{label}: widths {list(widths)}, {true_macs} MACs ({row['mac_percentage']:.1f}%), {params[s]} params, "
            f"{r.report_split} accuracy {final[s][0]:.4f}" + (f", int8 TFLite {row['tflite_bytes']} B acc "
                                                               f"{row['tflite_accuracy']:.4f}" if contents else "")
            + (f", TFLite Micro arena {row['tflm_arena_bytes']} B" if "tflm_arena_bytes" in row else "")
            + (f", TFLite Micro refuses it: {row['tflm_error']}" if "tflm_error" in row else ""))
    switch = nested_switch_us(reds_model, r.data["test"][0])
    if contents:
        switch["tflite_interpreter_switch_ms"] = tflite_switch_ms(contents)
    if args.export_tflite and args.export_runtime_width:
        switch["runtime_width_tflite"] = runtime_width_export(model, reds_model, subnet_widths, args, r.data, r.dir,
                                                              r.labels, log)
    return rows, switch


TFLM_KEYS = ("tflm_arena_bytes", "tflm_activation_bytes", "tflm_persistent_bytes", "tflm_flash_bytes")


def tflm_figures(tflite_path):
    """TFLite Micro's figures for one int8 subnetwork file (``mlperf_tiny.tflm.measure``): the smallest arena that
    runs it (SRAM: planned activations + persistent structs) and the flatbuffer (flash). The knapsack's memory is
    another quantity: the parameters of the budgeted layers (``knapsack_model_parameters``, int8: one byte each, part
    of the flash), so the arena is reported beside it, not checked against it. A model TFLite Micro refuses gets
    ``tflm_error`` (the one-line reason) instead."""
    from mlperf_tiny import tflm

    try:
        measured = tflm.measure(tflite_path)
    except tflm.UnsupportedModel as err:
        return {"tflm_error": str(err)}
    return dict(zip(TFLM_KEYS, (measured["arena_bytes"], measured["activation_bytes"], measured["persistent_bytes"],
                                measured["flatbuffer_bytes"])))


def prepare_run(args, size, run, data, out_dir, log, solver):
    from mlperf_tiny.run_utils import set_seed

    seed = args.seed + run
    set_seed(seed)
    input_shape = data["train"][0].shape[1:]
    percentages = _float_list(args.constraints_percentages)
    run_dir = out_dir / size / f"run{run}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return Run(args, size, run, seed, data, run_dir, out_dir / size, log,
               model_builder(args, size, input_shape, len(class_names(args))), augmentation(args, data, seed), solver,
               ["100%"] + [f"{p:.0%}" for p in percentages])


def run_one(args, size, run, data, out_dir, log, solver=None):
    """One experimental run of one size, stage by stage; returns its metrics (read back when already done)."""
    from reds.utils.reds_model import extract_subnetwork, kernel_parameter_count, subnetwork_widths

    r = prepare_run(args, size, run, data, out_dir, log, solver or args.solver)
    done = r.dir / "metrics.json"
    if done.is_file():
        log(f"size {size.upper()} run {run}: already done ({done})")
        return json.loads(done.read_text())
    percentages = _float_list(args.constraints_percentages)

    model, pretrained_accuracy = pretrained_model(r)
    scores, pw_scores, permuted_accuracy = importance_and_head(r, model, pretrained_accuracy)
    solution = solve_knapsack(r, model, scores, pw_scores, percentages)
    subnet_widths = subnetwork_widths(model, solution.widths)
    params = [kernel_parameter_count(extract_subnetwork(model, w, r.build, args.channel_aware_flatten_slice))
              for w in subnet_widths]
    if args.full_training:
        return full_training(r, subnet_widths, solution, pretrained_accuracy)

    reds_model, final, training_stats_accuracy = fine_tune(r, model, subnet_widths, params)
    rows, switch = evaluate_and_deploy(r, model, reds_model, solution, subnet_widths, final, training_stats_accuracy,
                                       params)
    metrics = {"model": model.name, "size": size, "run": run, "seed": r.seed, "dataset": r.dataset_tag,
               "pretrained_accuracy": pretrained_accuracy, "permuted_accuracy": permuted_accuracy,
               "bn_mode": args.bn_mode, "subnetworks": rows, **switch}
    rc.write_csv(r.dir / "subnetworks.csv", rows, fieldnames=_fieldnames(rows))
    rc.write_json(done, metrics)
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


def full_training(r, subnet_widths, solution, pretrained_accuracy):
    """Scratch baseline: plain models at the knapsack widths (Q20: regenerated, not the hard-coded table)."""
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    from reds.utils import forward
    from reds.utils.reds_model import kernel_parameter_count

    args, log = r.args, r.log
    rows = []
    total = solution.problem.total_macs()
    for index in _int_list(args.configurations_indexes):
        model = r.build(widths=subnet_widths[index])
        # the original exported the (untrained, float) TFLite before training
        save_tflite(convert_to_tflite(model, int8=False),
                    r.dir / "knapsack_solver" / f"{model.name}_{r.labels[index].rstrip('%')}pct_macs.tflite")
        accuracy = forward.train_plain(model, r.data, args.epochs, _float_list(args.learning_rate)[0],
                                       args.batch_size, log, augment=r.augment, seed=r.seed,
                                       desc=f"scratch {r.labels[index]}", stop_split=r.report_split,
                                       checkpoint=forward.PhaseCheckpoint(r.dir, f"scratch_{index}"))
        macs = knapsack_layer_macs(model)
        rows.append({"subnetwork": r.labels[index], "widths": list(subnet_widths[index].values()),
                     "mac_percentage": 100.0 * macs / total, "knapsack_layer_macs": macs,
                     "params": kernel_parameter_count(model), "accuracy": accuracy})
        log(f"scratch {r.labels[index]}: accuracy {accuracy:.4f}")
    metrics = {"full_training": True, "subnetworks": rows, "pretrained_accuracy": pretrained_accuracy,
               "dataset": r.dataset_tag}
    rc.write_csv(r.dir / "subnetworks.csv", rows, fieldnames=_fieldnames(rows))
    rc.write_json(r.dir / "metrics.json", metrics)
    return metrics


def _fieldnames(rows):
    return list(dict.fromkeys(k for row in rows for k in row))


def accuracy_non_decreasing(rows):
    """True when the (mean) accuracy never drops as the MAC percentage grows (ties allowed)."""
    accuracies = [r["accuracy"] for r in sorted(rows, key=lambda r: r["mac_percentage"])]
    return all(a <= b for a, b in zip(accuracies, accuracies[1:]))


def summarise(all_metrics, out_dir, log, mini, name="REDS", plot=True):
    """Mean +- std over runs per size and subnetwork -> results.json / results.csv (/ plots)."""
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
    paths = []
    if plot:
        from reds.utils.plots import plot_results

        paths = plot_results(rows_by_model, out_dir / "plots", f" — {name}" + (" (mini data)" if mini else ""))
    rc.write_csv(out_dir / "results.csv", summary, fieldnames=_fieldnames(summary))
    rc.write_json(out_dir / "results.json", {"dataset": "mini" if mini else "full", "sizes": per_size,
                                             "subnetworks": summary})
    return paths


def run(args):
    """Run the pipeline for every size and experimental run; returns {size: [metrics per run]}."""
    _, sizes = validate_args(args)
    check_pretrained_weights(args, sizes)
    solver = resolve_solver(args, sizes, log=lambda text: print(text, file=sys.stderr))
    require_data(args)
    select_device(args.cuda_device)
    out_dir = Path(args.out_dir or Path("runs") / "reds" / args.script)
    state = rc.claim_run_dir(out_dir, args, ignore=RUN_IDENTITY_IGNORE, overwrite=args.overwrite)
    experiment = f"{args.script}{'_full_training' if args.full_training else ''}"
    log = setup_logging(out_dir, experiment).info
    log(f"{experiment} ({'resuming' if state == 'resume' else 'new run'} in {out_dir}): {' '.join(sys.argv[1:])}")
    data = load_data(args, cache_dir=out_dir.parent / "feature_cache")
    log("data: " + ", ".join(f"{k} {v[0].shape}" for k, v in data.items() if isinstance(v, tuple)))
    all_metrics = {}
    for size in sizes:
        for run_index in range(args.experimental_runs):
            all_metrics.setdefault(size, []).append(run_one(args, size, run_index, data, out_dir, log, solver))
    summarise(all_metrics, out_dir, log, "mini" in str(args.data_dir), experiment, plot=args.plot)
    return all_metrics
