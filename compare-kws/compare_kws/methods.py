"""The four methods, each run by its own subproject's command from the same base, and the models they produce.

A ``Stage`` is one trained artefact (one cut, one sparsity, the T-RECX model, the REDS run): ``argv`` is the
subproject command's flags (checked with that command's own parser before the comparison writes anything),
``produce()`` runs the command (the subprojects resume their own runs and skip finished ones) and returns the
points it yields (``point``). Subproject runs live under ``<out_dir>/<method>/`` with their usual outputs.
"""

import argparse
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from compare_kws import adapters

METHODS = ("magnitude_no_finetune", "magnitude", "depth_pruning", "trecx", "reds")
TRAINING_FREE = ("magnitude_no_finetune",)
NUM_CLASSES = 12
INPUT_SHAPE = (49, 10, 1)
# The front end mlperf_tiny's KWS base is trained on (kws_util defaults): REDS must read the same features.
MLPERF_WINDOW_MS, MLPERF_STRIDE_MS = 30, 20
REDS_SIZE = "s"  # the ARM DS-CNN S REDS builds is the MLPerf DS-CNN's layout (64 filters, 4 blocks, 10x4/2 stem)
REDS_FIXED_FLAGS = ("--data_dir", "--out_dir", "--model_sizes", "--pretrained_weights", "--front_end", "--label_order",
                    "--window_size_ms", "--window_stride_ms", "--constraints_percentages", "--subnets_number",
                    "--seed", "--experimental_runs", "--full_training", "--bn_mode", "--max_samples")


@dataclass
class Context:
    """What every stage needs: the comparison's flags, its folder, the base (path and Keras model)."""

    args: argparse.Namespace
    out_dir: Path
    base_path: Path
    base: object  # the Keras base model
    mini: bool

    def kws_flags(self, epochs):
        """mlperf_tiny KWS flags shared by the depth-pruning, magnitude and T-RECX commands."""
        a = self.args
        flags = ["--data_dir", str(a.data_dir), "--epochs", str(epochs), "--batch_size", str(a.batch_size),
                 "--seed", str(a.seed)]
        if a.num_train_samples != -1:
            flags += ["--num_train_samples", str(a.num_train_samples)]
        return flags + (["--mini"] if self.mini else [])


@dataclass
class Stage:
    name: str
    method: str
    parser: object = None  # the subproject command's get_args_parser (None: nothing to run)
    argv: list = field(default_factory=list)
    produce: object = None

    def check(self):
        """Parse ``argv`` with the subproject's own parser (one-line error, exit 2, before anything is written)."""
        if self.parser is not None:
            return self.parser().parse_args(self.argv)
        return None


def point(name, setting, model, model_file, kind="single", reported_accuracy=None):
    """One trained model to measure: kind "single" or "early_exit"; ``reported_accuracy``: the subproject's own
    test accuracy of it, where it reports one (a cross-check of the common measurement)."""
    return {"point": name, "setting": setting, "model": model, "model_file": str(model_file), "kind": kind,
            "reported_accuracy": reported_accuracy}


def extra_flags(text):
    return shlex.split(text or "")


def run_command(main, argv, what):
    """Run a subproject command's unwrapped main in this process: its errors surface as this command's."""
    code = main.__wrapped__(argv)
    if isinstance(code, int) and code != 0:
        raise rc.RunFailed(f"{what} exited with {code}")


def clear_keras():
    import gc

    import tensorflow as tf

    tf.keras.backend.clear_session()
    gc.collect()


def load_keras(path):
    import tensorflow as tf

    return tf.keras.models.load_model(str(path), compile=False)


def sparsity_tag(sparsity):
    return f"{round(100 * sparsity):02d}"


# ------------------------------------------------------------------------------------ magnitude pruning
def magnitude_prune(model, sparsity):
    """A copy of ``model`` with the smallest-magnitude ``sparsity`` of each weight tfmot would prune set to zero,
    without any training. The weights are the ones tfmot's ``prune_low_magnitude`` wraps (conv and dense kernels;
    tfmot 0.8 prunes no depthwise kernel), per layer, as its ConstantSparsity schedule ends: the
    ``round((1 - s) n)`` largest |w| of each kernel are kept (ties at the threshold kept too)."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import PruneLowMagnitude

    pruned = tf.keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(tf.keras.models.clone_model(model))
    prunable = {layer.layer.name: {w.name.split("/")[-1] for w in layer.layer.get_prunable_weights()}
                for layer in wrapped.layers if isinstance(layer, PruneLowMagnitude)}
    for layer in pruned.layers:
        names = prunable.get(layer.name)
        if not names:
            continue
        values = []
        for weight in layer.weights:
            value = weight.numpy()
            if weight.name.split("/")[-1] in names:
                keep = int(round((1.0 - sparsity) * value.size))
                threshold = np.sort(np.abs(value), axis=None)[value.size - keep] if keep else np.inf
                value = np.where(np.abs(value) >= threshold, value, 0).astype(value.dtype)
            values.append(value)
        layer.set_weights(values)
    return pruned


def magnitude_no_finetune_stage(ctx, sparsity):
    name = f"magnitude_no_finetune_{sparsity_tag(sparsity)}"

    def produce():
        from mlperf_tiny.run_utils import save_model

        model = magnitude_prune(ctx.base, sparsity)
        path = save_model(model, ctx.out_dir / "magnitude_no_finetune" / f"{name}.h5")
        return [point(name, f"sparsity {sparsity:g}, no fine-tuning", model, path)]

    return Stage(name, "magnitude_no_finetune", produce=produce)


def magnitude_stage(ctx, sparsity):
    from depth_pruning.kws import prune_kws_mag

    name = f"magnitude_{sparsity_tag(sparsity)}"
    train_dir = ctx.out_dir / "magnitude"
    argv = [*ctx.kws_flags(ctx.args.finetune_epochs), "--base_model_path", str(ctx.base_path), "--train_dir",
            str(train_dir), "--ckpt_name", name, "--pruning_scheme", "constant", "--end_sparsity", str(sparsity),
            "--verbose", "0", *extra_flags(ctx.args.magnitude_args)]

    def produce():
        run_command(prune_kws_mag.main, argv, f"magnitude pruning to sparsity {sparsity:g}")
        run = train_dir / name
        result = json.loads((run / "result.json").read_text())
        return [point(name, f"sparsity {sparsity:g}, fine-tuned (tfmot)", load_keras(run / "model.h5"),
                      run / "model.h5", reported_accuracy=result.get("test_accuracy"))]

    return Stage(name, "magnitude", prune_kws_mag.get_args_parser, argv, produce)


# ------------------------------------------------------------------------------------------ depth pruning
def depth_stage(ctx, cut):
    from depth_pruning.kws import prune_kws_aux

    name = f"depth_pruning_{cut}"
    train_dir = ctx.out_dir / "depth_pruning"
    argv = [*ctx.kws_flags(ctx.args.finetune_epochs), "--base_model_path", str(ctx.base_path),
            "--attach_tensor_name", cut, "--train_dir", str(train_dir), "--ckpt_name", cut, "--verbose", "0",
            *extra_flags(ctx.args.depth_args)]

    def produce():
        run_command(prune_kws_aux.main, argv, f"depth pruning at {cut}")
        run = train_dir / cut
        result = json.loads((run / "result.json").read_text())
        return [point(name, f"cut {cut} + {result['aux_arch']} head", load_keras(run / "model.h5"), run / "model.h5",
                      reported_accuracy=result.get("test_accuracy"))]

    return Stage(name, "depth_pruning", prune_kws_aux.get_args_parser, argv, produce)


# ------------------------------------------------------------------------------------------------- T-RECX
TRECX_ARCHITECTURE = "ds_cnn_ev"
TRECX_RUN = "model_with_ev_assist"


def trecx_stage(ctx):
    from trecx.keyword_spotting import train_dscnn

    train_dir = ctx.out_dir / "trecx"
    argv = [*ctx.kws_flags(ctx.args.finetune_epochs), "--model_architecture", TRECX_ARCHITECTURE, "--isTrecx",
            "--isEV", "--model_save_name", TRECX_RUN, "--out_dir", str(train_dir), "--verbose", "0",
            *extra_flags(ctx.args.trecx_args)]

    def produce():
        from trecx.helpers import FINAL_WEIGHTS, load_trained

        with adapters.trecx_from_base(ctx.base):
            run_command(train_dscnn.main, argv, "T-RECX training")
        run = train_dir / TRECX_RUN
        model = load_trained(TRECX_ARCHITECTURE, run, INPUT_SHAPE, NUM_CLASSES)
        return [point("trecx", "early exit + EV, from the base", model, run / FINAL_WEIGHTS, kind="early_exit")]

    return Stage("trecx", "trecx", train_dscnn.get_args_parser, argv, produce)


# --------------------------------------------------------------------------------------------------- REDS
def reds_argv(ctx, base_file):
    a = ctx.args
    budgets = ",".join(f"{b:g}" for b in a.reds_budgets)
    argv = ["--data_dir", str(a.data_dir), "--out_dir", str(ctx.out_dir / "reds"), "--model_sizes", REDS_SIZE,
            "--pretrained_weights", str(base_file), "--front_end", "mlperf", "--label_order", "mlperf",
            "--window_size_ms", str(MLPERF_WINDOW_MS), "--window_stride_ms", str(MLPERF_STRIDE_MS),
            "--constraints_percentages", budgets, "--subnets_number", str(len(a.reds_budgets) + 1),
            "--seed", str(a.seed), "--experimental_runs", "1", "--no-export_runtime_width"]
    if a.num_train_samples != -1:
        argv += ["--max_samples", str(a.num_train_samples)]
    extra = extra_flags(a.reds_args)
    fixed = [flag for flag in extra if flag.split("=")[0] in REDS_FIXED_FLAGS]
    rc.check(not fixed, f"--reds_args: {', '.join(fixed)} is set by the comparison (the base, data, front end, "
                        f"budgets and a frozen-statistics run it can extract subnetworks from)")
    return argv + extra


def reds_subnetworks(reds_args, run_dir, labels):
    """The fine-tuned REDS subnetworks as plain Keras models, rebuilt from the run's files: the nested model's last
    phase weights (its resume point) sliced to the knapsack's widths (reds' own builder and extraction)."""
    from reds.utils.forward import PhaseCheckpoint
    from reds.utils.keyword_spotting_models import architecture
    from reds.utils.reds_model import extract_subnetwork, subnetwork_widths

    from reds import pipeline

    build = pipeline.model_builder(reds_args, REDS_SIZE, INPUT_SHAPE, NUM_CLASSES)
    model = build()
    phase = "batch_norm" if reds_args.finetune_batch_norm_epochs > 0 else "joint"
    weights = rc.require_file(PhaseCheckpoint(run_dir, phase).path, f"REDS {phase} weights")
    model.load_weights(str(weights))
    knapsack = json.loads((run_dir / "knapsack.json").read_text())
    full = tuple(model.get_layer(n).filters for n in architecture(model).width_layers)
    widths = subnetwork_widths(model, [full] + [tuple(r["widths"]) for r in knapsack["results"]])
    subs = [extract_subnetwork(model, w, build, reds_args.channel_aware_flatten_slice) for w in widths]
    return dict(zip(labels, subs))


def reds_stage(ctx):
    from reds import kws_convolution_depthwise, pipeline

    base_file = ctx.base_path
    if not (base_file.is_file() and base_file.suffix in (".h5", ".keras")):
        base_file = ctx.out_dir / "reds" / "base_model.h5"  # reds reads .h5 weights: a copy of a SavedModel base
    argv = reds_argv(ctx, base_file)

    def check():
        reds_args = kws_convolution_depthwise.get_args_parser().parse_args(argv)
        pipeline.validate_args(reds_args)
        return reds_args

    def produce():
        from mlperf_tiny.run_utils import save_model

        reds_args = check()
        if not base_file.is_file():
            save_model(ctx.base, base_file)
        with adapters.reds_mlperf_front_end():
            run_command(kws_convolution_depthwise.main, argv, "REDS")
        run_dir = ctx.out_dir / "reds" / REDS_SIZE / "run0"
        metrics = json.loads((run_dir / "metrics.json").read_text())
        labels = [row["subnetwork"] for row in metrics["subnetworks"]]
        reported = {row["subnetwork"]: row["accuracy"] for row in metrics["subnetworks"]}
        subs = reds_subnetworks(reds_args, run_dir, labels)
        points = []
        for label, sub in subs.items():
            path = ctx.out_dir / "reds" / "subnetworks" / f"reds_{label.rstrip('%')}pct.h5"
            save_model(sub, path)
            points.append(point(f"reds_{label.rstrip('%')}pct", f"{label} MACs budget", sub, path,
                                reported_accuracy=reported[label]))
        return points

    stage = Stage("reds", "reds", None, argv, produce)
    stage.check = check
    return stage


# ---------------------------------------------------------------------------------------------- the list
def stages(ctx, methods):
    """Every stage of ``methods`` in the comparison's order."""
    a = ctx.args
    out = []
    for method in methods:
        if method == "magnitude_no_finetune":
            out += [magnitude_no_finetune_stage(ctx, s) for s in a.sparsities]
        elif method == "magnitude":
            out += [magnitude_stage(ctx, s) for s in a.sparsities]
        elif method == "depth_pruning":
            out += [depth_stage(ctx, cut) for cut in a.cuts]
        elif method == "trecx":
            out.append(trecx_stage(ctx))
        elif method == "reds":
            out.append(reds_stage(ctx))
    return out
