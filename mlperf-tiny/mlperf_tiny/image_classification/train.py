"""Train ResNet-8 on CIFAR-10 as the MLPerf Tiny v0.5 reference does (``image_classification/train.py``).

    python -m mlperf_tiny.image_classification.train --data_dir data/cifar-10-batches-py --out_dir runs/ic

Recipe (v0.5): raw pixels 0..255 (no normalisation), ImageDataGenerator augmentation (rotation 15, width/height
shift 0.1, horizontal flip), Adam with lr = 1e-3 * 0.99**epoch, batch 32, 500 epochs, categorical
cross-entropy, no validation set, the last epoch's model is kept.

Quirk (faithful default): the reference sets ``validation_split=0.2`` on the generator but calls ``flow()``
without ``subset``, so it trains on all 50,000 images and never validates. ``--holdout_validation`` applies the
split (the first 80% train, the last 20% validate) and selects the best checkpoint on validation accuracy.

Writes into ``--out_dir``: ``trainedResnet.h5`` (final model), ``args.json``, ``history.csv``, per-epoch
``metrics.json``, ``last.weights.h5`` (resume point: rerunning the same command continues), ``training_curves.png``.
"""

import pickle
from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import model_name
from mlperf_tiny.run_utils import distribute_strategy  # also reached as train.distribute_strategy (trecx)

EPOCHS = 500
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
LR_DECAY = 0.99  # per epoch: lr = LEARNING_RATE * LR_DECAY ** epoch
NUM_CLASSES = 10
MODEL_FILE_NAME = "trainedResnet.h5"
# ImageDataGenerator arguments of the reference.
AUGMENTATION = dict(rotation_range=15, width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True)
VALIDATION_SPLIT = 0.2  # set but unused by the reference (see --holdout_validation)
CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
DOWNLOAD_TARGET = "mlperf-ic-data"


class DatasetError(rc.UsageError):
    """The dataset directory is missing, laid out wrongly or holds a corrupt file; the message says what to do."""


def layout_error(data_dir, problem):
    return DatasetError(
        f"{problem}. Expected the CIFAR-10 python version in {data_dir}: the pickles "
        f"data_batch_1 .. data_batch_5, test_batch and batches.meta (the folder cifar-10-batches-py/ of "
        f"cifar-10-python.tar.gz). Download it with `make {DOWNLOAD_TARGET}` (or `python -m mlperf_tiny.download "
        f"cifar10 --data_dir data`, then pass --data_dir data/cifar-10-batches-py), or generate the offline "
        f"mini version with `make mini-data` and use data/mini/cifar-10-batches-py."
    )


def unpickle(path):
    """Load one CIFAR python pickle (bytes keys), reporting a corrupt file with its path."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise DatasetError(f"corrupt CIFAR-10 file {path}: {err}; delete it and download again "
                           f"(`make {DOWNLOAD_TARGET}`)") from err


def _batch_arrays(path):
    batch = unpickle(path)
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = list(batch[b"labels"])
        filenames = list(batch[b"filenames"])
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
            raise ValueError(f"data has shape {data.shape} for {len(labels)} labels (want N x 3072)")
    except (KeyError, ValueError, TypeError) as err:
        raise DatasetError(f"corrupt CIFAR-10 file {path}: {err!r}; delete it and download again "
                           f"(`make {DOWNLOAD_TARGET}`)") from err
    return data, filenames, labels


def _to_images(flat, negatives):
    images = flat.reshape((len(flat), 3, 32, 32))  # the pickles store planes: R (1024), G, B
    # negatives=True keeps NCHW, as the reference's option does.
    return images if negatives else np.moveaxis(images, 1, 3)


CIFAR10_CLASSES = (b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck")


def load_cifar_10_test(data_dir):
    """(test images uint8 NHWC, one-hot labels, label names, file names) from ``test_batch`` alone
    (``batches.meta`` is optional): what the evaluation scripts need, so they run with only the test split."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise layout_error(data_dir, f"data directory {data_dir} does not exist")
    if not (data_dir / "test_batch").is_file():
        raise layout_error(data_dir, f"{data_dir} lacks test_batch")
    label_names = np.array(CIFAR10_CLASSES)
    if (data_dir / "batches.meta").is_file():
        meta = unpickle(data_dir / "batches.meta")
        if not isinstance(meta, dict) or b"label_names" not in meta:
            raise DatasetError(f"corrupt CIFAR-10 file {data_dir / 'batches.meta'}: no label_names")
        label_names = np.array(meta[b"label_names"])
    test_flat, test_filenames, test_labels = _batch_arrays(data_dir / "test_batch")
    if not len(test_flat):
        raise rc.RunFailed(f"{data_dir / 'test_batch'} holds no images: nothing to evaluate")
    one_hot = np.eye(len(label_names), dtype=np.float32)
    return (_to_images(test_flat, False), one_hot[np.asarray(test_labels, dtype=np.int64)], label_names,
            test_filenames)


def load_cifar_10_data(data_dir, negatives=False):
    """Read the CIFAR-10 python pickles in ``data_dir`` (the reference's loader).

    Returns ``(train_data, train_filenames, train_labels, test_data, test_filenames, test_labels, label_names)``:
    uint8 NHWC images, filenames (bytes), one-hot float32 labels, label names (bytes).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise layout_error(data_dir, f"data directory {data_dir} does not exist")
    missing = [name for name in CIFAR_FILES if not (data_dir / name).is_file()]
    if missing:
        raise layout_error(data_dir, f"{data_dir} lacks {', '.join(missing)}")
    meta = unpickle(data_dir / "batches.meta")
    label_names = np.array(meta[b"label_names"]) if isinstance(meta, dict) and b"label_names" in meta else None
    if label_names is None:
        raise DatasetError(f"corrupt CIFAR-10 file {data_dir / 'batches.meta'}: no label_names")
    parts = [_batch_arrays(data_dir / f"data_batch_{i}") for i in range(1, 6)]
    train_data = _to_images(np.concatenate([p[0] for p in parts]), negatives)
    train_filenames = np.array(sum((p[1] for p in parts), []))
    train_labels = np.concatenate([p[2] for p in parts]).astype(np.int64)
    test_flat, test_filenames, test_labels = _batch_arrays(data_dir / "test_batch")
    test_data = _to_images(test_flat, negatives)
    num_classes = len(label_names)
    one_hot = np.eye(num_classes, dtype=np.float32)
    return (train_data, train_filenames, one_hot[train_labels], test_data, np.array(test_filenames),
            one_hot[np.asarray(test_labels, dtype=np.int64)], label_names)


def label_names_str(label_names):
    return [name.decode() if isinstance(name, bytes) else str(name) for name in label_names]


def lr_schedule(epoch, initial_learning_rate=LEARNING_RATE, decay=LR_DECAY):
    """The reference's exponential decay, applied per epoch through LearningRateScheduler."""
    return initial_learning_rate * decay**epoch


def make_datagen(validation_split=VALIDATION_SPLIT):
    import tensorflow as tf

    return tf.keras.preprocessing.image.ImageDataGenerator(**AUGMENTATION, validation_split=validation_split)


def dataset_label(data_dir, explicit=None):
    """'mini' for the offline mini datasets (a path component named mini), else the real dataset's name."""
    if explicit:
        return explicit
    return "mini" if "mini" in Path(data_dir).resolve().parts else "cifar10"


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Train ResNet-8 on CIFAR-10 (MLPerf Tiny v0.5 IC)",
                               add_help=add_help, allow_abbrev=False)
    parser.add_argument("--data_dir", default="cifar-10-batches-py", help="folder with the CIFAR-10 pickles")
    parser.add_argument("--out_dir", default="trained_models", help="run folder (model, args, metrics, plots)")
    parser.add_argument("--model_architecture", type=model_name, default="resnet_v1_eembc",
                        help="registry name of the model")
    parser.add_argument("--epochs", type=rc.positive_int, default=EPOCHS,
                        help="epochs to train (not part of a run's identity: a larger value extends the run)")
    parser.add_argument("--batch_size", type=rc.positive_int, default=BATCH_SIZE)
    parser.add_argument("--learning_rate", type=rc.positive_float, default=LEARNING_RATE, help="lr of epoch 0")
    parser.add_argument("--lr_decay", type=rc.float_range(0, 1, lo_open=True), default=LR_DECAY,
                        help="lr multiplier per epoch")
    parser.add_argument("--holdout_validation", action="store_true",
                        help="fix: really hold out validation_split=0.2 of the training images (reference: unused)")
    parser.add_argument("--seed", type=rc.nonnegative_int, default=0)
    parser.add_argument("--distribute", choices=("default", "mirrored"), default="default",
                        help="tf.distribute strategy (mirrored: every local GPU)")
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini or cifar10)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    parser.add_argument("--exact_resume", action="store_true",
                        help="draw each epoch's order and augmentation from (seed, epoch), so a resumed run ends as "
                             "an uninterrupted one (another random stream than Keras': other numbers)")
    parser.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return parser


# Flags that never make two training runs different (--epochs extends a run).
NOT_IDENTITY = ("epochs", "verbose", "distribute")


def train(args):
    from mlperf_tiny import run_utils
    from mlperf_tiny.registry import get_model

    out_dir = Path(args.out_dir)
    train_data, _, train_labels, _, _, _, label_names = load_cifar_10_data(args.data_dir)
    dataset = dataset_label(args.data_dir, args.dataset_name)
    rc.claim_run_dir(out_dir, {**vars(args), "dataset": dataset, "num_train_images": len(train_data)},
                     ignore=NOT_IDENTITY, overwrite=args.overwrite)
    import tensorflow as tf

    run_utils.set_seed(args.seed)

    strategy = distribute_strategy(args.distribute)
    with strategy.scope():
        model = get_model(args.model_architecture, input_shape=train_data.shape[1:], num_classes=len(label_names))
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=args.learning_rate),
                      loss="categorical_crossentropy", metrics=["accuracy"])
    initial_epoch = run_utils.resume_initial_epoch(out_dir, model)
    if initial_epoch:
        print(f"resuming {out_dir} after epoch {initial_epoch}")

    datagen = make_datagen(VALIDATION_SPLIT if args.holdout_validation else 0.0)
    x = train_data.astype(np.float32)  # raw 0..255, as the reference
    flow_kwargs = dict(batch_size=args.batch_size, seed=args.seed)
    callbacks = [tf.keras.callbacks.LearningRateScheduler(
        lambda epoch: lr_schedule(epoch, args.learning_rate, args.lr_decay))]
    if args.holdout_validation:
        train_flow = datagen.flow(x, train_labels, subset="training", **flow_kwargs)
        val_flow = datagen.flow(x, train_labels, subset="validation", shuffle=False, **flow_kwargs)
        monitor = "val_accuracy"
    else:
        train_flow = datagen.flow(x, train_labels, **flow_kwargs)
        val_flow, monitor = None, None
    train_data, steps, val_data, val_steps, extra = run_utils.keras_iterator_fit_data(
        train_flow, val_flow, args.seed, initial_epoch, args.epochs, args.exact_resume)
    callbacks += [*extra, *run_utils.training_callbacks(out_dir, monitor=monitor, extra_metrics={"dataset": dataset},
                                                        total_epochs=args.epochs)]
    if initial_epoch < args.epochs:
        model.fit(train_data, steps_per_epoch=steps, epochs=args.epochs, initial_epoch=initial_epoch,
                  validation_data=val_data, validation_steps=val_steps, callbacks=callbacks, verbose=args.verbose)
    if monitor is not None and (out_dir / run_utils.BEST_WEIGHTS).exists():
        model.load_weights(str(out_dir / run_utils.BEST_WEIGHTS))
    # Written last and atomically, so the make target only exists once training is complete.
    run_utils.save_model(model, out_dir / MODEL_FILE_NAME)
    history_csv = out_dir / run_utils.HISTORY_CSV
    if history_csv.exists():
        run_utils.plot_history(history_csv, out_dir / "training_curves.png",
                               f"ResNet-8 on CIFAR-10{' (mini data)' if dataset == 'mini' else ''}")
    return out_dir / MODEL_FILE_NAME


@rc.command
def main(argv=None):
    train(get_args_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    rc.entry(main)
