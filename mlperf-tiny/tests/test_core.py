"""Tests of the shared TF base: registry, MAC/FLOP counting, int8 TFLite helpers and run bookkeeping."""

import csv
import json

import numpy as np
import pytest
from mlperf_tiny import counting, registry, run_utils, tflite_utils


def _tiny_model():
    import tensorflow as tf

    layers = tf.keras.layers
    model = tf.keras.Sequential([
        layers.Conv2D(4, 3, input_shape=(8, 8, 3)),  # 6x6x4 outputs x 3x3x3 kernel = 3,888 MACs
        layers.DepthwiseConv2D(3),  # 4x4x4 outputs x 3x3 = 576 MACs
        layers.Flatten(),
        layers.Dense(2, activation="softmax"),  # 64 x 2 = 128 MACs
    ])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


@pytest.fixture()
def toy_data():
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 3), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype(np.int64)
    return x, y


def test_registry_lookup_and_errors():
    name = "_test_only_tiny"

    @registry.register_model(name)
    def build(**kwargs):
        return kwargs

    try:
        assert name in registry.list_models("_test_only_*")
        assert registry.get_model(name, width=3) == {"width": 3}
        with pytest.raises(ValueError, match="already registered"):
            registry.register_model(name)(lambda: None)
        with pytest.raises(KeyError, match=f"Did you mean: {name}"):
            registry.get_model("_test_only_tinny")
    finally:
        registry._MODELS.pop(name)


def test_macs_params_flops_exact():
    model = _tiny_model()
    assert counting.count_macs(model, per_layer=True) == {
        model.layers[0].name: 3888, model.layers[1].name: 576, model.layers[2].name: 0, model.layers[3].name: 128}
    assert counting.count_macs(model) == 4592
    # conv 4*(27+1) + depthwise 4*(9+1) + dense 2*(64+1)
    assert counting.count_params(model) == 112 + 40 + 130
    # TF profiler on the frozen graph: 2 FLOPs per MAC plus bias adds and softmax.
    flops = counting.count_flops(model)
    assert 2 * 4592 <= flops <= 2 * 4592 + 400


def test_int8_conversion_has_int8_io_and_agrees_with_float(toy_data):
    x, _ = toy_data
    model = _tiny_model()
    flatbuffer = tflite_utils.convert_to_tflite(model, list(x[:32]))
    tflite_model = tflite_utils.TFLiteModel(model_content=flatbuffer)
    assert tflite_model.input_dtype == np.int8 and tflite_model.output_dtype == np.int8
    agreement = (tflite_model.predict(x).argmax(1) == model.predict(x, verbose=0).argmax(1)).mean()
    assert agreement >= 0.95
    float_model = tflite_utils.TFLiteModel(model_content=tflite_utils.convert_to_tflite(model, int8=False))
    np.testing.assert_allclose(float_model.predict(x[:8]), model.predict(x[:8], verbose=0), atol=1e-5)


def test_quantize_input_rounds_and_clips_unless_faithful():
    x = np.array([0.26, 1.0, -1.0], dtype=np.float32)
    # scale 1/128, zero point 0: 0.26 -> 33.28; 1.0 -> 128 (out of int8 range)
    np.testing.assert_array_equal(tflite_utils.quantize_input(x, 1 / 128, 0, np.int8), [33, 127, -128])
    # The KWS reference casts without rounding or clipping: 33.28 truncates to 33 and 128 wraps to -128.
    np.testing.assert_array_equal(
        tflite_utils.quantize_input(x, 1 / 128, 0, np.int8, faithful_cast=True), [33, -128, -128])


def test_training_resumes_and_keeps_metrics(tmp_path, toy_data):
    x, y = toy_data
    run_utils.set_seed(0)
    model = _tiny_model()
    callbacks = run_utils.training_callbacks(tmp_path, monitor="val_accuracy", extra_metrics={"dataset": "mini"})
    model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0, callbacks=callbacks)
    assert json.loads((tmp_path / "last_epoch.json").read_text())["epochs_done"] == 2

    resumed = _tiny_model()
    initial_epoch = run_utils.resume_initial_epoch(tmp_path, resumed)
    assert initial_epoch == 2
    np.testing.assert_array_equal(resumed.get_weights()[0], model.get_weights()[0])
    resumed.fit(x, y, epochs=3, initial_epoch=initial_epoch, validation_data=(x, y), verbose=0,
                callbacks=run_utils.training_callbacks(tmp_path, monitor="val_accuracy"))
    with open(tmp_path / "history.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1, 2]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epoch"] == 3 and 0.0 <= metrics["val_accuracy"] <= 1.0
    assert (tmp_path / "best.weights.h5").exists()

    run_utils.plot_history(tmp_path / "history.csv", tmp_path / "history.png", "toy")
    assert (tmp_path / "history.png").stat().st_size > 1000
    args_path = run_utils.save_args({"epochs": 3, "data_dir": tmp_path}, tmp_path)
    saved = json.loads(args_path.read_text())
    assert saved["epochs"] == 3 and saved["data_dir"] == str(tmp_path)
    assert "numpy" in saved["_provenance"]["packages"]


def test_confusion_matrix_counts(tmp_path):
    counts = run_utils.plot_confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], ["a", "b", "c"],
                                             tmp_path / "cm.png", "toy")
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_resume_is_exact_with_adam_state_dropout_and_epoch_seeded_order(tmp_path):
    """4 epochs in one go == 2 epochs, a fresh process-like restart (new model object), 2 more: same history,
    same weights. Restoring Adam's moments, the dropout generators and the (seed, epoch) batch order makes it so."""
    import tensorflow as tf

    run_utils.resumable_dropout()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.int64)

    def run(out_dir, epochs):
        run_utils.set_seed(0)
        model = tf.keras.Sequential([tf.keras.Input((16,)), tf.keras.layers.Dense(32, activation="relu"),
                                     tf.keras.layers.Dropout(0.3), tf.keras.layers.Dense(2, activation="softmax")])
        model.compile(tf.keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", ["accuracy"])
        initial_epoch = run_utils.resume_initial_epoch(out_dir, model)
        batches, steps = run_utils.epoch_seeded_batches(x, y, 16, 0, initial_epoch, epochs)
        model.fit(batches, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps, verbose=0,
                  callbacks=run_utils.training_callbacks(out_dir, progress=False))
        return model

    straight = run(tmp_path / "straight", 4)
    run(tmp_path / "resumed", 2)
    resumed = run(tmp_path / "resumed", 4)
    assert all(np.array_equal(a, b) for a, b in zip(straight.get_weights(), resumed.get_weights()))
    assert (tmp_path / "straight" / "history.csv").read_text() == (tmp_path / "resumed" / "history.csv").read_text()
