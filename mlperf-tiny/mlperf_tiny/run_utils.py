"""Run bookkeeping shared by the TF pipelines: seeds, saved args, metrics, resumable Keras training, plots.

Every run directory ends up with ``args.json`` (resolved flags + provenance, written by
``run_contract.claim_run_dir``), ``history.csv`` (one row per epoch, kept across resumes), ``metrics.json``
(latest epoch's metrics), ``last.weights.h5`` (the resume point: weights, epoch count, optimizer state and
dropout generator states) + ``last_epoch.json``, and optionally ``best.weights.h5``. Every file is written
atomically (temporary name, then rename), so a failed save leaves the previous one intact.

Resuming exactly: ``resume_initial_epoch`` restores the optimizer too, and the data order of an epoch depends on
(seed, epoch) only (``epoch_seeded_batches`` for arrays, ``epoch_seeded_shuffle`` for tf.data,
``keras_iterator_batches`` for ImageDataGenerator iterators), so a run killed mid-epoch continues with the batches
it would have seen.
"""


import json
import os
import platform
import random
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

LAST_WEIGHTS = "last.weights.h5"
LAST_EPOCH = "last_epoch.json"
BEST_WEIGHTS = "best.weights.h5"
HISTORY_CSV = "history.csv"
METRICS_JSON = "metrics.json"
ARGS_JSON = "args.json"
RUNS_ENV = "TINYML_RUNS"  # root of evaluation outputs when no --out_dir is given (default: ./runs)


def set_seed(seed):
    """Seed python, numpy and TensorFlow (imports TF: these utilities serve the TF pipelines)."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import tensorflow as tf

    tf.random.set_seed(seed)
    # tf.keras.utils.set_random_seed, called earlier in the process (a test, a notebook), leaves Keras drawing every
    # unseeded initializer's seed from its own python generator, which tf.random.set_seed does not reset: back to a
    # fresh process's state, so a run started in-process trains as the same command run as a program.
    try:
        from tf_keras.src import backend as keras_backend
    except ImportError:  # another Keras: nothing to reset
        return
    if getattr(keras_backend._SEED_GENERATOR, "generator", None) is not None:
        keras_backend._SEED_GENERATOR.generator = None


def write_json(path, obj):
    """Write ``obj`` as indented JSON atomically (``run_contract.write_json``; a crash never leaves half a file)."""
    import run_contract as rc

    return rc.write_json(path, obj)


def read_json(path):
    return json.loads(Path(path).read_text())


def git_revision():
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def provenance():
    """Versions and code revision recorded beside every run."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("tensorflow-cpu", "tensorflow", "tf-keras", "numpy", "ai-edge-litert", "mlperf-tiny"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    return {"git_sha": git_revision(), "python": sys.version.split()[0], "platform": platform.platform(),
            "packages": versions, "argv": sys.argv}


def save_args(args, out_dir):
    """Write the resolved flags (an argparse Namespace or dict) plus provenance to ``out_dir/args.json``."""
    values = vars(args) if not isinstance(args, dict) else args
    return write_json(Path(out_dir) / ARGS_JSON, {**values, "_provenance": provenance()})


def resume_initial_epoch(out_dir, model, restore_optimizer=True):
    """If ``out_dir`` holds a resume point, load it into ``model`` and return the number of epochs done (else 0).

    The resume point (``last.weights.h5``) holds the weights, the epoch count and, when the model was compiled,
    the optimizer's variables (Adam's step and moments) and the states of seeded dropout generators
    (``resumable_dropout``): with ``restore_optimizer`` and a compiled model they are restored too, so training
    continues as if it had not stopped. ``history.csv`` is cut back to the epochs done.
    """
    out_dir = Path(out_dir)
    weights = out_dir / LAST_WEIGHTS
    if not weights.exists():
        return 0
    epochs_done = load_resume_point(weights, model, restore_optimizer=restore_optimizer)
    if epochs_done is None:  # a resume point from before the epoch count lived in it
        epochs_done = int(read_json(out_dir / LAST_EPOCH)["epochs_done"]) if (out_dir / LAST_EPOCH).exists() else 0
    trim_history(out_dir / HISTORY_CSV, epochs_done)
    return epochs_done


# ------------------------------------------------------------------------------------ atomic Keras saving
RESUME_GROUP = "resume_state"  # extra HDF5 group beside the Keras weights; Keras' loader ignores it


def save_model(model, path, **kwargs):
    """``model.save(path)`` written under a temporary name and renamed: a failed save (disk full, kill) leaves
    the previous file or SavedModel folder intact. The format follows the suffix (.h5/.hdf5, .keras, none)."""
    import run_contract as rc

    with rc.atomic_path(path) as tmp:
        model.save(str(tmp), **kwargs)
    return Path(path)


def _optimizer_variables(model):
    optimizer = getattr(model, "optimizer", None)
    return list(optimizer.variables) if optimizer is not None and hasattr(optimizer, "variables") else []


def _random_generators(model):
    """tf.random.Generator objects of seeded dropout layers (``resumable_dropout``), in layer order."""
    generators = []
    for layer in model.submodules:
        random_generator = getattr(layer, "_random_generator", None)
        if getattr(random_generator, "_rng_type", None) != "stateful":
            continue
        random_generator._maybe_init()  # generators are created lazily at the first call
        if random_generator._generator is not None:
            generators.append(random_generator._generator)
    return generators


def save_resume_point(model, path, epochs_done=None):
    """Weights + epoch count + optimizer variables + dropout generator states in one HDF5 file, atomically."""
    import h5py
    import run_contract as rc

    with rc.atomic_path(path) as tmp:
        model.save_weights(str(tmp))
        with h5py.File(tmp, "a") as f:
            group = f.create_group(RESUME_GROUP)
            if epochs_done is not None:
                group.attrs["epochs_done"] = int(epochs_done)
            optimizer = group.create_group("optimizer")
            for i, variable in enumerate(_optimizer_variables(model)):
                optimizer.create_dataset(f"{i:04d}", data=variable.numpy())
            generators = group.create_group("random_generators")
            for i, generator in enumerate(_random_generators(model)):
                generators.create_dataset(f"{i:04d}", data=generator.state.numpy())
    return Path(path)


def load_resume_point(path, model, restore_optimizer=True):
    """Load a ``save_resume_point`` file (or plain Keras weights) into ``model``; returns its epoch count or None.

    A truncated or foreign file is a one-line ``run_contract.UsageError`` naming it.
    """
    import h5py
    import run_contract as rc

    path = Path(path)
    if restore_optimizer and getattr(model, "optimizer", None) is not None and len(_optimizer_variables(model)) <= 1:
        with model.distribute_strategy.scope():  # built first, so Keras' own loader does not skip its variables
            model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(str(path))
    except Exception as err:  # noqa: BLE001 (h5py/Keras raise OSError, ValueError, KeyError for broken files)
        raise rc.bad_file(path, f"unusable resume point ({type(err).__name__}: {' '.join(str(err).split())[:160]})",
                          "delete it to start the run again, or rerun with --overwrite") from err
    with h5py.File(path, "r") as f:
        if RESUME_GROUP not in f:
            return None
        group = f[RESUME_GROUP]
        epochs_done = int(group.attrs["epochs_done"]) if "epochs_done" in group.attrs else None
        saved_optimizer = [group["optimizer"][k][()] for k in sorted(group["optimizer"])]
        saved_generators = [group["random_generators"][k][()] for k in sorted(group["random_generators"])]
    if restore_optimizer and saved_optimizer and getattr(model, "optimizer", None) is not None:
        _restore_optimizer(model, saved_optimizer, path)
    generators = _random_generators(model)
    if len(generators) == len(saved_generators):
        for generator, state in zip(generators, saved_generators):
            generator.state.assign(state)
    return epochs_done


def _restore_optimizer(model, values, path):
    variables = _optimizer_variables(model)
    if [tuple(v.shape) for v in variables] != [tuple(np.shape(v)) for v in values]:
        import warnings

        warnings.warn(f"{path}: the saved optimizer state does not fit this optimizer; it restarts", stacklevel=3)
        return
    for variable, value in zip(variables, values):
        variable.assign(value)


def resumable_dropout():
    """Make dropout draw from tf.random.Generator objects (call before building the model): their states are
    saved in the resume point, so a resumed run draws the same masks as an uninterrupted one."""
    import tensorflow as tf

    tf.keras.backend.experimental.enable_tf_random_generator()


def trim_history(history_csv, epochs_done):
    """Drop rows of epochs not in the resume point (a run killed after logging an epoch it did not save)."""
    import csv

    history_csv = Path(history_csv)
    if not history_csv.exists():
        return
    with open(history_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [row for row in rows if row.get("epoch", "").isdigit() and int(row["epoch"]) < epochs_done]
    if len(kept) != len(rows):
        import run_contract as rc

        rc.write_csv(history_csv, kept, fieldnames=list(rows[0]) if rows else None)


def _append_history(history_csv, epoch, logs):
    """history.csv (CSVLogger's columns: epoch, then the sorted metrics) rewritten atomically with this epoch."""
    import csv

    import run_contract as rc

    rows = []
    if history_csv.exists():
        with open(history_csv, newline="") as f:
            rows = [row for row in csv.DictReader(f) if row.get("epoch", "").isdigit() and int(row["epoch"]) < epoch]
    row = {"epoch": epoch, **{k: logs[k] for k in sorted(logs)}}
    fieldnames = list(dict.fromkeys([*(rows[0] if rows else {}), *row]))
    rc.write_csv(history_csv, [*rows, row], fieldnames=fieldnames)


def training_callbacks(out_dir, monitor=None, mode="max", extra_metrics=None, progress=True, total_epochs=None):
    """Keras callbacks that make a ``fit`` resumable and leave its metrics beside the checkpoint.

    monitor: metric name that selects ``best.weights.h5`` (e.g. "val_accuracy"); None keeps only the last.
    extra_metrics: dict merged into every metrics.json (e.g. {"dataset": "mini"}).
    Every file is written atomically, in an order that keeps them consistent if the process dies at any point:
    history.csv, metrics.json, best weights, then the resume point (weights, epoch count, optimizer state).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    callbacks = [_EpochCheckpoint(out_dir, monitor, mode, extra_metrics or {})]
    if progress:
        callbacks.append(_EpochProgress(total_epochs))
    return callbacks


def _EpochCheckpoint(out_dir, monitor, mode, extra_metrics):  # noqa: N802 (class factory; keeps TF import lazy)
    import tensorflow as tf

    class EpochCheckpoint(tf.keras.callbacks.Callback):
        """Saves history.csv, metrics.json, best weights and the resume point at the end of every epoch."""

        def __init__(self):
            super().__init__()
            state = read_json(out_dir / LAST_EPOCH) if (out_dir / LAST_EPOCH).exists() else {}
            self.best = state.get("best")

        def _improved(self, value):
            if self.best is None:
                return True
            return value > self.best if mode == "max" else value < self.best

        def on_epoch_end(self, epoch, logs=None):
            try:
                self._save(epoch, logs)
            except BaseException:
                close_progress_bars()  # the error line then starts a line of its own
                raise

        def _save(self, epoch, logs):
            import run_contract as rc

            logs = {k: float(v) for k, v in (logs or {}).items()}
            _append_history(out_dir / HISTORY_CSV, epoch, logs)
            rc.write_json(out_dir / METRICS_JSON, {"epoch": epoch + 1, **logs, **extra_metrics,
                                                   "best": {monitor: self.best} if monitor else None})
            if monitor is not None and monitor in logs and self._improved(logs[monitor]):
                self.best = logs[monitor]
                with rc.atomic_path(out_dir / BEST_WEIGHTS) as tmp:
                    self.model.save_weights(str(tmp))
            # The resume point is written last: a crash before it resumes from the previous epoch, and the
            # rows logged for this epoch are then dropped (trim_history).
            save_resume_point(self.model, out_dir / LAST_WEIGHTS, epochs_done=epoch + 1)
            rc.write_json(out_dir / LAST_EPOCH, {"epochs_done": epoch + 1, "best": self.best})

    return EpochCheckpoint()


def close_progress_bars():
    """Close every open tqdm bar (a failure inside ``fit`` leaves the epoch bar open, mid-line)."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def _EpochProgress(total_epochs):  # noqa: N802
    import tensorflow as tf
    from tqdm import tqdm

    class EpochProgress(tf.keras.callbacks.Callback):
        """One tqdm bar over epochs with the latest metrics (use with fit(verbose=0) or verbose=2)."""

        def on_train_begin(self, logs=None):
            total = total_epochs or self.params.get("epochs")
            self.bar = tqdm(total=total, desc="epochs", unit="epoch", dynamic_ncols=True)

        def on_epoch_begin(self, epoch, logs=None):
            if self.bar.n < epoch:  # resumed run: skip the epochs already done
                self.bar.update(epoch - self.bar.n)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in (logs or {}).items()})
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochProgress()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi=120):
    """``fig.savefig`` under a temporary name, renamed into place (a failed write keeps the previous plot)."""
    import run_contract as rc

    with rc.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return path


def plot_history(history_csv, out_png, title):
    """Training curves (loss and every accuracy-like column, train and val) from a CSVLogger file."""
    import csv

    with open(history_csv) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{history_csv} has no epochs to plot")
    plt = _pyplot()
    epochs = [int(r["epoch"]) + 1 for r in rows]
    def numeric(column):
        # CSVLogger writes "NA" for val_* columns when fit has no validation data.
        return all(r[column] not in ("", "NA") for r in rows)

    metrics = [k for k in rows[0] if k not in ("epoch", "lr") and not k.startswith("val_") and numeric(k)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        ax.plot(epochs, [float(r[metric]) for r in rows], label=f"train {metric}")
        if f"val_{metric}" in rows[0] and numeric(f"val_{metric}"):
            ax.plot(epochs, [float(r[f"val_{metric}"]) for r in rows], label=f"val {metric}")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, out_png)
    plt.close(fig)
    return out_png


def plot_confusion_matrix(y_true, y_pred, labels, out_png, title):
    """Row-normalised confusion matrix with counts annotated."""
    plt = _pyplot()
    n = len(labels)
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(0.6 * n + 3, 0.6 * n + 2.5))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, out_png)
    plt.close(fig)
    return counts


def plot_roc(curves, out_png, title):
    """ROC curves: ``curves`` maps a label to (fpr, tpr, auc)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for label, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{label} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_png)
    plt.close(fig)
    return out_png


def distribute_strategy(name):
    """``default`` (one device, the default strategy) or ``mirrored`` (all local GPUs, tf.distribute).

    Shared by the training scripts' strategy flag (``--distribute`` in IC/VWW, ``--strategy`` in KWS/AD).
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raise ValueError(f"unknown distribution strategy {name!r}: use default or mirrored")


def run_cli(stage, args, user_errors=(FileNotFoundError, ValueError)):
    """Deprecated compatibility alias (trecx still calls it): run ``stage(args)`` under ``run_contract.command``.

    ``user_errors`` become ``error: ...`` with exit code 2, every other failure one line with exit code 1 (a
    traceback only with ``--debug``/``TINYML_DEBUG=1``). New code decorates ``main`` with ``@rc.command``.
    """
    import run_contract as rc

    @rc.command
    def contract_main(argv=None):
        try:
            stage(args)
        except user_errors as err:
            raise rc.UsageError(str(err)) from err

    return contract_main(["--debug"] if getattr(args, "debug", False) else [])


# --------------------------------------------------------------------------------- evaluation outputs
def runs_root():
    """Where results go when a command is given no output directory: ``$TINYML_RUNS``, else ``./runs``."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


def default_eval_dir(task, model_path):
    """``<runs root>/eval/<task>/<model name>``: evaluation results never go into the model's own folder (it may
    be someone else's, or read-only)."""
    model_path = Path(model_path)
    name = model_path.name[: -len(model_path.suffix)] if model_path.suffix else model_path.name
    return runs_root() / "eval" / task / name


def add_eval_output_args(parser, task):
    """``--out_dir`` (default ``default_eval_dir(task, model)``) and ``--overwrite`` of an evaluation script."""
    parser.add_argument("--out_dir", default=None,
                        help=f"where metrics and plots go (default: runs/eval/{task}/<model name>; $TINYML_RUNS "
                             f"replaces runs)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace results of another model or data already in --out_dir")


def claim_eval_dir(out_dir, tag, args, identity, overwrite=False):
    """Claim ``out_dir`` for the results tagged ``tag`` (``<tag>_args.json`` records who made them).

    Rerunning the same evaluation replaces its results; results of another model or data are refused (one line,
    naming what differs) unless ``overwrite``, which replaces only this tag's record, never the folder (it may
    hold a training run). Returns "new" or "resume".
    """
    import run_contract as rc

    args_file = f"{tag}_{ARGS_JSON}"
    if overwrite:
        (Path(out_dir) / args_file).unlink(missing_ok=True)
    return rc.claim_run_dir(out_dir, args, identity=list(identity), args_file=args_file)


# ------------------------------------------------------------------------------------- epoch-seeded data
def epoch_seed(seed, epoch):
    """The shuffling seed of one epoch: the order depends on (seed, epoch) only, so a resumed run sees it too."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0] & 0x7FFFFFFF)


def epoch_seeded_batches(x, y, batch_size, seed, initial_epoch, epochs, shuffle=True):
    """(tf.data of (x, y) batches covering epochs ``initial_epoch .. epochs - 1``, steps per epoch) for numpy
    arrays, each epoch in the order ``np.random.RandomState(epoch_seed(seed, epoch)).permutation``. Fit it with
    ``steps_per_epoch``; the arrays are indexed lazily (no copy into the graph)."""
    import tensorflow as tf

    n = len(x)
    steps = -(-n // batch_size)

    def epoch_indices(epoch):
        order = np.random.RandomState(epoch_seed(seed, int(epoch))).permutation(n) if shuffle else np.arange(n)
        return order.astype(np.int64)

    def gather(indices):
        return x[indices], y[indices]

    def epoch_batches(epoch):
        indices = tf.numpy_function(epoch_indices, [epoch], tf.int64)
        indices.set_shape([n])
        return tf.data.Dataset.from_tensor_slices(indices).batch(batch_size)

    def load(indices):
        bx, by = tf.numpy_function(gather, [indices], [tf.as_dtype(x.dtype), tf.as_dtype(y.dtype)])
        bx.set_shape([None, *x.shape[1:]])
        by.set_shape([None, *y.shape[1:]])
        return bx, by

    dataset = tf.data.Dataset.range(initial_epoch, epochs).flat_map(epoch_batches).map(load)
    return dataset.prefetch(tf.data.AUTOTUNE), steps


def epoch_seeded_shuffle(dataset, buffer_size, seed, initial_epoch, epochs, batch_size=None):
    """Repeat a finite tf.data ``dataset`` for epochs ``initial_epoch .. epochs - 1``, shuffling each epoch with
    ``epoch_seed(seed, epoch)``: the same elements in the same order whether or not the run was resumed.
    ``batch_size``: batch each epoch's shuffled elements (batches never straddle two epochs). Fit with
    ``steps_per_epoch`` = the number of batches per epoch."""
    def one_epoch(epoch):
        shuffled = dataset.shuffle(buffer_size, seed=epoch_seed(seed, epoch), reshuffle_each_iteration=False)
        return shuffled.batch(batch_size) if batch_size else shuffled

    # tf.data takes a shuffle seed as a Python int only, so the epochs are concatenated (pairwise: depth log2 n).
    parts = [one_epoch(epoch) for epoch in range(initial_epoch, max(epochs, initial_epoch + 1))]
    while len(parts) > 1:
        parts = [a.concatenate(b) for a, b in zip(parts[::2], parts[1::2])] + (parts[-1:] if len(parts) % 2 else [])
    return parts[0]


_GLOBAL_RNG_LOCK = threading.Lock()


def _iterator_epoch(iterator, seed, epoch):
    """One epoch of a Keras ImageDataGenerator iterator (``flow``/``flow_from_directory``): its order and every
    batch's augmentation drawn from (seed, epoch, batch index) only."""
    base = epoch_seed(seed, epoch)
    order = np.random.RandomState(base).permutation(iterator.n) if iterator.shuffle else np.arange(iterator.n)
    for index in range(len(iterator)):
        # The random transforms draw from numpy's global RNG: seeding and drawing are one step, or the training
        # and validation streams (two tf.data threads) would interleave their draws.
        with _GLOBAL_RNG_LOCK:
            np.random.seed((base + index) % 2**32)
            batch = iterator._get_batches_of_transformed_samples(
                order[index * iterator.batch_size : (index + 1) * iterator.batch_size])
        yield batch


def _signature_of(batch):
    import tensorflow as tf

    return tuple(tf.TensorSpec((None, *np.shape(part)[1:]), tf.as_dtype(np.asarray(part).dtype)) for part in batch)


def keras_iterator_batches(iterator, seed, initial_epoch, epochs):
    """(tf.data stream of the batches of epochs ``initial_epoch .. epochs - 1``, steps per epoch) of a Keras
    ImageDataGenerator iterator, each epoch's order and augmentation a function of (seed, epoch): a resumed run
    trains on the batches an uninterrupted one would. Fit it with ``steps_per_epoch``.

    (Given the iterator itself, Keras reads a few batches ahead through an iterator it then discards, so the
    augmentation drawn for an epoch depends on thread timing and no run is reproducible.)"""
    import tensorflow as tf

    def stream():
        for epoch in range(initial_epoch, epochs):
            yield from _iterator_epoch(iterator, seed, epoch)

    signature = _signature_of(next(_iterator_epoch(iterator, seed, 0)))
    return tf.data.Dataset.from_generator(stream, output_signature=signature).prefetch(2), len(iterator)


def keras_iterator_fit_data(train_flow, val_flow, seed, initial_epoch, epochs, exact_resume):
    """What ``fit`` gets for Keras ImageDataGenerator iterators: ``(x, steps_per_epoch, validation_data,
    validation_steps, extra callbacks)``.

    exact_resume=False: the iterators themselves, as the v0.5 scripts (Keras' own stream: a resumed run gets the
    weights and Adam state back, not the augmentation it would have drawn). True: ``keras_iterator_batches`` /
    ``keras_iterator_validation``, each epoch drawn from (seed, epoch) only, so a resumed run trains on exactly the
    batches an uninterrupted one would; a different random stream, hence other numbers than the default.
    """
    if not exact_resume:
        return train_flow, len(train_flow), val_flow, (len(val_flow) if val_flow is not None else None), []
    train_batches, steps = keras_iterator_batches(train_flow, seed, initial_epoch, epochs)
    if val_flow is None:
        return train_batches, steps, None, None, []
    val_data, val_steps, set_val_epoch = keras_iterator_validation(val_flow, seed)
    return train_batches, steps, val_data, val_steps, [set_val_epoch]


def keras_iterator_validation(iterator, seed):
    """(tf.data of one epoch of a (possibly augmenting) validation iterator, its steps, a callback): each epoch's
    validation batches are drawn from (seed, epoch) only. Pass the callback to ``fit`` with the dataset."""
    import tensorflow as tf

    epoch_now = [0]

    class SetValidationEpoch(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epoch_now[0] = epoch

    signature = _signature_of(next(_iterator_epoch(iterator, seed, 0)))
    dataset = tf.data.Dataset.from_generator(lambda: _iterator_epoch(iterator, seed, epoch_now[0]),
                                             output_signature=signature)
    return dataset, len(iterator), SetValidationEpoch()
