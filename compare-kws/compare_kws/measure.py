"""Every point is measured here, the same way: accuracy (float and int8, one test set), counts, peak memory, size.

- accuracy: top-1 on the test arrays given (Speech Commands test split, or EEMBC stimuli), float Keras model and
  its int8 TFLite file (``mlperf_tiny.tflite_utils.convert_to_tflite``: int8 weights, activations and I/O);
- int8 calibration: one calibration set for every point (MLPerf's 10 validation clips per class), or, where the
  test stimuli are the only real data (EEMBC), two folds: each half of the stimuli is evaluated by a model
  calibrated on the other half, so no stimulus is scored by a model calibrated on it;
- params: Keras ``count_params`` (BN statistics included, as MLPerf Tiny, T-RECX and depth pruning count);
  ``kernel_params``: conv/depthwise/dense weights and biases (REDS's P); ``nonzero_kernel_params``: of those,
  the non-zero ones (magnitude pruning zeroes weights but keeps the dense tensors);
- MACs: conv + dense multiply-accumulates (``mlperf_tiny.counting``), what a dense int8 kernel executes;
  ``effective_macs``: only those with a non-zero weight (what an ideal sparse kernel would execute);
- peak memory: DERO's definition on the int8 TFLite graph, the largest sum of live activations in sequential
  execution (``mlperf_tiny.tflm.activation_peak``);
- size: bytes of the int8 flatbuffer(s);
- latency: measured later for all files together (``latency.py``).

An early-exit model (T-RECX) is deployed as two int8 files, part 1 (input -> EE softmax + the backbone maps at the
exit) and part 2 (maps -> final softmax), run one after the other when the EE is not confident enough. Its peak
covers the worst case, a sample that runs both parts: the larger of part 1's peak, with the maps it hands to part 2
kept live to its last step, and part 2's peak.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

FLOAT_BATCH = 256
PEAK_NOTE_SINGLE = "one int8 graph"
PEAK_NOTE_EARLY_EXIT = ("worst case (both parts run): max(part 1 with the exit maps held to its end, part 2); "
                        "a sample leaving early needs part 1's only")


# ------------------------------------------------------------------------------------------------- counts
def _weighted_layers(model):
    import tensorflow as tf

    keras = tf.keras
    kinds = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from _weighted_layers(layer)
        elif isinstance(layer, kinds):
            yield layer


def counts(model):
    """params, kernel_params, nonzero_kernel_params, macs, effective_macs of a Keras model (batch 1)."""
    from mlperf_tiny.counting import count_macs, count_params, layer_macs

    kernel = nonzero = 0
    effective = 0.0
    for layer in _weighted_layers(model):
        weights = [np.asarray(w) for w in layer.get_weights()]
        kernel += sum(w.size for w in weights)
        nonzero += sum(int(np.count_nonzero(w)) for w in weights)
        density = np.count_nonzero(weights[0]) / weights[0].size  # the kernel; MACs scale with its non-zeros
        effective += layer_macs(layer) * density
    return {"params": count_params(model), "kernel_params": int(kernel), "nonzero_kernel_params": int(nonzero),
            "macs": int(count_macs(model)), "effective_macs": int(round(effective))}


# ---------------------------------------------------------------------------------------------- calibration
def single_fold(calibration, n_test):
    """Every test sample is scored by one int8 model calibrated on ``calibration``."""
    return [(np.asarray(calibration, np.float32), np.arange(n_test))]


def two_folds(x):
    """Even positions scored by a model calibrated on the odd ones, and the other way round."""
    x = np.asarray(x, np.float32)
    even, odd = np.arange(0, len(x), 2), np.arange(1, len(x), 2)
    return [(x[odd], even), (x[even], odd)]


def convert_int8(model, samples):
    from mlperf_tiny.tflite_utils import convert_to_tflite

    return convert_to_tflite(model, representative_samples=list(samples), int8=True, int8_io=True)


# ------------------------------------------------------------------------------------------------ peaks
def peak_bytes(path):
    """DERO's activation peak of one int8 graph (bytes)."""
    from mlperf_tiny.tflm import activation_peak

    return int(activation_peak(Path(path), rules="dero").peak_bytes)


def peak_with_outputs_held(path):
    """DERO's peak of a graph whose outputs must stay live to its last step (part 1 of an early-exit model hands
    its exit maps to part 2). The counter's buffers are kept; only the outputs' lifetimes are extended."""
    from mlperf_tiny.tflm import activation_peak, read_graph

    report = activation_peak(Path(path), rules="dero")
    graph = read_graph(Path(path))
    outputs = {graph.tensors[j].name for j in graph.outputs}
    named = {b.name for b in report.buffers}
    missing = outputs - named
    if missing:
        raise rc.RunFailed(f"{path}: outputs {sorted(missing)} have no buffer of their own in the counter's graph; "
                           f"cannot hold them live")
    last = len(report.steps) - 1
    totals = [sum(b.bytes for b in report.buffers if b.producer <= s <= (last if b.name in outputs else b.last_use))
              for s in range(len(report.steps))]
    return int(max(totals))


# ------------------------------------------------------------------------------------------- single models
def float_probabilities(model, x):
    return np.asarray(model.predict(np.asarray(x, np.float32), batch_size=FLOAT_BATCH, verbose=0))


def int8_probabilities(content, x):
    from mlperf_tiny.tflite_utils import TFLiteModel

    return TFLiteModel(model_content=content).predict(np.asarray(x, np.float32))


def measure_model(name, model, test_x, test_y, folds, tflite_dir):
    """The row of one single-exit Keras model (latency comes later); the int8 file of fold 0 is kept."""
    from mlperf_tiny.tflite_utils import save_tflite

    test_y = np.asarray(test_y)
    float_pred = float_probabilities(model, test_x).argmax(1)
    int8_pred = np.full(len(test_y), -1)
    path = Path(tflite_dir) / f"{name}_int8.tflite"
    for fold, (calibration, indices) in enumerate(folds):
        content = convert_int8(model, calibration)
        if fold == 0:
            save_tflite(content, path)
            size = len(content)
        int8_pred[indices] = int8_probabilities(content, np.asarray(test_x)[indices]).argmax(1)
    return {
        "float_accuracy": float((float_pred == test_y).mean()),
        "int8_accuracy": float((int8_pred == test_y).mean()),
        "int8_float_agreement": float((int8_pred == float_pred).mean()),
        "test_samples": int(len(test_y)),
        **counts(model),
        "peak_bytes": peak_bytes(path),
        "peak_note": PEAK_NOTE_SINGLE,
        "tflite_bytes": int(size),
        "tflite": [str(path)],
        "latency_weights": [1.0],
    }


# ------------------------------------------------------------------------------------------- early exit
def _two_part_int8(part1, part2, calibration):
    calibration = np.asarray(calibration, np.float32)
    features = part1.predict(calibration, batch_size=FLOAT_BATCH, verbose=0)[1]
    return convert_int8(part1, calibration), convert_int8(part2, features)


def _outputs_by_rank(interpreter):
    """{rank: (tensor index, scale, zero point)} of the outputs (part 1: 2 = EE softmax, 4 = exit maps)."""
    found = {}
    for d in interpreter.get_output_details():
        scale, zero_point = d["quantization"]
        found[len(d["shape"])] = (d["index"], scale, zero_point)
    return found


def run_two_parts(content1, content2, x):
    """(EE probabilities, final probabilities) of every sample through the int8 parts, batch 1. Part 2 gets part
    1's int8 maps requantized to its own input parameters (both were calibrated on the same maps)."""
    from mlperf_tiny.tflite_utils import make_interpreter, quantize_input

    first, second = make_interpreter(model_content=content1), make_interpreter(model_content=content2)
    in1, in2 = first.get_input_details()[0], second.get_input_details()[0]
    out1, out2 = _outputs_by_rank(first), second.get_output_details()[0]
    probs_ee, probs_final = [], []
    for sample in np.asarray(x, np.float32):
        scale, zero_point = in1["quantization"]
        first.set_tensor(in1["index"], quantize_input(sample[None], scale, zero_point, in1["dtype"]))
        first.invoke()
        index, scale, zero_point = out1[2]
        probs_ee.append((first.get_tensor(index).astype(np.float32) - zero_point) * scale)
        index, scale, zero_point = out1[4]
        maps = (first.get_tensor(index).astype(np.float32) - zero_point) * scale
        scale2, zero_point2 = in2["quantization"]
        second.set_tensor(in2["index"], quantize_input(maps, scale2, zero_point2, in2["dtype"]))
        second.invoke()
        scale, zero_point = out2["quantization"]
        probs_final.append((second.get_tensor(out2["index"]).astype(np.float32) - zero_point) * scale)
    return np.concatenate(probs_ee), np.concatenate(probs_final)


def exit_trace(truth, probabilities):
    """One exit's trace as ``trecx.curves`` reads it (``load_trace``'s arrays: truth, prediction, max softmax)."""
    probabilities = np.asarray(probabilities)
    return {"truth": np.asarray(truth).astype(np.int64), "prediction": probabilities.argmax(1),
            "score": probabilities.max(1).astype(np.float64)}


def measure_early_exit(name, model, thresholds, test_x, test_y, folds, tflite_dir):
    """One row per exit threshold rho of a T-RECX model: accuracy, exit rate and average MACs at rho, float and
    int8 (trecx's own curve code: exit when the EE max-softmax >= rho; cost r C_Ee + (1 - r) C_Ef)."""
    from mlperf_tiny.tflite_utils import save_tflite

    from trecx import curves
    from trecx import early_exit as ee

    test_x, test_y = np.asarray(test_x, np.float32), np.asarray(test_y)
    part1, part2 = ee.split_at_early_exit(model)
    macs_ee, macs_final = ee.exit_costs(model)
    probs_ee, probs_final = model.predict(test_x, batch_size=FLOAT_BATCH, verbose=0)
    int8_ee = np.zeros_like(probs_ee)
    int8_final = np.zeros_like(probs_final)
    paths = [Path(tflite_dir) / f"{name}_part1_int8.tflite", Path(tflite_dir) / f"{name}_part2_int8.tflite"]
    for fold, (calibration, indices) in enumerate(folds):
        contents = _two_part_int8(part1, part2, calibration)
        if fold == 0:
            for content, path in zip(contents, paths):
                save_tflite(content, path)
            sizes = [len(c) for c in contents]
        int8_ee[indices], int8_final[indices] = run_two_parts(*contents, test_x[indices])
    float_traces = [exit_trace(test_y, p) for p in (probs_ee, probs_final)]
    int8_traces = [exit_trace(test_y, p) for p in (int8_ee, int8_final)]
    common = {"test_samples": int(len(test_y)), **counts(model),
              "peak_bytes": max(peak_with_outputs_held(paths[0]), peak_bytes(paths[1])),
              "peak_note": PEAK_NOTE_EARLY_EXIT, "tflite_bytes": int(sum(sizes)), "tflite": [str(p) for p in paths],
              "macs_ee": int(macs_ee), "macs_final": int(macs_final)}
    rows = []
    for rho in thresholds:
        at_float = curves.operating_point(*float_traces, rho, macs_ee, macs_final)
        at_int8 = curves.operating_point(*int8_traces, rho, macs_ee, macs_final)
        rows.append({**common, "rho": float(rho), "float_accuracy": at_float["accuracy"],
                     "float_exit_rate": at_float["exit_rate"], "int8_accuracy": at_int8["accuracy"],
                     "exit_rate": at_int8["exit_rate"],
                     # what the deployed int8 pair executes on average (its exit rate)
                     "macs": int(round(at_int8["avg_macs"])), "effective_macs": int(round(at_int8["avg_macs"])),
                     "latency_weights": [1.0, 1.0 - at_int8["exit_rate"]]})
    return rows
