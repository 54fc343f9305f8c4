"""Train a KWS model (v0.5 ``train.py``): ``python -m mlperf_tiny.keyword_spotting.train --epochs 30 ...``.

Writes beside ``--saved_model_path``: ``args.json``, ``history.csv``, ``metrics.json`` (per epoch, then the
final train/val/test numbers), ``last.weights.h5`` (an interrupted run resumes from it), the model (.h5) and
``training_curves.png``. As v0.5, the model of the last epoch is saved (no checkpoint selection).
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from pathlib import Path

from mlperf_tiny.keyword_spotting import kws_util

# v0.5 shuffled with buffers the size of each split (85511/10102/4890 clips), applied to *batches*; any buffer
# at least as large as the number of batches gives a full shuffle of batch order.
SHUFFLE_BUFFER = 100_000


def get_args_parser(add_help=True):
    return kws_util.get_args_parser(add_help=add_help)


def main(argv=None):
    Flags = get_args_parser().parse_args(argv)  # noqa: N806 (v0.5 name)
    import tensorflow as tf

    from mlperf_tiny.keyword_spotting import get_dataset as kws_data
    from mlperf_tiny.keyword_spotting import keras_model as models
    from mlperf_tiny.run_utils import (HISTORY_CSV, METRICS_JSON, distribute_strategy, plot_history, read_json,
                                       resume_initial_epoch, save_args, set_seed, training_callbacks, write_json)

    set_seed(Flags.seed)
    out_dir = Path(Flags.saved_model_path).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    save_args(Flags, out_dir)
    mini = kws_data.is_mini(Flags)
    print(f"data: {Flags.data_dir}; training for {Flags.epochs} epochs -> {Flags.saved_model_path}")

    ds_train, ds_test, ds_val = kws_data.get_training_data(Flags)
    if Flags.shuffle_examples:
        ds_train = ds_train.unbatch().shuffle(SHUFFLE_BUFFER, seed=Flags.seed).batch(Flags.batch_size)
    else:
        ds_train = ds_train.shuffle(SHUFFLE_BUFFER, seed=Flags.seed)
    ds_train = ds_train.prefetch(tf.data.AUTOTUNE)

    with distribute_strategy(Flags.strategy).scope():
        if Flags.model_init_path is None:
            model = models.get_model(Flags)
        else:
            print(f"starting from {Flags.model_init_path}")
            model = tf.keras.models.load_model(Flags.model_init_path)
    initial_epoch = resume_initial_epoch(out_dir, model)
    if initial_epoch:
        print(f"resuming after epoch {initial_epoch} from {out_dir}")

    callbacks = kws_util.get_callbacks(Flags) + training_callbacks(
        out_dir, monitor="val_sparse_categorical_accuracy",
        extra_metrics={"dataset": "mini" if mini else "speech_commands_v0.02"}, total_epochs=Flags.epochs)
    if initial_epoch < Flags.epochs:
        model.fit(ds_train, validation_data=ds_val, epochs=Flags.epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=0)
    suffix = " (mini data)" if mini else ""
    plot_history(out_dir / HISTORY_CSV, out_dir / "training_curves.png",
                 f"KWS {Flags.model_architecture} training{suffix}")
    # A single-file model is written under a temporary name, then renamed: make treats it as "training done".
    saved = Path(Flags.saved_model_path)
    if saved.suffix in (".h5", ".hdf5", ".keras"):
        tmp = saved.with_name(f"{saved.stem}.tmp{saved.suffix}")
        model.save(str(tmp))
        tmp.replace(saved)
    else:  # a SavedModel directory
        model.save(str(saved))

    summary = read_json(out_dir / METRICS_JSON) if (out_dir / METRICS_JSON).exists() else {}
    summary.update({"dataset": "mini" if mini else "speech_commands_v0.02", "params": int(model.count_params())})
    if Flags.run_test_set:
        test_loss, test_accuracy = model.evaluate(ds_test, verbose=0)
        print(f"Test loss: {test_loss:.4f}  Test accuracy: {test_accuracy:.4f}")
        summary.update({"test_loss": float(test_loss), "test_accuracy": float(test_accuracy)})
    write_json(out_dir / METRICS_JSON, summary)
    return summary


if __name__ == "__main__":
    main()
