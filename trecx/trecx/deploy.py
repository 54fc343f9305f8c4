"""Two-part int8 TFLite deployment of a T-RECX model and a runner applying the exit rule between the parts.

Part 1: input -> (EE softmax, backbone features at the exit); part 2: features -> final softmax. A device runs
part 1, stops when the EE confidence passes rho, else feeds the features to part 2. Every file is int8 through and
through, inputs and outputs included, as a microcontroller runs it (float I/O would add float copies of the input
and of the features to the arena); the runner quantizes inputs with each file's scale and zero point and
dequantizes outputs. The runner reports measured
accuracy and average MACs (per sample: C(part 1), plus C(part 2) when it ran).

TFLite Micro (``mlperf_tiny.tflm``) measures what each int8 file needs on the microcontroller: the smallest tensor
arena of part 1 and part 2, of the early-exit path alone (input -> EE softmax, what a sample that exits runs when the
backbone features need not be kept for part 2) and of the base model without early exit, plus their flash bytes.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np

DEPLOY_RHOS = (0.5, 0.7, 0.8, 0.9, 0.95)  # thresholds reported for the deployed pair


def export_parts(model, calibration, out_dir, name):
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    from trecx import early_exit as ee

    part1, part2 = ee.split_at_early_exit(model)
    features = part1.predict(calibration, verbose=0)[1]
    paths = []
    for suffix, part, samples in (("part1", part1, calibration), ("part2", part2, features)):
        flatbuffer = convert_to_tflite(part, representative_samples=list(samples), int8=True, int8_io=True)
        paths.append(save_tflite(flatbuffer, Path(out_dir) / f"{name}_{suffix}_int8.tflite"))
    return part1, part2, paths


def export_int8(model, calibration, path):
    """One int8 file (int8 input and output, as the parts) of ``model``, e.g. the EE path alone or the base model."""
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    return save_tflite(convert_to_tflite(model, representative_samples=list(calibration), int8=True, int8_io=True),
                       Path(path))


TFLM_KEYS = ("arena_bytes", "activation_bytes", "persistent_bytes", "flatbuffer_bytes")


def tflm_figures(path):
    """TFLite Micro's memory figures of one .tflite file: the smallest arena (its activation and persistent sections)
    and the flatbuffer (flash) bytes, from ``mlperf_tiny.tflm.measure``."""
    from mlperf_tiny import tflm

    measured = tflm.measure(path)
    return {"file": Path(path).name, **{key: measured[key] for key in TFLM_KEYS}}


def _dequantize(details, values):
    if not np.issubdtype(details["dtype"], np.integer):
        return values
    scale, zero_point = details["quantization"]
    return (values.astype(np.float32) - zero_point) * np.float32(scale)


def _run(interpreter, inputs):
    """Float inputs in (quantized with the file's input scale), float outputs out (dequantized), by output name."""
    from mlperf_tiny.tflite_utils import quantize_input

    details = interpreter.get_input_details()[0]
    if np.issubdtype(details["dtype"], np.integer):
        inputs = quantize_input(inputs, *details["quantization"], details["dtype"])
    interpreter.set_tensor(details["index"], inputs.astype(details["dtype"]))
    interpreter.invoke()
    return {d["name"]: _dequantize(d, interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details()}


def run_pair(path1, path2, samples, truth, rho, macs1, macs2, strict=False):
    """Batch-1 dynamic exit on the two TFLite parts: (accuracy, exit rate, average MACs)."""
    from mlperf_tiny.tflite_utils import make_interpreter

    first, second = make_interpreter(model_path=path1), make_interpreter(model_path=path2)
    correct, exited, total = 0, 0, 0
    for sample, label in zip(samples, truth):
        outputs = list(_run(first, sample[None]).values())
        probs_ee = next(o for o in outputs if o.ndim == 2)  # (1, classes)
        features = next(o for o in outputs if o.ndim == 4)  # (1, H, W, C) backbone maps at the exit
        score = float(probs_ee.max())
        total += macs1
        if (score > rho) if strict else (score >= rho):
            prediction, exited = int(probs_ee.argmax()), exited + 1
        else:
            prediction = int(list(_run(second, features).values())[0].argmax())
            total += macs2
        correct += prediction == label
    n = len(truth)
    return {"rho": rho, "accuracy": correct / n, "exit_rate": exited / n, "avg_macs": total / n}


def export_and_run(model, samples, truth, out_dir, name, calibration, strict=False, rhos=DEPLOY_RHOS,
                   baseline_tflm=None):
    """Export the two parts (and the EE path alone), run the dynamic exit on them for each rho, and measure every
    file on TFLite Micro (``baseline_tflm``: the base model's figures, reported beside them)."""
    from mlperf_tiny.counting import count_macs

    from trecx import early_exit as ee

    part1, part2, (path1, path2) = export_parts(model, calibration, out_dir, name)
    to_ee, _ = ee.exit_submodels(model)
    path_ee = export_int8(to_ee, calibration, Path(out_dir) / f"{name}_ee_only_int8.tflite")
    macs1, macs2 = count_macs(part1), count_macs(part2)
    tflm = {"part1": tflm_figures(path1), "part2": tflm_figures(path2), "ee_only": tflm_figures(path_ee),
            "baseline": baseline_tflm}
    # A device running the parts in turn reuses one arena: the larger of the two.
    tflm["split_arena_bytes"] = max(tflm["part1"]["arena_bytes"], tflm["part2"]["arena_bytes"])
    print(f"[tflm {name}] arena part1 {tflm['part1']['arena_bytes']:,} B, part2 {tflm['part2']['arena_bytes']:,} B, "
          f"EE only {tflm['ee_only']['arena_bytes']:,} B"
          + ("" if baseline_tflm is None else f", base model {baseline_tflm['arena_bytes']:,} B"))
    report = {"part1": str(path1), "part2": str(path2), "ee_only": str(path_ee), "part1_bytes": path1.stat().st_size,
              "part2_bytes": path2.stat().st_size, "tflm": tflm, "points": []}
    for rho in rhos:
        point = run_pair(path1, path2, samples, truth, rho, macs1, macs2, strict)
        report["points"].append(point)
        print(f"[tflite int8 {name}] rho={rho:.2f} acc={100 * point['accuracy']:.2f}% "
              f"exit_rate={point['exit_rate']:.3f} avg MMACs {point['avg_macs'] / 1e6:.3f}")
    return report
