"""The tfmot magnitude-pruning baseline: exact sparsity after strip, the schedule's end step, the VWW CLI."""

import argparse
import json

import numpy as np
import pytest
from depth_pruning import common, magnitude, sweep

# The original's hard-coded schedule length on the full VWW data: 50 epochs x 3084 batches of 32.
ORIGINAL_VWW_END_STEP = 50 * 3084


def tiny_model(input_shape=(8, 8, 2), num_classes=2):
    """Conv (72 kernel weights) -> BN -> depthwise (36, not prunable in tfmot) -> GAP -> Dense (8)."""
    import tensorflow as tf

    layers = tf.keras.layers
    inputs = tf.keras.Input(input_shape)
    x = layers.Conv2D(4, 3, name="conv")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.DepthwiseConv2D(3, name="dw")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return tf.keras.Model(inputs, layers.Dense(num_classes, activation="softmax", name="dense")(x))


def schedule_args(**overrides):
    values = dict(pruning_scheme="constant", end_sparsity=0.5, start_sparsity=0.0, epochs_recover=0,
                  pruning_frequency=1, ckpt_name=None)
    return argparse.Namespace(**{**values, **overrides})


def test_end_step_matches_the_original():
    assert magnitude.schedule_end_step(20 + 10 + 20, 3084) == ORIGINAL_VWW_END_STEP
    assert magnitude.schedule_end_step(30, 856, epochs_recover=5) == 25 * 856
    assert magnitude.run_name(schedule_args(end_sparsity=0.05)) == "mag_constant_05"


def test_polynomial_schedule_reaches_end_sparsity_at_end_step():
    schedule = magnitude.pruning_schedule("polynomial", 0.5, end_step=4, start_sparsity=0.1, frequency=1)
    sparsities = [float(schedule(step)[1]) for step in (0, 2, 4)]
    np.testing.assert_allclose(sparsities, [0.1, 0.1 + 0.4 * (1 - 0.5**3), 0.5], rtol=1e-6)  # tfmot power 3


def test_sparsity_reached_exactly_after_strip():
    rng = np.random.default_rng(0)
    model = tiny_model()
    steps = 4
    # ConstantSparsity(0.5) from step 0; the mask is recomputed every step (pruning_frequency=1)
    wrapped, end_step = magnitude.wrap_for_pruning(model, schedule_args(), 1, steps)
    assert end_step == steps
    wrapped.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = rng.uniform(size=(4 * steps, 8, 8, 2)).astype(np.float32)
    y = rng.integers(0, 2, size=4 * steps)
    wrapped.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=magnitude.pruning_callbacks())
    stripped = magnitude.strip(wrapped)
    assert not any("prune_low_magnitude" in layer.name for layer in stripped.layers)
    report = magnitude.prunable_kernel_sparsity(wrapped, stripped)
    assert report == {"sparsity": 0.5, "pruned_weights": 72 + 8, "layers": {"conv": 0.5, "dense": 0.5}}
    assert (stripped.get_layer("conv").get_weights()[0] == 0).sum() == 36
    assert (stripped.get_layer("dw").get_weights()[0] != 0).all()  # tfmot 0.8 leaves depthwise kernels dense


def test_bad_sparsity_is_a_clear_error():
    import run_contract as rc

    parser = magnitude.add_magnitude_args(rc.ArgumentParser())
    with pytest.raises(SystemExit):
        parser.parse_args(["--end_sparsity", "1.0"])
    with pytest.raises(rc.UsageError, match="start_sparsity"):
        magnitude.check_magnitude_args(schedule_args(start_sparsity=0.6), total_epochs=2)
    with pytest.raises(rc.UsageError, match="epochs_recover"):
        magnitude.check_magnitude_args(schedule_args(epochs_recover=2), total_epochs=2)


def test_vww_mag_cli_end_to_end(small_vww, tmp_path):
    import tensorflow as tf
    from depth_pruning.vww import prune_vww_mag

    # a tiny 96x96x3 base keeps this a seconds-long run; the script treats every Keras base alike
    base = tf.keras.Sequential([tf.keras.Input((96, 96, 3)), tf.keras.layers.Conv2D(4, 8, strides=8, name="conv"),
                                tf.keras.layers.GlobalAveragePooling2D(),
                                tf.keras.layers.Dense(2, activation="softmax", name="dense")])
    base.save(str(tmp_path / "base.h5"))
    record = prune_vww_mag.main.__wrapped__(["--base_model_path", str(tmp_path / "base.h5"), "--data_dir", str(small_vww),
                                 "--train_dir", str(tmp_path / "mag"), "--end_sparsity", "0.5",
                                 "--pruning_frequency", "1", "--epochs_per_stage", "1", "--learning_rates", "1e-3",
                                 "--epochs", "20", "--verbose", "0", "--skip_image_check"])
    run = tmp_path / "mag" / "mag_constant_50"
    saved = json.loads((run / common.RESULT_FILE).read_text())
    assert saved == json.loads(json.dumps(record))
    assert saved["sparsity"] == 0.5 and saved["layers"] == {"conv": 0.5, "dense": 0.5}
    assert saved["end_step"] == 4 and saved["val_samples"] == 12  # 108 training images / 32 -> 4 batches
    assert saved["params"] == 8 * 8 * 3 * 4 + 4 + 4 * 2 + 2
    model = tf.keras.models.load_model(str(run / common.MODEL_FILE), compile=False)
    assert (model.get_layer("conv").get_weights()[0] == 0).mean() == 0.5
    assert json.loads((run / "args.json").read_text())["pruning_scheme"] == "constant"
    records = sweep.main.__wrapped__(["--sweep_dir", str(tmp_path / "mag"), "--task", "vww", "--magnitude"])
    assert records == [{"end_sparsity": 0.5, "params": saved["params"], "n_seeds": 1, "sparsity": 0.5,
                        "val_accuracy": saved["val_accuracy"]}]
    assert (tmp_path / "mag" / "magnitude.csv").read_text().startswith("end_sparsity,sparsity,params")
