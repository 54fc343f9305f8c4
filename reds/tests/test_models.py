"""Architectures: exact counts, knapsack costs, nesting + budgets and extraction == nested model, per model."""

import mlperf_tiny  # noqa: F401
import numpy as np
import pytest
from mlperf_tiny.counting import count_macs, count_params
from mlperf_tiny.registry import get_model, get_model_builder, list_models
from reds.utils import knapsack as ks
from reds.utils.keyword_spotting_models import architecture
from reds.utils.reds_model import RedsModel, extract_subnetwork, kernel_parameter_count, subnetwork_widths

from reds import pipeline

# (registered name, builder kwargs) -> (params incl. BN statistics, MACs of one inference)
GOLDEN = {
    ("reds_dnn_s", ()): (79_644, 79_200),
    ("reds_dnn_l", ()): (495_744, 494_424),
    ("reds_cnn_s", ()): (69_982, 2_498_304),
    ("reds_cnn_l", ()): (477_262, 12_636_672),
    ("reds_ds_cnn_s", ()): (24_908, 2_656_768),  # conv stack 2,656,000 (reds.md) + 64 x 12 head
    ("reds_ds_cnn_l", ()): (422_844, 28_327_812),
    ("reds_vision_ds_cnn_s", (("input_shape", (28, 28, 1)),)): (34_954, 3_788_544),
    ("reds_vision_ds_cnn_s", (("input_shape", (32, 32, 3)),)): (30_986, 5_234_176),
}
SIX_KWS_AND_VISION = list(GOLDEN)


def _build(key):
    name, kwargs = key
    return get_model(name, **dict(kwargs))


def _builder(key):
    name, kwargs = key
    builder = get_model_builder(name)
    return lambda widths=None: builder(widths=widths, **dict(kwargs))


def test_registry_lists_every_reds_model():
    assert {"reds_dnn_s", "reds_dnn_m", "reds_dnn_l", "reds_cnn_s", "reds_cnn_m", "reds_cnn_l", "reds_ds_cnn_s",
            "reds_ds_cnn_m", "reds_ds_cnn_l", "reds_vision_ds_cnn_s"} <= set(list_models("reds_*"))
    with pytest.raises(KeyError, match="reds_ds_cnn_s"):
        get_model("reds_ds_cnn_x")


@pytest.mark.parametrize("key", SIX_KWS_AND_VISION, ids=lambda k: f"{k[0]}{dict(k[1]).get('input_shape', '')}")
def test_exact_parameter_and_mac_counts(key):
    model = _build(key)
    assert (count_params(model), count_macs(model)) == GOLDEN[key]


def test_knapsack_unit_costs_match_the_original_lookup_table():
    args = pipeline.get_args_parser().parse_args([])
    for key, costs in ((("reds_ds_cnn_s", ()), (5000, 1125, 125)), (("reds_ds_cnn_l", ()), (10000, 585, 65))):
        model = _build(key)
        arch = architecture(model)
        blocks = len(arch.width_layers) - 1
        U = model.get_layer("conv_0").filters
        scores = {"conv_0": np.ones(U), **{f"dw_{i}": np.ones(U) for i in range(1, blocks + 1)}}
        problem = pipeline.knapsack_problem(model, scores, [np.ones((U, U))] * blocks, args)
        assert (problem.conv_cost, problem.dw_costs[0], problem.kernel_costs[0]) == costs
        assert problem.total_macs() == count_macs(model) - count_macs(model, per_layer=True)["logits"]
    model = _build(("reds_dnn_s", ()))
    problem = pipeline.knapsack_problem(model, {f"dense_{i}": np.ones(144) for i in (1, 2, 3)}, None, args)
    assert problem.unit_costs == [250, 144, 144] and problem.min_units == [2, 2, 2]


def _randomise_bn(model, rng):
    import tensorflow as tf

    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.weights])


# the flatten-row variant (Q4/Q5) only differs for models with a non-global flatten: CNN and vision DS-CNN
NESTING_CASES = [(key, False) for key in SIX_KWS_AND_VISION] + [
    (("reds_cnn_s", ()), True), (("reds_vision_ds_cnn_s", (("input_shape", (28, 28, 1)),)), True)]


@pytest.mark.parametrize("key,channel_aware", NESTING_CASES,
                         ids=lambda v: f"{v[0]}{dict(v[1]).get('input_shape', '')}" if isinstance(v, tuple) else str(v))
def test_knapsack_subnetworks_nest_fit_budgets_and_extract_exactly(key, channel_aware):
    """On every model: BU widths are nested prefixes, true MACs <= targets, standalone == nested to 1e-5."""
    rng = np.random.default_rng(0)
    model = _build(key)
    _randomise_bn(model, rng)
    arch = architecture(model)
    args = pipeline.get_args_parser().parse_args([])
    if arch.family == "ds_cnn":
        blocks = len(arch.width_layers) - 1
        U = model.get_layer("conv_0").filters
        scores = {"conv_0": np.sort(rng.integers(1, 10**5, U))[::-1],
                  **{f"dw_{i}": np.sort(rng.integers(1, 10**5, U))[::-1] for i in range(1, blocks + 1)}}
        pw = [rng.integers(1, 10**4, (U, U)) for _ in range(blocks)]
    else:
        scores = {n: np.sort(rng.integers(1, 10**5, model.get_layer(n).output_shape[-1]))[::-1]
                  for n in arch.width_layers}
        pw = None
    problem = pipeline.knapsack_problem(model, scores, pw, args)
    # DS-CNN L: a coarse DP keeps the test fast; the budget guarantee holds at any resolution
    results, targets = ks.iterative_knapsack(problem, [0.25, 0.5, 0.75], log=lambda _: None,
                                             max_budget_steps=2000)
    widths = [tuple(problem.sizes)] + [r.widths for r in results]
    assert ks.nesting_violations([r.widths for r in results] + [tuple(problem.sizes)]) == []
    subnet_widths = subnetwork_widths(model, widths)
    reds_model = RedsModel(model, subnet_widths, channel_aware)
    x = rng.normal(size=(2, *model.input_shape[1:])).astype(np.float32)
    nested = [o.numpy() for o in reds_model(x)]
    np.testing.assert_allclose(nested[0], model(x, training=False).numpy(), atol=1e-5)
    build = _builder(key)
    previous_params = None
    for s, widths_s in enumerate(subnet_widths):
        sub = extract_subnetwork(model, widths_s, build, channel_aware)
        np.testing.assert_allclose(sub(x, training=False).numpy(), nested[s], atol=1e-5)
        true_macs = pipeline.knapsack_layer_macs(sub)
        if s:
            assert true_macs <= targets[s - 1] and true_macs <= results[s - 1].model_macs
        params = kernel_parameter_count(sub)
        if s >= 2:
            assert params >= previous_params  # larger budget, larger (nested) subnetwork
        previous_params = params


@pytest.mark.parametrize("key,channel_aware", [(("reds_ds_cnn_s", ()), False), (("reds_cnn_s", ()), True)],
                         ids=["ds_cnn_s", "cnn_s"])
def test_per_subnetwork_batch_norm_recalibration(key, channel_aware):
    """--bn_mode per_subnet_recalib: each subnetwork's BN normalises its own activations, and the extracted
    standalone model carries those statistics (== nested model to 1e-5)."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    model = _build(key)
    _randomise_bn(model, rng)
    for layer in model.layers:  # unit affine so the BN outputs show the normalisation itself
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.gamma.assign(tf.ones_like(layer.gamma))
            layer.beta.assign(tf.zeros_like(layer.beta))
    arch = architecture(model)
    full = {n: model.get_layer(n).output_shape[-1] for n in arch.width_layers}
    small = {n: max(2, u // 3) for n, u in full.items()}
    reds_model = RedsModel(model, [full, small], channel_aware)
    x = rng.normal(1.0, 2.0, size=(96, *model.input_shape[1:])).astype(np.float32)
    before = [o.numpy() for o in reds_model(x[:4])]
    stats = reds_model.recalibrate_batch_norm(x, batch_size=40)
    assert set(stats[1]) == {layer.name for layer in model.layers
                             if isinstance(layer, tf.keras.layers.BatchNormalization)}
    bn = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert stats[1][bn[0].name][0].shape == (small[arch.width_layers[0]],)
    # the first BN's statistics are those of the (sliced) first conv output on x
    first_conv = model.layers[0]
    kernel = first_conv.kernel[..., : small[first_conv.name]]
    conv = tf.nn.conv2d(x, kernel, first_conv.strides, first_conv.padding.upper()) + first_conv.bias[: kernel.shape[-1]]
    np.testing.assert_allclose(stats[1][bn[0].name][0], conv.numpy().mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats[1][bn[0].name][1], conv.numpy().var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-4)
    after = [o.numpy() for o in reds_model(x[:4])]
    assert all(np.abs(a - b).max() > 1e-3 for a, b in zip(after, before))  # the statistics are used
    build = _builder(key)
    for s, widths in enumerate(reds_model.subnet_widths):
        sub = extract_subnetwork(model, widths, build, channel_aware, stats[s])
        np.testing.assert_allclose(sub(x[:4], training=False).numpy(), after[s], atol=1e-5)
        np.testing.assert_allclose(reds_model.call_subnetwork(x[:4], s).numpy(), after[s], atol=1e-5)
    # --bn_mode per_subnet_stats recalibrates every epoch: the statistics are variables, so a traced function
    # reads the new ones without being traced again
    traced = tf.function(lambda batch: reds_model(batch))
    np.testing.assert_allclose(traced(x[:4])[1].numpy(), after[1], atol=1e-5)
    reds_model.recalibrate_batch_norm(x[48:] * 3.0, batch_size=40)
    fresh = [o.numpy() for o in reds_model(x[:4])]
    assert np.abs(fresh[1] - after[1]).max() > 1e-3
    np.testing.assert_allclose(traced(x[:4])[1].numpy(), fresh[1], atol=1e-5)
    assert traced.experimental_get_tracing_count() == 1


def test_nested_forward_computes_the_shared_prefix_once_and_equals_per_subnetwork_forward(monkeypatch):
    """The first conv and depthwise block of a DS-CNN give channel prefixes of the full model's outputs: one
    computation serves every subnetwork; outputs and gradients equal running each subnetwork on its own."""
    import tensorflow as tf
    from reds.utils import reds_model as rm

    rng = np.random.default_rng(3)
    model = get_model("reds_ds_cnn_s")
    _randomise_bn(model, rng)
    widths = subnetwork_widths(model, [(64, 64, 64, 64, 64), (20, 30, 40, 18, 60), (30, 45, 55, 34, 62),
                                       (45, 60, 64, 56, 64)])
    nested = RedsModel(model, widths)
    x = tf.constant(rng.normal(size=(3, 49, 10, 1)).astype(np.float32))
    calls = {}
    apply = rm._apply
    monkeypatch.setattr(rm, "_apply", lambda layer, *a: calls.update({layer.name: calls.get(layer.name, 0) + 1})
                        or apply(layer, *a))
    with tf.GradientTape(persistent=True) as tape:
        shared = nested(x)
        separate = [rm.forward(model, plan, x) for plan in nested.plans]
        losses = [tf.reduce_sum(tf.square(o)) for o in (*shared, *separate)]
    for a, b in zip(shared, separate):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    variables = model.trainable_variables
    for s in range(4):
        for ga, gb in zip(tape.gradient(losses[s], variables), tape.gradient(losses[4 + s], variables)):
            np.testing.assert_allclose(np.asarray(ga), np.asarray(gb), rtol=1e-5, atol=1e-5)
    # per subnetwork 4 calls came from the separate forwards; the nested call added 1 (shared) or 4 (own slice)
    assert {name: calls[name] - 4 for name in ("conv_0", "bn_0", "dw_1", "bn_dw_1", "pw_1", "dw_2", "logits")} == \
        {"conv_0": 1, "bn_0": 1, "dw_1": 1, "bn_dw_1": 1, "pw_1": 4, "dw_2": 4, "logits": 4}
