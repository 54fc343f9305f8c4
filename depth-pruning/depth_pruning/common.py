"""What the VWW and KWS prune scripts share: flags, base-model loading, resumable staged training, results.

Run folder ``<train_dir>/<ckpt_name>/``: ``args.json``, ``history.csv`` + ``metrics.json`` (per epoch),
``last.weights.h5`` (resume point), ``best.weights.h5`` (best validation accuracy, as the original's
``save_best_only`` checkpoint), ``<ckpt_name>_modelinfo.log`` (model summaries, as the original),
``model.h5`` (the pruned model with the best weights) and ``result.json`` (cut, head, counts, accuracies).
"""

import argparse
import contextlib
import io
import sys
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from depth_pruning.aux_models import AUX_ARCHS, DEFAULT_AUX_ARCH, KERAS_BN_MOMENTUM

MODEL_FILE = "model.h5"
RESULT_FILE = "result.json"


def parse_bool(value):
    """The original's "True"/"False" strings (and yes/no/1/0)."""
    lowered = str(value).strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {value!r}")


def add_bool_flag(parser, name, default, help):
    """``--name`` / ``--no-name`` plus the original spelling ``--name True|False``."""
    dest = name.lstrip("-")
    parser.add_argument(name, dest=dest, nargs="?", const=True, default=default, type=parse_bool,
                        help=f"{help} (default {default}; also --{dest} True|False as the original)")
    parser.add_argument(f"--no-{dest}", dest=dest, action="store_false", help=argparse.SUPPRESS)


def add_pruning_args(parser, default_arch, with_seed=True):
    """Flags common to the VWW and KWS prune scripts (the original's names)."""
    parser.add_argument("--attach_tensor_name", "--cut", dest="attach_tensor_name", default="block5",
                        help="cut point: conv1, block1..blockN, a layer name, or the original's activation_N")
    parser.add_argument("--aux_arch", default=DEFAULT_AUX_ARCH, choices=list(AUX_ARCHS), help="aux head")
    parser.add_argument("--train_dir", default="aux_models/test_models", help="output root")
    parser.add_argument("--ckpt_name", default=None, help="run name (default: <cut>_<aux_arch>[_unfrozen])")
    parser.add_argument("--base_model_path", default=None,
                        help="trained base model (.h5 or SavedModel dir) from mlperf-tiny; required unless "
                             "--nopretrained")
    add_bool_flag(parser, "--nopretrained", False,
                  "random-tail control: a freshly initialised base of --arch instead of the trained one")
    parser.add_argument("--arch", default=default_arch, help="base architecture for --nopretrained")
    add_bool_flag(parser, "--frozen_head", True,
                  "freeze the base layers kept before the cut (the paper's 'tail', with BN in inference mode)")
    parser.add_argument("--aux_bn_momentum", type=float, default=KERAS_BN_MOMENTUM,
                        help="BN momentum of the aux head (original: Keras default 0.99; mini runs use 0.9)")
    if with_seed:  # the KWS parser (mlperf_tiny kws_util) already has --seed
        parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini if the path says so)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    return parser


def run_dir_of(args):
    if not args.ckpt_name:
        args.ckpt_name = f"{args.attach_tensor_name}_{args.aux_arch}" + ("" if args.frozen_head else "_unfrozen") + (
            "_random" if args.nopretrained else "")
    return Path(args.train_dir) / args.ckpt_name


def dataset_label(data_dir, explicit=None):
    if explicit:
        return explicit
    return "mini" if "mini" in Path(data_dir).resolve().parts else "full"


def load_base_model(args, build_fresh):
    """The trained base (``--base_model_path``) or, with --nopretrained, ``build_fresh(args.arch)``."""
    import tensorflow as tf

    if args.nopretrained:
        print(f"random-tail control: untrained {args.arch} base")
        return build_fresh(args.arch)
    if not args.base_model_path:
        raise ValueError("--base_model_path is required (a trained base from mlperf-tiny; "
                         "`make mlperf-vww` / `make mlperf-kws` trains one), or pass --nopretrained")
    path = Path(args.base_model_path)
    if not path.exists():
        raise FileNotFoundError(f"no base model at {path}: train it first (make mlperf-vww / mlperf-kws)")
    try:
        return tf.keras.models.load_model(str(path), compile=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot load base model {path}: {err}. Is it a Keras .h5 or SavedModel?") from err


def write_model_info(run_dir, ckpt_name, *models):
    """The original's ``<ckpt>_modelinfo.log``: the Keras summaries."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        for model in models:
            model.summary()
    (Path(run_dir) / f"{ckpt_name}_modelinfo.log").write_text(buffer.getvalue())


def train_stages(model, train_data, val_data, run_dir, stages, loss, dataset, verbose=2, extra_callbacks=(),
                 steps=None):
    """Staged ``fit`` that resumes after the last finished epoch.

    stages: [(epochs, learning rate)]; the model is re-compiled at each stage, so Adam restarts, as the
    original's successive ``train_epochs`` calls. Best weights by ``val_accuracy`` go to best.weights.h5.
    """
    import tensorflow as tf
    from mlperf_tiny import run_utils

    epochs_done = run_utils.resume_initial_epoch(run_dir, model)
    if epochs_done:
        print(f"resuming {run_dir} after epoch {epochs_done}")
    total = int(sum(epochs for epochs, _ in stages))
    callbacks = run_utils.training_callbacks(run_dir, monitor="val_accuracy", extra_metrics={"dataset": dataset},
                                             total_epochs=total) + list(extra_callbacks)
    end = 0
    for epochs, learning_rate in stages:
        first, end = end, end + epochs
        if epochs_done >= end:
            continue
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
        model.fit(train_data, epochs=end, initial_epoch=max(epochs_done, first), validation_data=val_data,
                  callbacks=callbacks, verbose=verbose, steps_per_epoch=steps)
        epochs_done = end
    best = Path(run_dir) / run_utils.BEST_WEIGHTS
    if best.exists():
        model.load_weights(str(best))
    return model


def finish_run(model, run_dir, record, title=None):
    """Save the best pruned model and its result record (counts + accuracies); ``title`` names the curves plot."""
    from mlperf_tiny.counting import count_flops, count_macs, count_params
    from mlperf_tiny.run_utils import plot_history, write_json

    run_dir = Path(run_dir)
    tmp = run_dir / (MODEL_FILE + ".tmp.h5")
    model.save(str(tmp))
    tmp.replace(run_dir / MODEL_FILE)
    record = {**record, "params": count_params(model), "macs": int(count_macs(model)), "flops": count_flops(model)}
    write_json(run_dir / RESULT_FILE, record)
    history = run_dir / "history.csv"
    if history.exists():
        suffix = " (mini data)" if record.get("dataset") == "mini" else ""
        title = title or f"{record['cut']} + {record['aux_arch']}"
        plot_history(history, run_dir / "training_curves.png", f"{title}{suffix}")
    print(f"{run_dir}: val accuracy {record['val_accuracy']:.4f}, {record['params']:,} params, "
          f"{record['flops']:,} FLOPs")
    return record


def run_main(prune, argv, parser):
    """Parse, run ``prune(args)``, and turn data/model problems into a clear message and exit code 2."""
    args = parser.parse_args(argv)
    try:
        return prune(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
