"""Run bookkeeping shared by the TF pipelines: seeds, saved args, metrics, resumable Keras training, plots.

Every run directory ends up with ``args.json`` (resolved flags + provenance), ``history.csv`` (one row per
epoch, appended across resumes), ``metrics.json`` (latest epoch's metrics, rewritten atomically each epoch),
``last.weights.h5`` + ``last_epoch.json`` (resume point) and optionally ``best.weights.h5``.
"""


import json
import os
import platform
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

LAST_WEIGHTS = "last.weights.h5"
LAST_EPOCH = "last_epoch.json"
BEST_WEIGHTS = "best.weights.h5"
HISTORY_CSV = "history.csv"
METRICS_JSON = "metrics.json"
ARGS_JSON = "args.json"


def set_seed(seed):
    """Seed python, numpy and TensorFlow (imports TF: these utilities serve the TF pipelines)."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import tensorflow as tf

    tf.random.set_seed(seed)


def _to_jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_jsonable(v) for v in value]
    return value


def write_json(path, obj):
    """Write ``obj`` as indented JSON atomically (a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(_to_jsonable(obj), tmp, indent=2, sort_keys=True)
        tmp.write("\n")
    os.replace(tmp.name, path)
    return path


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


def resume_initial_epoch(out_dir, model):
    """If ``out_dir`` holds a resume point, load its weights into ``model`` and return the epoch to start at."""
    out_dir = Path(out_dir)
    if not (out_dir / LAST_EPOCH).exists() or not (out_dir / LAST_WEIGHTS).exists():
        return 0
    model.load_weights(str(out_dir / LAST_WEIGHTS))
    return int(read_json(out_dir / LAST_EPOCH)["epochs_done"])


def training_callbacks(out_dir, monitor=None, mode="max", extra_metrics=None, progress=True, total_epochs=None):
    """Keras callbacks that make a ``fit`` resumable and leave its metrics beside the checkpoint.

    monitor: metric name that selects ``best.weights.h5`` (e.g. "val_accuracy"); None keeps only the last.
    extra_metrics: dict merged into every metrics.json (e.g. {"dataset": "mini"}).
    The optimizer state is not saved: a resumed run restarts Adam's moments (as the v0.5 VWW recipe does at
    each stage anyway); the learning-rate schedule depends on the epoch index and resumes exactly.
    """
    import tensorflow as tf

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    callbacks = [tf.keras.callbacks.CSVLogger(str(out_dir / HISTORY_CSV), append=True),
                 _EpochCheckpoint(out_dir, monitor, mode, extra_metrics or {})]
    if progress:
        callbacks.append(_EpochProgress(total_epochs))
    return callbacks


def _EpochCheckpoint(out_dir, monitor, mode, extra_metrics):  # noqa: N802 (class factory; keeps TF import lazy)
    import tensorflow as tf

    class EpochCheckpoint(tf.keras.callbacks.Callback):
        """Saves last (and best) weights and metrics.json at the end of every epoch."""

        def __init__(self):
            super().__init__()
            state = read_json(out_dir / LAST_EPOCH) if (out_dir / LAST_EPOCH).exists() else {}
            self.best = state.get("best")

        def _improved(self, value):
            if self.best is None:
                return True
            return value > self.best if mode == "max" else value < self.best

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            self.model.save_weights(str(out_dir / LAST_WEIGHTS))
            if monitor is not None and monitor in logs and self._improved(logs[monitor]):
                self.best = logs[monitor]
                self.model.save_weights(str(out_dir / BEST_WEIGHTS))
            write_json(out_dir / METRICS_JSON, {"epoch": epoch + 1, **logs, **extra_metrics,
                                                "best": {monitor: self.best} if monitor else None})
            # Written last: a crash before this line resumes from the previous epoch.
            write_json(out_dir / LAST_EPOCH, {"epochs_done": epoch + 1, "best": self.best})

    return EpochCheckpoint()


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
    fig.savefig(out_png, dpi=120)
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
    fig.savefig(out_png, dpi=120)
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
    fig.savefig(out_png, dpi=120)
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
    """Run ``stage(args)`` for a script's ``main``: 0 on success; an expected user error (missing or badly laid
    out data, a missing model file, a bad value) prints one ``error: ...`` paragraph and returns exit code 2
    instead of a traceback. Any other exception is a bug and propagates."""
    try:
        stage(args)
    except user_errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
