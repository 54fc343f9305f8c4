"""Evaluate a trained (float) KWS model (v0.5 ``evaluate.py``): Keras accuracy, EEMBC accuracy and AUC.

Reads ``--saved_model_path`` (.h5 or SavedModel directory) and measures ``--target_set``; writes
``float_<set>_metrics.json``, ``float_<set>_confusion.png`` and ``float_<set>_roc.png`` beside the model and
merges the numbers into its ``metrics.json``. v0.5 passed 11 label names for 12 classes; all 12 are used here.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from pathlib import Path

from mlperf_tiny.keyword_spotting import kws_util


def get_args_parser(add_help=True):
    return kws_util.get_args_parser(add_help=add_help)


def load_keras_model(path):
    import tensorflow as tf

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no trained model at {path}: run train.py (or `make mlperf-kws`) first")
    return tf.keras.models.load_model(str(path))


def main(argv=None):
    Flags = get_args_parser().parse_args(argv)  # noqa: N806
    from mlperf_tiny import eval_functions_eembc as eembc
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data

    model = load_keras_model(Flags.model_init_path or Flags.saved_model_path)
    features, labels = kws_data.get_eval_arrays(Flags, Flags.target_set)
    probabilities = model.predict(features, batch_size=Flags.batch_size, verbose=0)
    mini = kws_data.is_mini(Flags)
    metrics = eembc.classification_report(
        probabilities, labels, kws_data.WORD_LABELS, Path(Flags.saved_model_path).parent, f"float_{Flags.target_set}",
        extra={"dataset": "mini" if mini else "speech_commands_v0.02", "model": str(Flags.saved_model_path)},
        title_suffix=" (mini data)" if mini else "")
    print(f"float {Flags.target_set}: accuracy {metrics['accuracy']:.2f}%  EEMBC AUC {metrics['auc']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
