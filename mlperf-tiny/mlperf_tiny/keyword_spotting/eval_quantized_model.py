"""Evaluate a (int8) KWS TFLite model (v0.5 ``eval_quantized_model.py``) with ai_edge_litert.

Reads ``--tfl_file_name`` (int8 or float) and measures ``--target_set`` (``test`` needs only the test split) or an
EEMBC folder given as ``--data_dir``. v0.5 fed the int8 input as ``x / scale + zero_point`` cast to int8 without
rounding or clipping (values can wrap): that is the default here because the reference int8 accuracy was measured
that way; ``--no-faithful_cast`` rounds and clips. An EEMBC folder's int8 MFCCs are already quantized, so they are
always rounded (truncating their dequantized values could move them down by one step). Writes
``int8_<set>_metrics.json`` / ``_confusion.png`` / ``_roc.png`` (``tflite_float_<set>_...`` for a float model) into
``--out_dir`` (default ``runs/eval/kws/<model name>``).
"""

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.keyword_spotting import evaluate


def get_args_parser(add_help=True):
    return evaluate.get_args_parser(add_help=add_help)


@rc.command
def main(argv=None):
    Flags = get_args_parser().parse_args(argv)  # noqa: N806
    from mlperf_tiny import model_io
    from mlperf_tiny.tflite_utils import TFLiteModel

    hint = "quantize a model first (python -m mlperf_tiny.keyword_spotting.quantize)"
    loaded = model_io.check_model_task(model_io.load_model(Flags.tfl_file_name, hint), "kws")
    if loaded.tflite is None:
        raise rc.bad_file(Flags.tfl_file_name, f"is a {loaded.kind} model, not a .tflite; evaluate it with "
                                               f"python -m mlperf_tiny.keyword_spotting.evaluate")
    features, labels, dataset = evaluate.evaluation_set(Flags, loaded)
    faithful_cast = Flags.faithful_cast and not dataset.startswith("eembc")
    tflite = TFLiteModel(model_path=Flags.tfl_file_name, faithful_cast=faithful_cast)
    # Named by what the model is: v0.5 called every TFLite model "int8", float ones included.
    kind = "int8" if np.issubdtype(tflite.input_dtype, np.integer) else "tflite_float"
    probabilities = tflite.predict(loaded.to_input(features), progress=len(features) > 100)
    target = "eembc" if dataset.startswith("eembc") else Flags.target_set
    evaluate.report(Flags, probabilities, labels, dataset, f"{kind}_{target}", Flags.tfl_file_name,
                    {"tflite": str(Flags.tfl_file_name), "size_bytes": tflite.size_bytes,
                     "input_dtype": np.dtype(tflite.input_dtype).name, "faithful_cast": faithful_cast})
    return 0


if __name__ == "__main__":
    rc.entry(main)
