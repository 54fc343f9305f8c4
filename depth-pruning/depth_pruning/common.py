"""What the VWW and KWS prune scripts share: flags, base-model loading, resumable staged training, results.

Run folder ``<train_dir>/<ckpt_name>/``: ``args.json``, ``history.csv`` + ``metrics.json`` (per epoch),
``last.weights.h5`` (resume point), ``best.weights.h5`` (best validation accuracy, as the original's
``save_best_only`` checkpoint), ``<ckpt_name>_modelinfo.log`` (model summaries, as the original),
``model.h5`` (the pruned model with the best weights) and ``result.json`` (cut, head, counts, accuracies).
Every file is written atomically; the run folder is claimed (``run_contract.claim_run_dir``) before anything is
written: the same command resumes, another one is refused unless ``--overwrite``.
"""

import argparse
import contextlib
import io
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

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
    parser.add_argument("--aux_arch", default=DEFAULT_AUX_ARCH, type=rc.name_in(AUX_ARCHS, "aux head"),
                        help=f"aux head: {', '.join(AUX_ARCHS)}")
    parser.add_argument("--train_dir", default="aux_models/test_models", help="output root")
    parser.add_argument("--ckpt_name", default=None, help="run name (default: <cut>_<aux_arch>[_unfrozen])")
    parser.add_argument("--base_model_path", default=None,
                        help="trained base model (.h5 or SavedModel dir): mlperf-tiny's, or the MLPerf Tiny "
                             "reference (vww_96.h5, kws_ref_model/); required unless --nopretrained")
    add_bool_flag(parser, "--nopretrained", False,
                  "random-tail control: a freshly initialised base of --arch instead of the trained one")
    parser.add_argument("--arch", default=default_arch, help="base architecture for --nopretrained")
    add_bool_flag(parser, "--frozen_head", True,
                  "freeze the base layers kept before the cut (the paper's 'tail', with BN in inference mode)")
    parser.add_argument("--aux_bn_momentum", type=rc.float_range(0, 1, hi_open=True), default=KERAS_BN_MOMENTUM,
                        help="BN momentum of the aux head (original: Keras default 0.99; mini runs use 0.9)")
    if with_seed:  # the KWS parser (mlperf_tiny kws_util) already has --seed
        parser.add_argument("--seed", type=rc.nonnegative_int, default=0)
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini if the path says so)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    add_exact_resume_flag(parser)
    parser.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return parser


def add_exact_resume_flag(parser):
    parser.add_argument("--exact_resume", action="store_true",
                        help="draw each epoch's VWW batches and augmentation and the tail's dropout masks from (seed, "
                             "epoch), so a run resumed after a kill ends as an uninterrupted one (another random "
                             "stream than the default: other numbers)")


def seed_run(args):
    """Seed python/numpy/TF (first: loading and building draw initial values) and, with --exact_resume, make
    dropout draw from generators whose states the resume point keeps."""
    from mlperf_tiny import run_utils

    run_utils.set_seed(args.seed)
    if args.exact_resume:
        run_utils.resumable_dropout()


def run_dir_of(args):
    if not args.ckpt_name:
        args.ckpt_name = f"{args.attach_tensor_name}_{args.aux_arch}" + ("" if args.frozen_head else "_unfrozen") + (
            "_random" if args.nopretrained else "")
    return Path(args.train_dir) / args.ckpt_name


def dataset_label(data_dir, explicit=None):
    if explicit:
        return explicit
    return "mini" if "mini" in Path(data_dir).resolve().parts else "full"


BASE_HINTS = {
    "vww": "a trained MobileNetV1-0.25: `make mlperf-vww` trains one, or take the reference vww_96.h5",
    "kws": "a trained DS-CNN: `make mlperf-kws` trains one, or take the reference kws_ref_model/ SavedModel",
}


def require_base_path(path, task):
    """The base path is given and exists: checked before anything heavy (seeding imports TF, and the seed has to
    precede the load, which draws initial values)."""
    if not path:
        raise rc.UsageError(f"--base_model_path is required ({BASE_HINTS[task]}), or pass --nopretrained")
    if not Path(path).exists():
        raise rc.UsageError(f"{path}: base model not found; {BASE_HINTS[task]}")


def load_base_model(args, build_fresh, task, channels=None):
    """The trained base (``--base_model_path``, checked to be a Keras model of ``task`` before any work) or, with
    --nopretrained, ``build_fresh(args.arch)``. ``channels``: the image channels the data has (VWW)."""
    from mlperf_tiny import model_io

    if args.nopretrained:
        print(f"random-tail control: untrained {args.arch} base")
        return build_fresh(args.arch)
    hint = BASE_HINTS[task]
    if not args.base_model_path:
        raise rc.UsageError(f"--base_model_path is required ({hint}), or pass --nopretrained")
    loaded = model_io.check_model_task(model_io.load_model(args.base_model_path, hint), task, hint)
    if loaded.keras_model is None:
        raise rc.bad_file(args.base_model_path, f"is a {loaded.kind} model; depth pruning cuts a Keras model "
                                                f"(.h5 or a Keras SavedModel)", hint)
    if channels is not None and loaded.input_shape[-1] != channels:
        raise rc.bad_file(args.base_model_path, f"takes {loaded.input_shape[-1]}-channel images, the data is read "
                                                f"with {channels} (--color_mode)", hint)
    return loaded.keras_model


def describe_cut(base, pruned, cut, aux_arch):
    """One line with the counts before and after the cut (printed by the prune scripts)."""
    from mlperf_tiny.counting import count_params

    before, after = count_params(base), count_params(pruned)
    return (f"base {base.name}: {before:,} params -> cut {cut} + {aux_arch} head: {after:,} params "
            f"({100 * (after / before - 1):+.1f}%)")


def resolve_cut_or_usage_error(base, cut):
    """``pruning.resolve_cut`` with an unknown cut reported as a usage error."""
    from depth_pruning.pruning import cut_name_of_layer, resolve_cut

    try:
        layer_name = resolve_cut(base, cut)
    except ValueError as err:
        raise rc.UsageError(f"--attach_tensor_name: {err}") from None
    return layer_name, cut_name_of_layer(base, layer_name) or layer_name


def claim_run(args, run_dir, ignore=("verbose", "skip_image_check", "no_progress")):
    """Claim ``run_dir`` for this command (resume the same run, refuse another unless --overwrite).

    Returns True when the run already finished (its ``result.json`` exists): nothing is left to do."""
    state = rc.claim_run_dir(run_dir, args, ignore=ignore, overwrite=args.overwrite)
    return state == "resume" and (Path(run_dir) / RESULT_FILE).is_file()


def write_model_info(run_dir, ckpt_name, *models):
    """The original's ``<ckpt>_modelinfo.log``: the Keras summaries."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        for model in models:
            model.summary()
    rc.write_text(Path(run_dir) / f"{ckpt_name}_modelinfo.log", buffer.getvalue())


def train_stages(model, train_data, val_data, run_dir, stages, loss, dataset, verbose=2, extra_callbacks=(), seed=0,
                 exact_resume=False):
    """Staged ``fit`` that resumes after the last finished epoch.

    stages: [(epochs, learning rate)]; the model is re-compiled at each stage, so Adam restarts, as the
    original's successive ``train_epochs`` calls; a run resumed inside a stage gets that stage's Adam state back
    from the resume point. Best weights by ``val_accuracy`` go to best.weights.h5. Keras image iterators (VWW) go
    through ``run_utils.keras_iterator_fit_data``: Keras' own stream by default, with ``exact_resume`` each epoch's
    order and augmentation drawn from (seed, epoch) only, so a resumed run trains on what an uninterrupted one
    would; tf.data inputs (KWS) keep their fixed order.
    """
    import tensorflow as tf
    from mlperf_tiny import run_utils

    total = int(sum(epochs for epochs, _ in stages))
    callbacks = run_utils.training_callbacks(run_dir, monitor="val_accuracy", extra_metrics={"dataset": dataset},
                                             total_epochs=total) + list(extra_callbacks)
    image_iterator = isinstance(train_data, tf.keras.preprocessing.image.Iterator)
    epochs_done, end = None, 0
    for epochs, learning_rate in stages:
        first, end = end, end + epochs
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
        if epochs_done is None:  # the weights of the resume point (0: a new run)
            epochs_done = run_utils.resume_initial_epoch(run_dir, model, restore_optimizer=False)
            if epochs_done:
                print(f"resuming {run_dir} after epoch {epochs_done}")
        if epochs_done >= end:
            continue
        if epochs_done > first:  # resumed inside this stage: its Adam state is in the resume point
            run_utils.resume_initial_epoch(run_dir, model)
        start = max(epochs_done, first)
        if image_iterator:
            x, steps, val, val_steps, extra = run_utils.keras_iterator_fit_data(train_data, val_data, seed, start, end,
                                                                               exact_resume)
        else:
            x, steps, val, val_steps, extra = train_data, None, val_data, None, []
        model.fit(x, steps_per_epoch=steps, epochs=end, initial_epoch=start, validation_data=val,
                  validation_steps=val_steps, callbacks=[*extra, *callbacks], verbose=verbose)
        epochs_done = end
    best = Path(run_dir) / run_utils.BEST_WEIGHTS
    if best.exists():
        model.load_weights(str(best))
    return model


def finish_run(model, run_dir, record, title=None):
    """Save the best pruned model and its result record (counts + accuracies); ``title`` names the curves plot."""
    from mlperf_tiny.counting import count_flops, count_macs, count_params
    from mlperf_tiny.run_utils import plot_history

    run_dir = Path(run_dir)
    with rc.atomic_path(run_dir / MODEL_FILE) as tmp:
        model.save(str(tmp))
    record = {**record, "params": count_params(model), "macs": int(count_macs(model)), "flops": count_flops(model)}
    history = run_dir / "history.csv"
    if history.exists():
        suffix = " (mini data)" if record.get("dataset") == "mini" else ""
        title = title or f"{record['cut']} + {record['aux_arch']}"
        with rc.atomic_path(run_dir / "training_curves.png") as tmp:
            plot_history(history, tmp, f"{title}{suffix}")
    rc.write_json(run_dir / RESULT_FILE, record)  # last: its presence marks the run as finished
    print(f"{run_dir}: val accuracy {record['val_accuracy']:.4f}, {record['params']:,} params, "
          f"{record['flops']:,} FLOPs")
    return record


def finished_result(run_dir):
    """The record of a run that already finished (rerunning its command does nothing more)."""
    from mlperf_tiny.run_utils import read_json

    record = read_json(Path(run_dir) / RESULT_FILE)
    print(f"{run_dir}: already finished (result.json); nothing to do (--overwrite to redo it)")
    return record
