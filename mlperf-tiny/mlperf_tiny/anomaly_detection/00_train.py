"""Train the AD autoencoder per machine type (v0.5 ``00_train.py --dev``).

For each machine type under dev_directory: log-mel vectors of every training clip (cached in
``<model_directory>/features_<machine>_train.npy``), Adam + MSE with the baseline.yaml schedule (100 epochs,
batch 512, shuffle, Keras ``validation_split=0.1`` = the *last* 10% of vectors, mostly the last id), then
``model_<machine>.hdf5``, ``history_<machine>.csv`` / ``.png``, ``args.json`` and ``metrics.json``.

Rerunning the same command resumes from ``<model_directory>/<machine>/last.weights.h5`` with the Adam state, and
each epoch's order depends on (seed, epoch) only, so a run killed mid-epoch ends as an uninterrupted one does. A
model directory holding a run with other settings is refused unless ``--overwrite``; ``--epochs`` may grow.
"""

from pathlib import Path

import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.anomaly_detection import common

# Settings that never make two training runs different (--epochs extends a run).
NOT_IDENTITY = ("epochs", "strategy", "result_directory", "eval_directory", "dev", "eval")


def get_args_parser(add_help=True):
    parser = common.command_line_chk("train the AD autoencoder (00_train.py)")
    parser.add_argument("--epochs", type=rc.positive_int, default=None, help="overrides fit.epochs of the config")
    parser.add_argument("--batch_size", type=rc.positive_int, default=None,
                        help="overrides fit.batch_size of the config")
    parser.add_argument("--strategy", choices=["default", "mirrored"], default="default",
                        help="tf.distribute strategy (mirrored: all visible GPUs)")
    return parser


def load_train_vectors(machine_dir, param, cache_path):
    """[vectors, 640] float32 of all training clips, computed once and cached as .npy (written atomically)."""
    import numpy as np

    cache_path = Path(cache_path)
    if cache_path.exists():
        try:
            return np.load(cache_path)
        except (ValueError, OSError, EOFError):
            print(f"recomputing the unreadable feature cache {cache_path}")
    files = common.file_list_generator(machine_dir)
    vectors = common.list_to_vector_array(files, **common.feature_kwargs(param))
    with rc.atomic_path(cache_path) as tmp:
        np.save(tmp, vectors)
    return vectors


def train_machine(machine_dir, model_dir, param, fit, args, mini):
    """Train (or resume) one machine type's autoencoder; returns the model file."""
    import tensorflow as tf

    from mlperf_tiny.anomaly_detection import keras_model
    from mlperf_tiny.run_utils import (
        HISTORY_CSV,
        distribute_strategy,
        epoch_seeded_batches,
        plot_history,
        resume_initial_epoch,
        save_model,
        training_callbacks,
    )

    machine = machine_dir.name
    model_file = model_dir / f"model_{machine}.hdf5"
    vectors = load_train_vectors(machine_dir, param, model_dir / f"features_{machine}_train.npy")
    print(f"{machine}: {vectors.shape[0]} training vectors of {vectors.shape[1]}")
    run_dir = model_dir / machine  # per-machine resume point and per-epoch metrics
    with distribute_strategy(args.strategy).scope():
        model = keras_model.get_model(vectors.shape[1])
        model.compile(optimizer=fit["compile"]["optimizer"], loss=fit["compile"]["loss"])
    initial_epoch = resume_initial_epoch(run_dir, model)
    if initial_epoch:
        print(f"{machine}: resuming after epoch {initial_epoch} from {run_dir}")
    callbacks = training_callbacks(run_dir, monitor="val_loss", mode="min",
                                   extra_metrics={"dataset": "mini" if mini else "ToyADMOS", "machine": machine},
                                   total_epochs=fit["epochs"])
    # Keras' validation_split: the last fraction of the vectors, taken before shuffling.
    split_at = int(len(vectors) * (1 - fit["validation_split"]))
    train, validation = vectors[:split_at], vectors[split_at:]
    if initial_epoch < fit["epochs"]:
        batches, steps = epoch_seeded_batches(train, train, fit["batch_size"], args.seed, initial_epoch,
                                              fit["epochs"], shuffle=fit["shuffle"])
        model.fit(batches, steps_per_epoch=steps, epochs=fit["epochs"], initial_epoch=initial_epoch,
                  validation_data=(validation, validation) if len(validation) else None,
                  validation_batch_size=fit["batch_size"], callbacks=callbacks, verbose=0)
    plot_history(run_dir / HISTORY_CSV, model_dir / f"history_{machine}.png",
                 f"AD autoencoder {machine}{' (mini data)' if mini else ''}")
    rc.write_bytes(model_dir / f"history_{machine}.csv", (run_dir / HISTORY_CSV).read_bytes())
    save_model(model, model_file)  # the make target appears only once the model is complete
    tf.keras.backend.clear_session()
    return model_file


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    from mlperf_tiny.run_utils import set_seed

    param = common.resolve_config(args)
    fit = dict(param["fit"])
    fit["epochs"] = args.epochs or fit["epochs"]
    fit["batch_size"] = args.batch_size or fit["batch_size"]
    machine_dirs = common.select_dirs(param, machine_type=args.machine_type)
    model_dir = Path(param["model_directory"])
    resolved = {"feature": param["feature"], "max_fpr": param["max_fpr"],
                "fit": {k: v for k, v in fit.items() if k != "epochs"}}
    rc.claim_run_dir(model_dir, {**vars(args), "resolved_config": resolved,
                                 "dev_directory": str(param["dev_directory"])},
                     ignore=NOT_IDENTITY, overwrite=args.overwrite)
    mini = common.is_mini(args, param)
    set_seed(args.seed)
    for machine_dir in machine_dirs:
        model_file = model_dir / f"model_{machine_dir.name}.hdf5"
        if model_file.exists():
            print(f"{model_file} exists, skipping {machine_dir.name}")
            continue
        train_machine(machine_dir, model_dir, param, fit, args, mini)
    return 0


if __name__ == "__main__":
    rc.entry(main)
