"""Evaluate a (int8) KWS TFLite model (v0.5 ``eval_quantized_model.py``) with ai_edge_litert.

Reads ``--tfl_file_name`` (int8 or float) and measures ``--target_set``. v0.5 fed the int8 input as ``x / scale + zero_point``
cast to int8 without rounding or clipping (values can wrap): that is the default here because the reference
int8 accuracy was measured that way; ``--no-faithful_cast`` rounds and clips. Writes
``int8_<set>_metrics.json`` / ``_confusion.png`` / ``_roc.png`` (``tflite_float_<set>_...`` for a float model).
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from pathlib import Path

import numpy as np

from mlperf_tiny.keyword_spotting import kws_util


def get_args_parser(add_help=True):
    return kws_util.get_args_parser(add_help=add_help)


def main(argv=None):
    Flags = get_args_parser().parse_args(argv)  # noqa: N806
    from mlperf_tiny import eval_functions_eembc as eembc
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data
    from mlperf_tiny.tflite_utils import TFLiteModel

    if not Path(Flags.tfl_file_name).exists():
        raise FileNotFoundError(f"no TFLite model at {Flags.tfl_file_name}: run quantize.py first")
    tflite = TFLiteModel(model_path=Flags.tfl_file_name, faithful_cast=Flags.faithful_cast)
    # Named by what the model is: v0.5 called every TFLite model "int8", float ones included.
    kind = "int8" if np.issubdtype(tflite.input_dtype, np.integer) else "tflite_float"
    features, labels = kws_data.get_eval_arrays(Flags, Flags.target_set)
    probabilities = tflite.predict(features, progress=True)
    mini = kws_data.is_mini(Flags)
    metrics = eembc.classification_report(
        probabilities, labels, kws_data.WORD_LABELS, Path(Flags.tfl_file_name).parent, f"{kind}_{Flags.target_set}",
        extra={"dataset": "mini" if mini else "speech_commands_v0.02", "tflite": str(Flags.tfl_file_name),
               "size_bytes": tflite.size_bytes, "input_dtype": np.dtype(tflite.input_dtype).name,
               "faithful_cast": Flags.faithful_cast},
        title_suffix=" (mini data)" if mini else "")
    print(f"{kind} {Flags.target_set}: accuracy {metrics['accuracy']:.2f}%  EEMBC AUC {metrics['auc']:.4f}")
    return metrics


if __name__ == "__main__":
    main()
