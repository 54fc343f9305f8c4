"""REDS's starting points from the fidelity kit, through the REDS evaluation path (``python -m reds.evaluate``).

The reference side is computed here from the artifacts themselves: ARM's int8 ``*_quantized.tflite`` run by a plain
interpreter loop on the same clips, the shipped vision ``.keras`` models loaded whole by Keras.
"""

import json

import mlperf_tiny  # noqa: F401
import numpy as np
import pytest
import run_contract as rc

from reds import evaluate

pytestmark = pytest.mark.fidelity

# (architecture, size, checkpoint folder, the floor for our accuracy on td_samples in percent)
ARM_CHECKPOINTS = [("ds_cnn", "s", "ds_cnn_s", 85.0), ("ds_cnn", "m", "ds_cnn_m", 85.0), ("cnn", "s", "cnn_s", 85.0),
                   ("dnn", "s", "dnn_s", 75.0)]
MIN_TFLITE_AGREEMENT = 0.9  # our float Keras model vs ARM's int8 TFLite on the same features (measured 0.92-0.95)


def _checkpoint_params(prefix):
    """Parameters stored in an ARM checkpoint (weights and BN statistics, not the optimizer's slots)."""
    import tensorflow as tf

    return sum(int(np.prod(shape)) for name, shape in tf.train.list_variables(str(prefix))
               if name.startswith("layer_with_weights-") and "OPTIMIZER_SLOT" not in name)


def _tflite_predictions(path, features):
    from mlperf_tiny.tflite_utils import make_interpreter

    interpreter = make_interpreter(model_path=path)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    predictions = []
    for sample in features:
        interpreter.set_tensor(inp["index"], sample.reshape(inp["shape"]).astype(inp["dtype"]))
        interpreter.invoke()
        predictions.append(int(interpreter.get_tensor(out["index"]).argmax()))
    return np.array(predictions)


@pytest.mark.parametrize("architecture,size,folder,floor", ARM_CHECKPOINTS, ids=[c[2] for c in ARM_CHECKPOINTS])
def test_arm_checkpoint_on_kit_audio(kit, tmp_path, fidelity_record, architecture, size, folder, floor):
    data = kit / "eembc" / "kws01-open" / "td_samples"
    model_dir = kit / "models" / "reds" / "arm_kws" / folder
    out = tmp_path / "result.json"
    argv = ["--dataset", "speech_commands", "--architecture_name", architecture, "--model_sizes", size,
            "--pretrained_weights", str(model_dir / "ckpt"), "--data_dir", str(data), "--json", str(out)]
    assert evaluate.main(argv) == 0
    result = json.loads(out.read_text())
    (entry,) = result["models"]
    assert result["n"] == entry["n"] == 100
    assert entry["weights_kind"] == "tf_checkpoint" and entry["weights"].endswith("_ckpt")
    assert entry["params"] == _checkpoint_params(entry["weights"])
    assert entry["accuracy"] >= floor

    # reference: ARM's int8 TFLite, a plain interpreter loop on the same ARM-front-end features and labels
    settings = evaluate.settings_namespace(evaluate.get_args_parser().parse_args(argv))
    features, labels, _ = evaluate.test_data(settings, data)
    reference = _tflite_predictions(model_dir / f"{folder}_quantized.tflite", features)
    reference_accuracy = 100.0 * float(np.mean(reference == labels))
    assert reference_accuracy >= floor
    model = evaluate.builder(settings, size, features.shape[1:])()
    from reds.utils import checkpoints

    checkpoints.load_pretrained(model, model_dir / "ckpt")
    ours = np.asarray(model(features, training=False)).argmax(1)
    assert 100.0 * np.mean(ours == labels) == pytest.approx(entry["accuracy"])
    assert np.mean(ours == reference) >= MIN_TFLITE_AGREEMENT
    fidelity_record(f"ARM {folder} ckpt on kws01-open/td_samples", params_ours=entry["params"],
                    params_original=_checkpoint_params(entry["weights"]), accuracy_ours=entry["accuracy"],
                    accuracy_reference=reference_accuracy, data=data, n=100,
                    note=f"reference: ARM's int8 {folder}_quantized.tflite; agreement {np.mean(ours == reference):.0%}")


def test_arm_checkpoint_label_and_head_mismatches_are_refused(kit, tmp_path):
    data = kit / "eembc" / "kws01-open" / "td_samples"
    ckpt = kit / "models" / "reds" / "arm_kws" / "ds_cnn_s" / "ckpt" / "ds_cnn_0.94_ckpt.index"
    base = ["--dataset", "speech_commands", "--pretrained_weights", str(ckpt), "--data_dir", str(data)]
    with pytest.raises(rc.UsageError, match="ARM's label order"):
        evaluate.main.__wrapped__(base + ["--label_order", "mlperf"])
    with pytest.raises(rc.UsageError, match="12 output classes.*here has 4"):
        evaluate.main.__wrapped__(base + ["--wanted_words", "yes,no"])
    with pytest.raises(rc.UsageError, match="another architecture"):
        evaluate.main.__wrapped__(base + ["--model_sizes", "m"])


def _load_whole(path):
    from mlperf_tiny import model_io

    return model_io.load_model(path).keras_model


@pytest.mark.parametrize("dataset", ["fashion_mnist", "cifar10", "mnist"])
def test_shipped_vision_models_load_into_our_architecture(kit, fidelity_record, dataset):
    from reds.utils import checkpoints

    path = kit / "models" / "reds" / "vision" / f"{dataset}_ds_cnn_sizeS.keras"
    original = _load_whole(path)
    shape = tuple(original.input_shape[1:])
    ours = evaluate.builder(evaluate.settings_namespace(evaluate.get_args_parser().parse_args(
        ["--dataset", dataset, "--pretrained_weights", str(path), "--data_dir", "."])), "s", shape)()
    assert checkpoints.load_pretrained(ours, path)[0] == "keras"
    assert ours.count_params() == original.count_params() == {"fashion_mnist": 34_954, "cifar10": 30_986,
                                                              "mnist": 43_338}[dataset]
    x = np.random.default_rng(0).normal(size=(64, *shape)).astype(np.float32)
    diff = float(np.abs(ours.predict(x, verbose=0) - original.predict(x, verbose=0)).max())
    assert diff < 1e-5
    fidelity_record(f"REDS vision {dataset}_ds_cnn_sizeS.keras", params_ours=ours.count_params(),
                    params_original=original.count_params(), max_output_diff=diff, n=64,
                    note="outputs on random inputs (accuracy rows: real data)")


def test_cifar10_model_on_kit_images(kit, tmp_path, fidelity_record):
    data = kit / "eembc" / "ic01"
    path = kit / "models" / "reds" / "vision" / "cifar10_ds_cnn_sizeS.keras"
    out = tmp_path / "result.json"
    assert evaluate.main(["--dataset", "cifar10", "--pretrained_weights", str(path), "--data_dir", str(data),
                          "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    settings = evaluate.settings_namespace(evaluate.get_args_parser().parse_args(
        ["--dataset", "cifar10", "--pretrained_weights", str(path), "--data_dir", str(data)]))
    x, labels, _ = evaluate.test_data(settings, data)
    reference = 100.0 * float(np.mean(_load_whole(path).predict(x, verbose=0).argmax(1) == labels))
    assert result["n"] == 50 and result["accuracy"] == pytest.approx(reference)
    assert reference >= 60.0  # the shipped model scores 78.28 % on the full test set (paper); 50 images here
    fidelity_record("REDS vision cifar10_ds_cnn_sizeS.keras on ic01", accuracy_ours=result["accuracy"],
                    accuracy_reference=reference, data=data, n=50, note="reference: the .keras loaded whole by Keras")


FASHION_MNIST_SYSTEM = "/usr/share/datasets/fashion-mnist"


def test_fashion_mnist_model_on_real_test_set(kit, tmp_path, fidelity_record):
    from pathlib import Path

    from reds.utils import datasets

    data = Path(FASHION_MNIST_SYSTEM)
    if not all((data / name).is_file() for name in datasets.FASHION_MNIST_FILES):
        pytest.skip(f"real Fashion-MNIST not installed in {data} (apt-get install dataset-fashion-mnist)")
    assert all(datasets.fashion_mnist_content_ok(data / name) for name in datasets.FASHION_MNIST_FILES)
    path = kit / "models" / "reds" / "vision" / "fashion_mnist_ds_cnn_sizeS.keras"
    out = tmp_path / "result.json"
    assert evaluate.main(["--dataset", "fashion_mnist", "--pretrained_weights", str(path), "--data_dir", str(data),
                          "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    x, labels, _ = evaluate.vision_test_data("fashion_mnist", data)
    reference = 100.0 * float(np.mean(_load_whole(path).predict(x, verbose=0).argmax(1) == labels))
    assert result["n"] == 10_000 and result["accuracy"] == pytest.approx(reference)
    assert reference >= 90.0  # the paper reports 90.28 % for this pretrained model
    fidelity_record("REDS vision fashion_mnist_ds_cnn_sizeS.keras on Fashion-MNIST test", accuracy_ours=result["accuracy"],
                    accuracy_reference=reference, data=data, n=10_000,
                    note="reference: the .keras loaded whole by Keras; paper: 90.28 %")
