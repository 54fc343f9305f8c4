"""int8 conversion and evaluation of a pruned run (shared by the VWW and KWS quantize/evaluate scripts).

``quantize_run`` writes ``<name>_float.tflite`` and ``<name>_int8.tflite`` (full integer, int8 input and
output, as the original) into the run folder. ``evaluate_run`` runs the int8 model on float inputs quantized
with its input scale/zero point, takes the argmax of the int8 output, and adds ``acc_int8``, ``int8_bytes``
and the argmax agreement with the float Keras model to ``result.json``.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from depth_pruning.common import MODEL_FILE, RESULT_FILE

RUN_HINT = "pass the run folder of a prune script (it holds model.h5 once the run finished)"


def tflite_paths(run_dir):
    run_dir = Path(run_dir)
    return run_dir / f"{run_dir.name}_float.tflite", run_dir / f"{run_dir.name}_int8.tflite"


def require_run(run_dir, int8=False):
    """The paths of a finished run's pruned model (and int8 model) after checking they exist (no TF needed)."""
    run_dir = rc.require_dir(run_dir, "prune run folder", RUN_HINT)
    model = rc.require_file(run_dir / MODEL_FILE, "pruned model", "run the prune script for this cut first")
    if int8:
        rc.require_file(tflite_paths(run_dir)[1], "int8 model",
                        "run the quantize script (tflite_convert_quantize / kws.quantize) first")
    return model


def load_run_model(run_dir):
    """The pruned Keras model of a finished run folder (one-line errors for a missing or broken one)."""
    from mlperf_tiny import model_io

    return model_io.load_model(require_run(run_dir), RUN_HINT).keras_model


def quantize_run(run_dir, calibration_samples):
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    model = load_run_model(run_dir)
    float_path, int8_path = tflite_paths(run_dir)
    save_tflite(convert_to_tflite(model, int8=False), float_path)
    flatbuffer = convert_to_tflite(model, list(calibration_samples), int8=True, int8_io=True)
    save_tflite(flatbuffer, int8_path)
    print(f"wrote {float_path.name} and {int8_path.name} ({len(flatbuffer):,} bytes)")
    return int8_path


def evaluate_run(run_dir, images, labels, eval_set, primary=True, progress=True):
    """int8 (and float) accuracy of a run's models on ``images``/``labels``, added to its ``result.json``.

    ``eval_set`` says what the samples are (e.g. "validation split 0.1 of DIR", "EEMBC folder DIR"). The
    pipeline's own set (``primary``) gives the top-level ``acc_int8`` the sweep reads; any other set goes under
    ``evaluations[eval_set]``, so evaluating on other data never changes the sweep's figures.
    """
    import numpy as np
    from mlperf_tiny.run_utils import read_json
    from mlperf_tiny.tflite_utils import TFLiteModel

    run_dir = Path(run_dir)
    _, int8_path = tflite_paths(run_dir)
    require_run(run_dir, int8=True)
    model = load_run_model(run_dir)
    if len(labels) == 0:
        raise rc.RunFailed(f"{eval_set} holds no samples: nothing was evaluated")
    tflite = TFLiteModel(model_path=int8_path)
    images = images.reshape((len(images), *tflite.input_details["shape"][1:]))
    int8_pred = tflite.predict(images, progress=progress).argmax(-1)
    float_pred = model.predict(images, verbose=0).argmax(-1)
    figures = {"acc_int8": float((int8_pred == labels).mean()), "acc_float_eval": float((float_pred == labels).mean()),
               "int8_float_agreement": float((int8_pred == float_pred).mean()), "int8_eval_samples": int(len(labels)),
               "int8_eval_set": eval_set}
    result = read_json(run_dir / RESULT_FILE) if (run_dir / RESULT_FILE).exists() else {}
    result.update({"int8_bytes": tflite.size_bytes, "int8_input_dtype": np.dtype(tflite.input_dtype).name,
                   "int8_output_dtype": np.dtype(tflite.output_dtype).name})
    if primary:
        result.update(figures)
    else:
        result.setdefault("evaluations", {})[eval_set] = figures
    rc.write_json(run_dir / RESULT_FILE, result)
    print(f"{run_dir.name} on {eval_set} ({len(labels)} samples): int8 accuracy {figures['acc_int8']:.4f} (float "
          f"{figures['acc_float_eval']:.4f}, argmax agreement {figures['int8_float_agreement']:.3f}), "
          f"{tflite.size_bytes:,} bytes")
    return {**result, **figures}
