"""int8 conversion and evaluation of a pruned run (shared by the VWW and KWS quantize/evaluate scripts).

``quantize_run`` writes ``<name>_float.tflite`` and ``<name>_int8.tflite`` (full integer, int8 input and
output, as the original) into the run folder. ``evaluate_run`` runs the int8 model on float inputs quantized
with its input scale/zero point, takes the argmax of the int8 output, and adds ``acc_int8``, ``int8_bytes``
and the argmax agreement with the float Keras model to ``result.json``.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from depth_pruning.common import MODEL_FILE, RESULT_FILE


def tflite_paths(run_dir):
    run_dir = Path(run_dir)
    return run_dir / f"{run_dir.name}_float.tflite", run_dir / f"{run_dir.name}_int8.tflite"


def load_run_model(run_dir):
    import tensorflow as tf

    path = Path(run_dir) / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"no pruned model at {path}: run the prune script for this cut first")
    return tf.keras.models.load_model(str(path), compile=False)


def quantize_run(run_dir, calibration_samples):
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    model = load_run_model(run_dir)
    float_path, int8_path = tflite_paths(run_dir)
    save_tflite(convert_to_tflite(model, int8=False), float_path)
    flatbuffer = convert_to_tflite(model, list(calibration_samples), int8=True, int8_io=True)
    save_tflite(flatbuffer, int8_path)
    print(f"wrote {float_path.name} and {int8_path.name} ({len(flatbuffer):,} bytes)")
    return int8_path


def evaluate_run(run_dir, images, labels, progress=True):
    import numpy as np
    from mlperf_tiny.run_utils import read_json, write_json
    from mlperf_tiny.tflite_utils import TFLiteModel

    run_dir = Path(run_dir)
    _, int8_path = tflite_paths(run_dir)
    if not int8_path.exists():
        raise FileNotFoundError(f"no int8 model at {int8_path}: run the quantize script first")
    model = load_run_model(run_dir)
    tflite = TFLiteModel(model_path=int8_path)
    images = images.reshape((len(images), *tflite.input_details["shape"][1:]))
    int8_pred = tflite.predict(images, progress=progress).argmax(-1)
    float_pred = model.predict(images, verbose=0).argmax(-1)
    result = read_json(run_dir / RESULT_FILE) if (run_dir / RESULT_FILE).exists() else {}
    result.update({"acc_int8": float((int8_pred == labels).mean()), "acc_float_eval": float((float_pred == labels).mean()),
                   "int8_float_agreement": float((int8_pred == float_pred).mean()), "int8_bytes": tflite.size_bytes,
                   "int8_input_dtype": np.dtype(tflite.input_dtype).name,
                   "int8_output_dtype": np.dtype(tflite.output_dtype).name, "int8_eval_samples": int(len(labels))})
    write_json(run_dir / RESULT_FILE, result)
    print(f"{run_dir.name}: int8 accuracy {result['acc_int8']:.4f} (float {result['acc_float_eval']:.4f}, "
          f"argmax agreement {result['int8_float_agreement']:.3f}), {tflite.size_bytes:,} bytes")
    return result
