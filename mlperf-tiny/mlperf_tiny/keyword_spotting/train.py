"""Train a KWS model (v0.5 ``train.py``): ``python -m mlperf_tiny.keyword_spotting.train --epochs 30 ...``.

Writes beside ``--saved_model_path``: ``args.json``, ``history.csv``, ``metrics.json`` (per epoch, then the
final train/val/test numbers), ``last.weights.h5`` (the resume point), the model (.h5) and
``training_curves.png``. As v0.5, the model of the last epoch is saved (no checkpoint selection).

Rerunning the same command resumes the run (weights, Adam state, dropout generators and the epoch's batch order
are restored, so the result is the one an uninterrupted run gives); a folder holding a run with other flags is
refused unless ``--overwrite``. ``--epochs`` is not part of a run's identity: a larger value extends the run.
"""

from pathlib import Path

import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.keyword_spotting import kws_util

# v0.5 shuffled with buffers the size of each split (85511/10102/4890 clips), applied to *batches*; any buffer
# at least as large as the number of batches gives a full shuffle of batch order.
SHUFFLE_BUFFER = 100_000
# Flags that select evaluation or export, or extend training: they never make two training runs different.
NOT_IDENTITY = ("epochs", "run_test_set", "tfl_file_name", "target_set", "plot_dir", "num_bin_files", "bin_file_path",
                "faithful_cast", "download", "strategy", "num_test_samples", "cal_idxs_file")


def get_args_parser(add_help=True):
    parser = kws_util.get_args_parser(add_help=add_help)
    parser.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return parser


def steps_of(dataset):
    """Batches per epoch of a finite tf.data dataset (counted once when TF does not know it)."""
    import tensorflow as tf

    steps = int(dataset.cardinality())
    if steps < 0:
        steps = int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))
    return steps


@rc.command
def main(argv=None):
    Flags = get_args_parser().parse_args(argv)  # noqa: N806 (v0.5 name)
    from mlperf_tiny import model_io
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data
    from mlperf_tiny.keyword_spotting import keras_model as models
    from mlperf_tiny.run_utils import (
        HISTORY_CSV,
        METRICS_JSON,
        distribute_strategy,
        epoch_seeded_shuffle,
        plot_history,
        read_json,
        resumable_dropout,
        resume_initial_epoch,
        save_model,
        set_seed,
        training_callbacks,
    )

    # Everything the run reads is checked before anything is written.
    kws_data.resolve_data_source(Flags.data_dir, Flags.data_source)
    if Flags.model_init_path is not None:
        model_io.check_model_task(Flags.model_init_path, "kws")
    out_dir = Path(Flags.saved_model_path).parent
    state = rc.claim_run_dir(out_dir, Flags, ignore=NOT_IDENTITY, overwrite=Flags.overwrite)
    mini = kws_data.is_mini(Flags)
    print(f"data: {Flags.data_dir}; training for {Flags.epochs} epochs -> {Flags.saved_model_path} ({state} run)")

    set_seed(Flags.seed)
    resumable_dropout()
    import tensorflow as tf

    with distribute_strategy(Flags.strategy).scope():
        if Flags.model_init_path is None:
            model = models.get_model(Flags)
        else:
            print(f"starting from {Flags.model_init_path}")
            model = tf.keras.models.load_model(Flags.model_init_path)
            if not model.optimizer:
                model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=Flags.learning_rate),
                              loss=tf.keras.losses.SparseCategoricalCrossentropy(),
                              metrics=[tf.keras.metrics.SparseCategoricalAccuracy()])
    initial_epoch = resume_initial_epoch(out_dir, model)
    if initial_epoch:
        print(f"resuming after epoch {initial_epoch} from {out_dir}")

    ds_train, ds_test, ds_val = kws_data.get_training_data(Flags)
    steps = steps_of(ds_train)
    if Flags.shuffle_examples:
        ds_train = epoch_seeded_shuffle(ds_train.unbatch(), SHUFFLE_BUFFER, Flags.seed, initial_epoch, Flags.epochs,
                                        batch_size=Flags.batch_size)
    else:
        ds_train = epoch_seeded_shuffle(ds_train, SHUFFLE_BUFFER, Flags.seed, initial_epoch, Flags.epochs)
    ds_train = ds_train.prefetch(tf.data.AUTOTUNE)

    callbacks = kws_util.get_callbacks(Flags) + training_callbacks(
        out_dir, monitor="val_sparse_categorical_accuracy",
        extra_metrics={"dataset": "mini" if mini else "speech_commands_v0.02"}, total_epochs=Flags.epochs)
    with kws_data.data_errors():
        if initial_epoch < Flags.epochs:
            model.fit(ds_train, validation_data=ds_val, epochs=Flags.epochs, initial_epoch=initial_epoch,
                      steps_per_epoch=steps, callbacks=callbacks, verbose=0)
        suffix = " (mini data)" if mini else ""
        plot_history(out_dir / HISTORY_CSV, out_dir / "training_curves.png",
                     f"KWS {Flags.model_architecture} training{suffix}")
        # Written under a temporary name, then renamed: make treats the model file as "training done".
        save_model(model, Flags.saved_model_path)

        summary = read_json(out_dir / METRICS_JSON) if (out_dir / METRICS_JSON).exists() else {}
        summary.update({"dataset": "mini" if mini else "speech_commands_v0.02", "params": int(model.count_params())})
        if Flags.run_test_set:
            test_loss, test_accuracy = model.evaluate(ds_test, verbose=0)
            print(f"Test loss: {test_loss:.4f}  Test accuracy: {test_accuracy:.4f}")
            summary.update({"test_loss": float(test_loss), "test_accuracy": float(test_accuracy)})
    rc.write_json(out_dir / METRICS_JSON, summary)
    return 0


if __name__ == "__main__":
    rc.entry(main)
