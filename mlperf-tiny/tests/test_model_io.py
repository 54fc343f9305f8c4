"""model_io: every kind of model file loads behind one interface; every bad file is one clear UsageError."""

import numpy as np
import pytest
import run_contract as rc
from mlperf_tiny import model_io, tflite_utils


@pytest.fixture(scope="module")
def ad_shaped_files(tmp_path_factory):
    """A tiny 640 -> 640 Keras model saved as .h5, .keras, SavedModel, weights-only h5, float and int8 .tflite."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("models")
    tf.random.set_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((640,)), tf.keras.layers.Dense(8, activation="relu"),
                                 tf.keras.layers.Dense(640)])
    model.save(root / "model.h5")
    model.save(root / "model.keras")
    model.save(root / "saved_model")
    model.save_weights(root / "only.weights.h5")
    calibration = np.random.default_rng(0).normal(size=(32, 640)).astype(np.float32)
    (root / "float.tflite").write_bytes(tflite_utils.convert_to_tflite(model, int8=False))
    (root / "int8.tflite").write_bytes(tflite_utils.convert_to_tflite(model, list(calibration)))
    return root, model, calibration


@pytest.mark.parametrize("name, kind", [("model.h5", "keras_h5"), ("model.keras", "keras_v3"),
                                        ("saved_model", "saved_model"), ("float.tflite", "tflite")])
def test_every_kind_loads_and_predicts_like_keras(ad_shaped_files, name, kind):
    root, model, x = ad_shaped_files
    loaded = model_io.load_model(root / name)
    assert loaded.kind == kind and loaded.input_shape == (640,) and loaded.output_shapes == [(640,)]
    assert not loaded.is_int8 and model_io.task_of_input_shape(loaded.input_shape) == "ad"
    np.testing.assert_allclose(loaded.predict(x[:4]), model.predict(x[:4], verbose=0), rtol=1e-5, atol=1e-5)


def test_int8_tflite_quantizes_inputs_with_its_own_parameters(ad_shaped_files):
    root, model, x = ad_shaped_files
    loaded = model_io.load_model(root / "int8.tflite")
    scale, zero_point = loaded.input_quantization
    assert loaded.input_dtype == np.int8 and scale > 0
    # The same as feeding the interpreter round(x / scale + zp) by hand and dequantizing its output.
    interpreter = tflite_utils.make_interpreter(model_path=root / "int8.tflite")
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    q = np.clip(np.round(x[:1] / scale + zero_point), -128, 127).astype(np.int8)
    interpreter.set_tensor(inp["index"], q)
    interpreter.invoke()
    out_scale, out_zero_point = out["quantization"]
    by_hand = (interpreter.get_tensor(out["index"]).astype(np.float32) - out_zero_point) * out_scale
    np.testing.assert_array_equal(loaded.predict(x[:1]), by_hand)


def _error(path):
    with pytest.raises(rc.UsageError) as err:
        model_io.load_model(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


def test_bad_files_are_one_line_errors(ad_shaped_files, tmp_path):
    root, _, _ = ad_shaped_files
    data = (root / "model.h5").read_bytes()
    (tmp_path / "truncated.h5").write_bytes(data[: len(data) // 3])
    (tmp_path / "truncated.tflite").write_bytes((root / "int8.tflite").read_bytes()[:2000])
    (tmp_path / "empty.tflite").write_bytes(b"")
    (tmp_path / "text.h5").write_text("not a model\n")
    (tmp_path / "folder").mkdir()
    assert "not found" in _error(tmp_path / "absent.h5")
    assert "truncated or corrupt HDF5" in _error(tmp_path / "truncated.h5")
    assert "truncated or corrupt TFLite" in _error(tmp_path / "truncated.tflite")
    assert "empty (0 bytes)" in _error(tmp_path / "empty.tflite")
    assert "no HDF5 signature" in _error(tmp_path / "text.h5")
    assert "without saved_model.pb" in _error(tmp_path / "folder")
    assert "weights only" in _error(root / "only.weights.h5")


@pytest.mark.parametrize("shape, task", [((49, 10, 1), "kws"), ((None, 490), "kws"), ((1, 32, 32, 3), "ic"),
                                         ((96, 96, 1), "vww"), ((96, 96, 3), "vww"), ((640,), "ad"),
                                         ((28, 28, 1), None)])
def test_task_of_input_shape(shape, task):
    assert model_io.task_of_input_shape(shape) == task


def test_model_of_another_task_is_refused(ad_shaped_files):
    root, model, _ = ad_shaped_files
    assert model_io.check_model_task(root / "float.tflite", "ad").kind == "tflite"
    with pytest.raises(rc.UsageError, match=r"input shape 640 is that of an ad \(anomaly detection\) model; kws"):
        model_io.check_model_task(root / "float.tflite", "kws")
    with pytest.raises(rc.UsageError, match="input shape 640 is that of an ad"):
        model_io.check_model_task(model, "vww")  # a Keras model works too
