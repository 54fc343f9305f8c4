"""Deployment of the subnetworks: int8 TFLite per subnetwork with measured size, MACs, latency, switch time.

TFLite has no run-time slicing of weight tensors, so each subnetwork is its own flatbuffer (extracted with
``reds_model.extract_subnetwork``); "switching" there means loading another interpreter, which is measured.
In the nested Keras model a switch only changes the slice bounds (``RedsModel.call_subnetwork``); its cost
is measured as the latency difference between a call that follows another width and a repeated call.
The paper's < 40 us figure is for a TFLite-Micro kernel that changes tensor shapes in place (not ported).
"""

import time

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
from mlperf_tiny.counting import count_macs
from mlperf_tiny.tflite_utils import TFLiteModel, convert_to_tflite, make_interpreter, save_tflite

LATENCY_REPEATS = 50  # single-sample invokes averaged per subnetwork
CALIBRATION_SAMPLES = 100  # representative samples for int8 calibration


def tflite_latency_ms(model_content, sample, repeats=LATENCY_REPEATS):
    tfl = TFLiteModel(model_content=model_content)
    tfl.predict(sample[:1])  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        tfl.predict(sample[:1])
    return (time.perf_counter() - start) / repeats * 1e3


def tflite_switch_ms(model_contents, repeats=5):
    """Mean time to bring up another subnetwork's interpreter (load + allocate tensors)."""
    times = []
    for _ in range(repeats):
        for content in model_contents:
            start = time.perf_counter()
            make_interpreter(model_content=content)
            times.append(time.perf_counter() - start)
    return float(np.mean(times) * 1e3)


def nested_switch_us(reds_model, sample, repeats=20):
    """Median latency (us) of a nested-model call right after a width switch and of a repeated call.

    Both are reported: the switch itself only picks another slice plan, so the difference is within the
    timing noise of a shared CPU (it was even negative under load).
    """
    import tensorflow as tf

    fns = [tf.function(lambda x, i=i: reds_model.call_subnetwork(x, i)) for i in range(len(reds_model.plans))]
    x = tf.constant(sample[:1])
    for fn in fns:
        fn(x)
    same, switched = [], []
    for _ in range(repeats):
        for fn in fns:
            start = time.perf_counter()
            fn(x)
            switched.append(time.perf_counter() - start)
            start = time.perf_counter()
            fn(x)
            same.append(time.perf_counter() - start)
    return {"nested_keras_after_switch_us": float(np.median(switched) * 1e6),
            "nested_keras_same_width_us": float(np.median(same) * 1e6)}


def export_subnetwork(sub, name, out_dir, calibration, test_x, test_y, int8=True):
    """Convert one plain subnetwork; returns its deployment metrics (accuracy measured on the TFLite model)."""
    content = convert_to_tflite(sub, representative_samples=list(calibration), int8=int8)
    path = save_tflite(content, out_dir / f"{name}{'_int8' if int8 else ''}.tflite")
    tfl = TFLiteModel(model_content=content)
    accuracy = float(np.mean(tfl.predict(test_x).argmax(1) == test_y))
    return content, {
        "tflite": str(path),
        "tflite_bytes": len(content),
        "tflite_accuracy": accuracy,
        "tflite_latency_ms": tflite_latency_ms(content, test_x),
        "macs": int(count_macs(sub)),
    }
