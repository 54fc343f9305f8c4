"""The real-data panel: the kit's kws_ref_model on the kit's EEMBC kws01 stimuli, against plain reference loops."""

import csv

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import pytest
from compare_kws.compare import main

pytestmark = pytest.mark.fidelity


@pytest.fixture(scope="module")
def panel(tmp_path_factory, kit):
    model_dir = kit / "models" / "mlperf" / "keyword_spotting"
    out = tmp_path_factory.mktemp("real") / "kws_real"
    assert main(["--base", str(model_dir / "kws_ref_model"), "--data_dir", str(kit / "eembc" / "kws01"),
                 "--reference_int8", str(model_dir / "kws_ref_model.tflite"), "--out_dir", str(out),
                 "--sparsities", "0.5", "--latency_runs", "5", "--latency_warmup", "1"]) == 0
    with open(out / "points.csv", newline="") as f:
        return {row["point"]: row for row in csv.DictReader(f)}


def kit_stimuli(kit):
    """(int8 MFCC bytes [N, 49, 10, 1], labels) read straight from y_labels.csv and the .bin files."""
    folder = kit / "eembc" / "kws01"
    rows = [line.split(",") for line in (folder / "y_labels.csv").read_text().splitlines() if line.strip()]
    x = np.stack([np.fromfile(folder / name.strip(), dtype=np.int8).reshape(49, 10, 1) for name, _, _ in rows])
    return x, np.array([int(label) for _, _, label in rows])


def test_reference_rows_equal_plain_keras_and_litert_loops(panel, kit, fidelity_record):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    model_dir = kit / "models" / "mlperf" / "keyword_spotting"
    q, labels = kit_stimuli(kit)
    interpreter = Interpreter(model_path=str(model_dir / "kws_ref_model.tflite"))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    int8_hits = 0
    for sample, label in zip(q, labels):  # the kws01 bytes are this file's int8 input
        interpreter.set_tensor(inp["index"], sample[None])
        interpreter.invoke()
        int8_hits += int(interpreter.get_tensor(out["index"]).argmax() == label)
    scale, zero_point = inp["quantization"]  # the bytes were made with these: dequantize for the float model
    keras_model = tf.keras.models.load_model(str(model_dir / "kws_ref_model"), compile=False)
    float_hits = sum(int(keras_model((s[None].astype(np.float32) - zero_point) * scale).numpy().argmax() == label)
                     for s, label in zip(q, labels))
    n = len(labels)
    base, shipped = panel["base"], panel["reference_int8"]
    assert int(base["test_samples"]) == int(shipped["test_samples"]) == n == 200
    assert float(base["float_accuracy"]) == pytest.approx(float_hits / n, abs=1e-12)
    assert float(shipped["int8_accuracy"]) == pytest.approx(int8_hits / n, abs=1e-12)
    assert (int(base["params"]), int(base["macs"])) == (24_908, 2_656_768)
    assert int(shipped["tflite_bytes"]) == (model_dir / "kws_ref_model.tflite").stat().st_size
    fidelity_record("kws_ref_model on kws01 (compare-kws real-data panel, float)", params_ours=int(base["params"]),
                    accuracy_ours=100 * float(base["float_accuracy"]), accuracy_reference=100 * float_hits / n,
                    data=kit / "eembc" / "kws01", n=n)
    fidelity_record("kws_ref_model.tflite on kws01 (compare-kws real-data panel, int8)",
                    accuracy_ours=100 * float(shipped["int8_accuracy"]), accuracy_reference=100 * int8_hits / n,
                    data=kit / "eembc" / "kws01", n=n)


def test_training_free_magnitude_point(panel):
    row = panel["magnitude_no_finetune_50"]
    assert row["data"] == "real (EEMBC)"
    assert (row["params"], row["macs"], row["tflite_bytes"]) == (panel["base"]["params"], panel["base"]["macs"],
                                                                 panel["base"]["tflite_bytes"])
    zeros = int(row["kernel_params"]) - int(row["nonzero_kernel_params"])
    assert zeros >= 0.5 * (64 * 10 * 4 + 4 * 64 * 64 + 64 * 12) - 10  # half of every conv / dense kernel (tfmot's)
    assert float(row["int8_accuracy"]) < float(panel["base"]["int8_accuracy"])
