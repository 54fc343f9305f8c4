"""Exact parameter/MAC counts of every T-RECX model, the two-part split, the dynamic-exit cost identity, the
joint loss, the EV weight transfer and SDN's loss-weight ramp."""

import math

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import pytest
import tensorflow as tf
from mlperf_tiny.counting import count_macs, count_params
from mlperf_tiny.registry import get_model, list_models

from trecx import early_exit as ee

# Analytic conv+dense MACs of the three bases (from mlperf_tiny's docstrings, re-derived in README).
RESNET8_MACS, DSCNN_MACS, MOBNET_MACS = 12_501_632, 2_656_768, 7_489_664

# name: (Keras params, total MACs, the paper's params in thousands (Table 1/2, truncated to one decimal))
EXPECTED = {
    "resnet_ev": (89_780, 13_070_976, 89.7),
    "resnet_noev": (84_500, 13_063_808, None),
    "resnet_baselineEE": (88_916, 12_511_872, None),
    "resnet_sdn": (94_046, 12_516_992, 94.0),
    "resnet_branchynet": (98_430, 16_053_376, 98.4),
    "ds_cnn_ev": (28_248, 2_706_688, 28.2),
    "ds_cnn_noev": (27_544, 2_670_304, None),
    "ds_cnn_eefmaps_concat": (27_928, 2_670_688, None),  # the original trained model: 27,928
    "ds_cnn_sdn": (38_768, 2_670_592, 38.7),
    "ds_cnn_branchynet": (62_628, 7_265_536, 62.6),
    "mobnet_ev": (226_276, 8_710_208, 226.2),
    "mobnet_noev": (225_380, 8_707_328, None),
}

# (C_Ee, C_Ef), derived by hand:
# ResNet: common = stem 442,368 + stack 1 4,718,592; EE head = 1x1 conv 32*32*32*16 + dw 16*16*32*4 + 512*10.
#         final part = stacks 2+3 7,340,032 + EV dw 4*4*32*4 + 576*10.
# DS-CNN: common = conv 25*5*64*40 + 2 DS blocks 2*584,000; EE head = dw 13*3*32*9 + 192*12;
#         final part = 2 DS blocks + EV dw 25*5*32*9 + 96*12.
# MobileNet: common = stem + 3 blocks 2,092,032; EE head = 24*24*64*32 + 12*12*64*4 + 576*2;
#         final part = blocks 4..13 + EV dw 3*3*64*4 + 544*2.
EXIT_COSTS = {
    "resnet_ev": (442_368 + 4_718_592 + 32_768 * 16 + 16 * 16 * 32 * 4 + 5_120,
                  RESNET8_MACS - 640 + 32_768 * 16 + 16 * 16 * 32 * 4 + 5_120 + 4 * 4 * 32 * 4 + 5_760),
    "ds_cnn_ev": (320_000 + 2 * 584_000 + 13 * 3 * 32 * 9 + 192 * 12,
                  DSCNN_MACS - 768 + 13 * 3 * 32 * 9 + 192 * 12 + 25 * 5 * 32 * 9 + 96 * 12),
    "mobnet_ev": (2_092_032 + 24 * 24 * 64 * 32 + 12 * 12 * 64 * 4 + 576 * 2,
                  MOBNET_MACS - 512 + 24 * 24 * 64 * 32 + 12 * 12 * 64 * 4 + 576 * 2 + 3 * 3 * 64 * 4 + 544 * 2),
}


def test_every_model_is_registered():
    assert set(EXPECTED) <= set(list_models())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_params_and_macs(name):
    params, macs, paper_k = EXPECTED[name]
    model = get_model(name)
    assert count_params(model) == params
    assert count_macs(model) == macs
    if paper_k is not None:  # the paper truncates to one decimal (89,780 -> 89.7K)
        assert math.floor(params / 100) / 10 == paper_k


def test_bases_unchanged_and_paper_base_params():
    # Table 1 baselines: 78.7K, 24.9K, 221.7K.
    assert [count_params(get_model(n)) for n in ("resnet_v1_eembc", "ds_cnn", "mobilenet_v1")] == [78_666, 24_908, 221_794]


@pytest.mark.parametrize("name", sorted(EXIT_COSTS))
def test_exit_costs_and_two_part_split(name):
    model = get_model(name)
    c_ee, c_ef = EXIT_COSTS[name]
    assert ee.exit_costs(model) == (c_ee, c_ef)
    part1, part2 = ee.split_at_early_exit(model)
    assert count_macs(part1) == c_ee and count_macs(part1) + count_macs(part2) == c_ef
    x = np.random.default_rng(0).random((2, *model.input_shape[1:]), dtype=np.float32)
    probs_ee, probs_final = model(x, training=False)
    split_ee, features = part1(x, training=False)
    np.testing.assert_allclose(split_ee, probs_ee, atol=1e-6)
    np.testing.assert_allclose(part2(features, training=False), probs_final, atol=1e-6)


def test_dynamic_exit_cost_identity():
    """Batch-1 dynamic exits: summed MACs == N * (r C_Ee + (1 - r) C_Ef) for every rho, with both limits."""
    tf.keras.utils.set_random_seed(0)
    model = get_model("ds_cnn_ev")
    part1, part2 = ee.split_at_early_exit(model)
    c_ee, c_ef = EXIT_COSTS["ds_cnn_ev"]
    samples = np.random.default_rng(1).normal(size=(12, 49, 10, 1)).astype(np.float32) * 20
    # reference probabilities computed batch-1 like run_dynamic_exit: the untrained model's outputs are near
    # uniform (top two ~1e-5 apart), so batched inference (other float rounding) may swap the argmax
    probs_ee, probs_final = [], []
    for i in range(len(samples)):
        ee_i, features = part1(samples[i : i + 1], training=False)
        probs_ee.append(np.asarray(ee_i)[0])
        probs_final.append(np.asarray(part2(features, training=False))[0])
    probs_ee, probs_final = np.stack(probs_ee), np.stack(probs_final)
    scores = np.max(probs_ee, axis=1)
    for rho in [0.0, *np.sort(scores)[::3], float(scores.max()) + 1e-3]:
        predictions, exited, total = ee.run_dynamic_exit(part1, part2, samples, rho)
        rate = exited.mean()
        assert total == round(len(samples) * (rate * c_ee + (1 - rate) * c_ef))
        expected = np.where(scores >= rho, np.argmax(probs_ee, 1), np.argmax(probs_final, 1))
        np.testing.assert_array_equal(predictions, expected)
    _, exited, total = ee.run_dynamic_exit(part1, part2, samples, 0.0)
    assert exited.all() and total == len(samples) * c_ee
    _, exited, total = ee.run_dynamic_exit(part1, part2, samples, float(scores.max()) + 1e-3)
    assert not exited.any() and total == len(samples) * c_ef


def _tiny_batches(model, n=8, batches=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n * batches, *model.input_shape[1:]), dtype=np.float32)
    y = rng.integers(0, model.output_shape[0][-1], n * batches)
    return x, y


def test_joint_loss_and_zero_weight_gives_zero_ee_gradient():
    tf.keras.utils.set_random_seed(0)
    model = get_model("ds_cnn_ev")
    x, y = _tiny_batches(model)
    w_aux = 0.3
    ee.compile_joint(model, {ee.EE_OUTPUT: w_aux, ee.FINAL_OUTPUT: 1.0}, 1e-3)
    probs_ee, probs_final = model(x, training=False)
    ce = tf.keras.losses.SparseCategoricalCrossentropy()
    expected = float(ce(y, probs_final) + w_aux * ce(y, probs_ee) + tf.add_n(model.losses))
    assert model.evaluate(x, y, batch_size=len(x), verbose=0)[0] == pytest.approx(expected, rel=1e-5)

    ee.compile_joint(model, {ee.EE_OUTPUT: 0.0, ee.FINAL_OUTPUT: 1.0}, 1e-3)
    with tf.GradientTape() as tape:
        outputs = model(x, training=True)
        yt = tf.constant(y)
        loss = model.compute_loss(x, {ee.EE_OUTPUT: yt, ee.FINAL_OUTPUT: yt}, dict(zip(model.output_names, outputs)))
    head = model.get_layer(ee.EE_OUTPUT).trainable_weights + model.get_layer(ee.EE_DEPTHWISE).trainable_weights
    grads = tape.gradient(loss, head)
    assert all(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0 for g in grads)


class _RecordEquality(tf.keras.callbacks.Callback):
    """Records, at every batch start (after the transfer callback ran), whether EV == EE depthwise weights."""

    def __init__(self):
        super().__init__()
        self.equal = []
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        src, dst = self.model.get_layer(ee.EE_DEPTHWISE), self.model.get_layer(ee.EV_DEPTHWISE)
        same = all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(src.weights, dst.weights))
        self.equal.append((self.epoch, same))


@pytest.mark.parametrize("transfer_epochs", [2, 0])
def test_weight_transfer_schedule(transfer_epochs):
    tf.keras.utils.set_random_seed(0)
    model = get_model("ds_cnn_ev")
    x, y = _tiny_batches(model)
    ee.compile_joint(model, {ee.EE_OUTPUT: 0.3, ee.FINAL_OUTPUT: 1.0}, 1e-2)
    recorder = _RecordEquality()
    callbacks = [ee.make_weight_transfer_callback(transfer_epochs=transfer_epochs), recorder]
    model.fit(x, {ee.EE_OUTPUT: y, ee.FINAL_OUTPUT: y}, batch_size=8, epochs=4, verbose=0, shuffle=False,
              callbacks=callbacks)
    during = [same for epoch, same in recorder.equal if epoch < transfer_epochs]
    after = [same for epoch, same in recorder.equal if epoch >= transfer_epochs]
    assert all(during) and len(during) == 3 * transfer_epochs  # every batch start of every transfer epoch
    # From the first batch after the phase (and always without transfer), DCONV_E-f trains freely: never equal.
    assert len(after) == 3 * (4 - transfer_epochs) and not any(after)


def test_sdn_ramp_intended_and_frozen():
    assert ee.sdn_tau(0, 500, 0.33) == pytest.approx(0.01)
    assert ee.sdn_tau(250, 500, 0.33) == pytest.approx(0.175)
    assert ee.sdn_tau(499, 500, 0.66) == pytest.approx(0.66)  # capped at C_i
    for frozen, expected_last in [(False, 0.01 + 2 * 0.5 / 3), (True, 0.01)]:
        weight = tf.Variable(0.0)
        model = get_model("ds_cnn_sdn")
        x, y = _tiny_batches(model, n=4, batches=1)
        weights = {name: 1.0 for name in model.output_names}
        weights["ee_1"] = weight
        ee.compile_joint(model, weights, 1e-3)
        seen = []
        record = tf.keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, seen=seen, weight=weight: seen.append(float(weight.numpy())))
        ramp = ee.make_sdn_ramp_callback([weight], [0.5], epochs=3, frozen=frozen)
        model.fit(x, {n: y for n in model.output_names}, epochs=3, verbose=0, callbacks=[ramp, record])
        assert seen[-1] == pytest.approx(expected_last)


def test_variable_loss_weight_reaches_the_traced_loss():
    tf.keras.utils.set_random_seed(0)
    model = get_model("resnet_sdn", input_shape=(16, 16, 3))
    x, y = _tiny_batches(model, n=4, batches=1)
    labels = {n: y for n in model.output_names}
    weight = tf.Variable(0.0)
    ee.compile_joint(model, {"ee_1": weight, "ee_2": 0.0, ee.FINAL_OUTPUT: 1.0}, 1e-3)
    loss_zero = model.evaluate(x, labels, verbose=0)[0]
    weight.assign(1.0)
    loss_one = model.evaluate(x, labels, verbose=0)[0]
    ce = tf.keras.losses.SparseCategoricalCrossentropy()
    assert loss_one - loss_zero == pytest.approx(float(ce(y, model(x)[0])), rel=1e-4)


@pytest.mark.parametrize("name, base_name", [("ds_cnn_ev", "ds_cnn"), ("resnet_ev", "resnet_v1_eembc"),
                                             ("mobnet_ev", "mobilenet_v1"), ("ds_cnn_noev", "ds_cnn")])
def test_init_from_base_final_exit_is_the_base(name, base_name):
    """--init_from_base (the quick demo's start): before training the final exit computes the base's output."""
    shape, classes = {"ds": ((49, 10, 1), 12), "re": ((32, 32, 3), 10), "mo": ((96, 96, 3), 2)}[name[:2]]
    base = get_model(base_name, input_shape=shape, num_classes=classes)
    rng = np.random.default_rng(0)
    for layer in base.layers:  # non-default BN statistics and biases, so a missed layer shows
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.set_weights([w + rng.uniform(0.1, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    model = ee.init_from_base(get_model(name, input_shape=shape, num_classes=classes), base)
    x = rng.normal(size=(4, *shape)).astype(np.float32)
    final = model(x, training=False)
    final = final[model.output_names.index(ee.FINAL_OUTPUT)] if isinstance(final, list) else final
    np.testing.assert_allclose(final.numpy(), base(x, training=False).numpy(), atol=2e-5)
    if name == "ds_cnn_ev":
        with pytest.raises(ValueError, match="do not match the backbone"):
            ee.init_from_base(get_model("resnet_ev", input_shape=(32, 32, 3), num_classes=10), base)
