"""Train the AD autoencoder per machine type (v0.5 ``00_train.py --dev``).

For each machine type under dev_directory: log-mel vectors of every training clip (cached in
``<model_directory>/features_<machine>_train.npy``), Adam + MSE with the baseline.yaml schedule (100 epochs,
batch 512, shuffle, Keras ``validation_split=0.1`` = the *last* 10% of vectors, mostly the last id), then
``model_<machine>.hdf5``, ``history_<machine>.csv`` / ``.png``, ``args.json`` and ``metrics.json``. An
interrupted run resumes from ``<model_directory>/<machine>/last.weights.h5``.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

import shutil
from pathlib import Path

from mlperf_tiny.anomaly_detection import common


def get_args_parser(add_help=True):
    parser = common.command_line_chk("train the AD autoencoder (00_train.py)")
    parser.add_argument("--epochs", type=int, default=None, help="overrides fit.epochs of the config")
    parser.add_argument("--batch_size", type=int, default=None, help="overrides fit.batch_size of the config")
    parser.add_argument("--strategy", choices=["default", "mirrored"], default="default",
                        help="tf.distribute strategy (mirrored: all visible GPUs)")
    return parser


def load_train_vectors(machine_dir, param, cache_path):
    """[vectors, 640] float32 of all training clips, computed once and cached as .npy."""
    import numpy as np

    cache_path = Path(cache_path)
    if cache_path.exists():
        return np.load(cache_path)
    files = common.file_list_generator(machine_dir)
    vectors = common.list_to_vector_array(files, **common.feature_kwargs(param))
    tmp = cache_path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(cache_path)
    return vectors


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    import tensorflow as tf

    from mlperf_tiny.anomaly_detection import keras_model
    from mlperf_tiny.run_utils import (HISTORY_CSV, distribute_strategy, plot_history, resume_initial_epoch,
                                       save_args, set_seed, training_callbacks)

    param = common.resolve_config(args)
    fit = dict(param["fit"])
    fit["epochs"] = args.epochs or fit["epochs"]
    fit["batch_size"] = args.batch_size or fit["batch_size"]
    model_dir = Path(param["model_directory"])
    model_dir.mkdir(parents=True, exist_ok=True)
    save_args({**vars(args), "resolved_config": {**param, "fit": fit}}, model_dir)
    mini = common.is_mini(args, param)
    set_seed(args.seed)
    outputs = {}
    for machine_dir in common.select_dirs(param, machine_type=args.machine_type):
        machine = machine_dir.name
        model_file = model_dir / f"model_{machine}.hdf5"
        if model_file.exists():
            print(f"{model_file} exists, skipping {machine}")
            outputs[machine] = model_file
            continue
        vectors = load_train_vectors(machine_dir, param, model_dir / f"features_{machine}_train.npy")
        print(f"{machine}: {vectors.shape[0]} training vectors of {vectors.shape[1]}")
        run_dir = model_dir / machine  # per-machine resume point and per-epoch metrics
        with distribute_strategy(args.strategy).scope():
            model = keras_model.get_model(vectors.shape[1])
            model.compile(optimizer=fit["compile"]["optimizer"], loss=fit["compile"]["loss"])
        initial_epoch = resume_initial_epoch(run_dir, model)
        callbacks = training_callbacks(run_dir, monitor="val_loss", mode="min",
                                       extra_metrics={"dataset": "mini" if mini else "ToyADMOS", "machine": machine},
                                       total_epochs=fit["epochs"])
        if initial_epoch < fit["epochs"]:
            model.fit(vectors, vectors, epochs=fit["epochs"], initial_epoch=initial_epoch,
                      batch_size=fit["batch_size"], shuffle=fit["shuffle"], validation_split=fit["validation_split"],
                      callbacks=callbacks, verbose=0)
        plot_history(run_dir / HISTORY_CSV, model_dir / f"history_{machine}.png",
                     f"AD autoencoder {machine}{' (mini data)' if mini else ''}")
        shutil.copyfile(run_dir / HISTORY_CSV, model_dir / f"history_{machine}.csv")
        tmp = model_file.with_suffix(".tmp.hdf5")
        model.save(tmp)
        tmp.replace(model_file)  # the make target appears only once the model is complete
        outputs[machine] = model_file
        tf.keras.backend.clear_session()
    return outputs




if __name__ == "__main__":
    main()
