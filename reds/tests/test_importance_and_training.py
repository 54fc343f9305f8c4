"""Taylor scores, permutations (function-preserving variants vs faithful quirks), loss weights, optimizer."""

import mlperf_tiny  # noqa: F401
import numpy as np
import pytest
import tensorflow as tf
from reds.utils import forward
from reds.utils import importance_score as isc
from reds.utils import keyword_spotting_models as km

keras = tf.keras


def test_taylor_scores_match_hand_computed_values():
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(3, name="logits")])
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)  # two batches of five
    y = rng.integers(0, 3, size=(2, 5))
    grads = isc.accumulate_gradients(model, zip(x, y), minibatch_number=2)
    kernel, bias = model.get_weights()
    G = np.zeros_like(kernel)
    for xb, yb in zip(x, y):
        logits = xb @ kernel + bias
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        G += xb.T @ (p - np.eye(3)[yb]) / len(xb)  # mean cross-entropy gradient
    expected = np.round(np.abs(kernel * G).sum(axis=0) * isc.SCORE_SCALE)
    np.testing.assert_allclose(isc.unit_scores(grads["logits"], "dense"), expected, atol=1)


def _randomise(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.weights])
        elif layer.weights:
            layer.set_weights([rng.normal(scale=0.3, size=w.shape).astype(np.float32) for w in layer.weights])


def _random_scores(model, rng):
    return {layer.name: rng.integers(0, 1000, layer.output_shape[-1]) for layer in model.layers
            if layer.name.startswith(("dense_", "conv_", "dw_"))}


@pytest.mark.parametrize("family,flags,preserving", [
    ("dnn", {}, True),
    ("cnn", {"channel_aware_flatten_slice": True}, True),
    ("cnn", {}, False),  # Q4: flatten rows not reordered
    ("ds_cnn", {"consistent_permutation": True}, True),
    ("ds_cnn", {}, False),  # Q3: previous pointwise filters not reordered
])
def test_permutation_preserves_the_function_only_in_the_consistent_variants(family, flags, preserving):
    model = getattr(km, family)("s")
    _randomise(model, 1)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, *model.input_shape[1:])).astype(np.float32)
    before = model(x, training=False).numpy()
    scores = _random_scores(model, rng)
    perms = isc.permute_model(model, scores, **flags)
    after = model(x, training=False).numpy()
    if preserving:
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5 * np.abs(before).max())
    else:
        assert np.abs(after - before).max() > 1e-3 * (1 + np.abs(before).max())
    sorted_scores = isc.permuted_scores(scores, perms)
    for name in model.layers:
        if name.name in perms and name.name in scores and name.name != "dw_1":
            assert np.all(np.diff(sorted_scores[name.name]) <= 0), name.name


def test_loss_weights_sum_to_one_and_grow_with_parameter_share():
    alphas = forward.loss_weights([1000, 250, 500, 750])
    assert alphas.sum() == pytest.approx(1.0)
    assert alphas[1] < alphas[2] < alphas[3] < alphas[0]
    assert alphas[1] / alphas[0] == pytest.approx(np.sqrt(0.25))


def test_step_one_adam_keeps_bias_correction_at_step_one():
    """Q1: the original's update_step never advanced ``iterations``; step 2 differs from a real Adam."""
    lr, g = 0.01, np.array([0.5, -2.0], np.float32)
    faithful_var, real_var = tf.Variable([1.0, 1.0]), tf.Variable([1.0, 1.0])
    faithful, real = forward.StepOneAdam(lr), keras.optimizers.Adam(lr)
    for _ in range(2):
        faithful.apply_gradients([(tf.constant(g), faithful_var)])
        real.apply_gradients([(tf.constant(g), real_var)])
    b1, b2, eps = forward.ADAM_BETA_1, forward.ADAM_BETA_2, forward.ADAM_EPSILON
    m = (1 - b1) * g * (1 + b1)
    v = (1 - b2) * g**2 * (1 + b2)
    first_step = lr * g / (np.abs(g) + eps)
    expected = 1.0 - first_step - lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps)
    np.testing.assert_allclose(faithful_var.numpy(), expected, rtol=1e-5)
    assert np.abs(faithful_var.numpy() - real_var.numpy()).max() > 1e-4


def test_batch_norm_recalibration_sets_population_statistics():
    model = km.ds_cnn("s")
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(40, 49, 10, 1)).astype(np.float32)
    forward.recalibrate_batch_norm(model, x, batch_size=16)
    conv = keras.Model(model.inputs, model.get_layer("conv_0").output)(x).numpy()
    bn = model.get_layer("bn_0")
    np.testing.assert_allclose(bn.moving_mean.numpy(), conv.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), conv.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-4)


def test_resume_only_when_the_subnetworks_match(tmp_path):
    model = km.dnn("s")
    optimizer = forward.StepOneAdam(1e-3)
    optimizer.build(model.trainable_variables)
    checkpoint = forward.PhaseCheckpoint(tmp_path, "joint")
    widths = [{"dense_1": 144}, {"dense_1": 20}]
    for epoch in (1, 2, 3):
        checkpoint.save(epoch, {"epoch": epoch, "loss": 0.5 / epoch}, model, optimizer, widths)
    messages = []
    assert checkpoint.resume(model, optimizer, model.trainable_variables, widths, messages.append) == 3
    assert [row["epoch"] for row in checkpoint._history()] == ["1", "2", "3"]
    assert checkpoint.resume(model, optimizer, model.trainable_variables, [{"dense_1": 144}, {"dense_1": 30}],
                             messages.append) == 0
    assert "starting over" in messages[-1] and checkpoint._history() == []
