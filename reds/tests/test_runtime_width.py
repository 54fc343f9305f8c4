"""Run-time-width TFLite (one flatbuffer, subnetwork chosen by an index input) and the prefix weight layout."""

import mlperf_tiny  # noqa: F401
import numpy as np
import pytest
from mlperf_tiny.registry import get_model, get_model_builder
from reds.utils import knapsack as ks
from reds.utils import prefix_layout as pl
from reds.utils import runtime_width as rw
from reds.utils.keyword_spotting_models import architecture
from reds.utils.reds_model import RedsModel, layer_plan, subnetwork_widths

from reds import pipeline

TIMING = {"latency_repeats": 5, "switch_rounds": 2}  # timings are reported, not asserted: keep them short


def _randomise_bn(model, rng):
    import tensorflow as tf

    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.weights])


def _reds_case(name, rng):
    """A registered model with random BN statistics and its knapsack subnetworks (full, 25, 50, 75 %)."""
    model = get_model(name)
    _randomise_bn(model, rng)
    arch = architecture(model)
    if arch.family == "ds_cnn":
        blocks = len(arch.width_layers) - 1
        units = model.get_layer("conv_0").filters
        scores = {"conv_0": np.sort(rng.integers(1, 10**5, units))[::-1],
                  **{f"dw_{i}": np.sort(rng.integers(1, 10**5, units))[::-1] for i in range(1, blocks + 1)}}
        pw = [rng.integers(1, 10**4, (units, units)) for _ in range(blocks)]
    else:
        scores = {n: np.sort(rng.integers(1, 10**5, model.get_layer(n).output_shape[-1]))[::-1]
                  for n in arch.width_layers}
        pw = None
    problem = pipeline.knapsack_problem(model, scores, pw, pipeline.get_args_parser().parse_args([]))
    results, _ = ks.iterative_knapsack(problem, [0.25, 0.5, 0.75], log=lambda _: None)
    widths = subnetwork_widths(model, [tuple(problem.sizes)] + [r.widths for r in results])
    x = rng.normal(size=(3, *model.input_shape[1:])).astype(np.float32)
    builder = get_model_builder(name)
    return model, widths, x, lambda widths=None: builder(widths=widths)


def _float_bytes(constants):
    return constants["float32"]["bytes"]


# --- run-time width TFLite ------------------------------------------------------------------------------------

def test_converter_rejects_dynamic_conv_filters_but_runs_dynamic_matmul():
    """The documented runtime limitation that decides the conv lowering (im2col + FULLY_CONNECTED)."""
    support = rw.native_dynamic_filter_support()
    assert support["BATCH_MATMUL"] is True
    assert support["CONV_2D"] is not True and "Conv2D" in support["CONV_2D"]
    assert support["DEPTHWISE_CONV_2D"] is not True and "DepthwiseConv2dNative" in support["DEPTHWISE_CONV_2D"]


def test_dnn_one_flatbuffer_matches_nested_model_and_stores_weights_once(tmp_path):
    model, widths, x, builder = _reds_case("reds_dnn_s", np.random.default_rng(0))
    result = rw.export_runtime_width_tflite(model, widths, False, tmp_path / "dnn.tflite", x, builder=builder,
                                            **TIMING)
    assert result["fallbacks"] == [] and result["masked"] == []
    assert result["sliced"] == ["dense_1", "dense_2", "dense_3", "logits"]
    assert max(result["max_abs_diff"]) <= 1e-5 and min(result["argmax_agreement"]) == 1.0
    assert (tmp_path / "dnn.tflite").stat().st_size == result["tflite_bytes"]
    # weights once: the float constants are the full model's (within the biases the converter drops when zero)
    assert _float_bytes(result["stored_constants"]) <= 1.01 * _float_bytes(result["full_model_stored_constants"])
    assert result["stored_constants"]["int32"]["bytes"] < 1024
    assert result["tflite_bytes"] < 1.05 * result["full_model_tflite_bytes"]
    assert result["tflite_bytes"] < 0.6 * result["subnetwork_tflite_bytes_sum"]
    assert len(result["latency_ms"]) == len(widths) == len(result["subnetwork_latency_ms"])
    assert set(result["switch"]) == {"after_switch_us", "same_index_us", "overhead_us"}


def test_ds_cnn_one_flatbuffer_matches_nested_model_with_every_op_sliced():
    model, widths, x, builder = _reds_case("reds_ds_cnn_s", np.random.default_rng(1))
    result = rw.export_runtime_width_tflite(model, widths, False, None, x, builder=builder, **TIMING)
    assert result["fallbacks"] == [] and result["masked"] == []
    assert result["modes"] == {"conv": "slice", "batch_norm": "folded", "depthwise": "slice",
                               "pointwise": "slice", "dense": "slice"}
    assert len(result["sliced"]) == 1 + 4 * 2 + 1 and len(result["folded"]) == 1 + 4 * 2
    assert {"CONV_2D", "DEPTHWISE_CONV_2D"}.isdisjoint(result["tflite_ops"])
    assert max(result["max_abs_diff"]) <= 1e-5 and min(result["argmax_agreement"]) == 1.0
    # the weights are stored once; the rest is the im2col graph (20-27 KB of op and tensor records here,
    # 1.19-1.24x the 96 KB full model depending on how many distinct widths need a bound table)
    assert _float_bytes(result["stored_constants"]) <= 1.01 * _float_bytes(result["full_model_stored_constants"])
    assert result["tflite_bytes"] < 1.3 * result["full_model_tflite_bytes"]
    assert result["tflite_bytes"] < 0.6 * result["subnetwork_tflite_bytes_sum"]


@pytest.mark.parametrize("channel_aware", [False, True], ids=["faithful_rows", "channel_aware_rows"])
def test_cnn_flatten_slice_variants_match_nested_model(channel_aware):
    model, widths, x, _ = _reds_case("reds_cnn_s", np.random.default_rng(2))
    result = rw.export_runtime_width_tflite(model, widths, channel_aware, None, x, **TIMING)
    assert result["fallbacks"] == [] and result["masked"] == []
    lowering = result["layers"]["linear"]["lowering"]
    assert ("reshape(H*W, C, out)" in lowering) == channel_aware and ("leading rows" in lowering) != channel_aware
    assert max(result["max_abs_diff"]) <= 1e-5
    assert _float_bytes(result["stored_constants"]) <= 1.01 * _float_bytes(result["full_model_stored_constants"])
    assert result["tflite_bytes"] < 1.1 * result["full_model_tflite_bytes"]


@pytest.mark.parametrize("name,channel_aware,modes", [
    ("reds_cnn_s", False, {"conv": "mask", "dense": "mask"}),  # faithful flatten by a feature gather
    ("reds_ds_cnn_s", False, {"depthwise": "mask"}),  # masked and sliced layers mixed (PAD / SLICE between)
], ids=["cnn_all_masked", "ds_cnn_depthwise_masked"])
def test_masked_fallback_gives_the_same_outputs(name, channel_aware, modes):
    model, widths, x, _ = _reds_case(name, np.random.default_rng(3))
    result = rw.export_runtime_width_tflite(model, widths, channel_aware, None, x, modes=modes, **TIMING)
    assert result["fallbacks"] == []
    assert {result["layers"][n]["type"] for n in result["masked"]} == set(modes)
    assert max(result["max_abs_diff"]) <= 1e-5


def test_a_failing_sliced_op_type_falls_back_to_masking(monkeypatch):
    model, widths, x, _ = _reds_case("reds_dnn_s", np.random.default_rng(4))
    convert = rw.RuntimeWidthModel.convert

    def convert_without_sliced_dense(self, *args, **kwargs):
        if self.modes["dense"] == rw.SLICE:
            raise RuntimeError("SLICE failed to prepare (simulated)")
        return convert(self, *args, **kwargs)

    monkeypatch.setattr(rw.RuntimeWidthModel, "convert", convert_without_sliced_dense)
    result = rw.export_runtime_width_tflite(model, widths, False, None, x, **TIMING)
    assert [f["error"] for f in result["fallbacks"]] == ["RuntimeError: SLICE failed to prepare (simulated)"]
    assert result["modes"] == {"dense": "mask"} and result["sliced"] == []
    assert max(result["max_abs_diff"]) <= 1e-5


def test_int8_flatbuffer_is_fully_sliced_and_stores_int8_weights_once():
    model, widths, x, _ = _reds_case("reds_dnn_s", np.random.default_rng(5))
    result = rw.export_runtime_width_tflite(model, widths, False, None, x, quantization="int8", **TIMING)
    assert result["fallbacks"] == [] and result["masked"] == []
    assert "float32" not in result["stored_constants"]
    assert result["stored_constants"]["int8"]["bytes"] <= 1.01 * result["full_model_stored_constants"]["int8"]["bytes"]
    assert result["tflite_bytes"] < 1.05 * result["full_model_tflite_bytes"]
    scale = max(np.abs(RedsModel(model, widths).call_subnetwork(x, 0).numpy()).max(), 1.0)
    assert max(result["max_abs_diff"]) < 0.05 * scale  # int8 quantization error, not 1e-5


def test_dynamic_range_quantization_leaves_sliced_weights_float():
    """Documented limitation: weights that reach their matmul through a SLICE are not quantized by DRQ."""
    model, widths, x, _ = _reds_case("reds_dnn_s", np.random.default_rng(6))
    result = rw.export_runtime_width_tflite(model, widths, False, None, x, quantization="dynamic_range", **TIMING)
    assert result["fallbacks"] == [] and max(result["max_abs_diff"]) <= 1e-5
    assert "int8" not in result["stored_constants"] and "int8" in result["full_model_stored_constants"]
    assert result["tflite_bytes"] > 3 * result["full_model_tflite_bytes"]


def test_runtime_width_import_is_light():
    import subprocess
    import sys

    code = "import sys, reds.utils.runtime_width, reds.utils.prefix_layout; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- prefix layout --------------------------------------------------------------------------------------------

def _random_nested(rng, n_in, n_out, subnetworks):
    cin = np.sort(rng.integers(1, n_in + 1, subnetworks))
    cout = np.sort(rng.integers(1, n_out + 1, subnetworks))
    return list(zip(cin.tolist(), cout.tolist()))


@pytest.mark.parametrize("seed", range(6))
def test_packed_dense_reads_only_its_prefix_and_equals_the_matmul(seed):
    rng = np.random.default_rng(seed)
    n_in, n_out = rng.integers(1, 60, 2)
    widths = _random_nested(rng, n_in, n_out, int(rng.integers(1, 5)))
    kernel = rng.normal(size=(n_in, n_out)).astype(np.float32)
    bias = rng.normal(size=n_out).astype(np.float32)
    x = rng.normal(size=(5, n_in)).astype(np.float32)
    buffer = pl.pack(kernel, widths)
    assert len(buffer) == widths[-1][0] * widths[-1][1]
    np.testing.assert_array_equal(pl.unpack(buffer, widths), kernel[: widths[-1][0], : widths[-1][1]])
    for s, (cin, cout) in enumerate(widths):
        assert pl.prefix_length(widths, s) == cin * cout
        assert pl.touched_elements(widths, s) == (cin * cout, cin * cout)
        # nested: the prefix is exactly the packed buffer of the smaller subnetworks
        np.testing.assert_array_equal(buffer[: cin * cout], pl.pack(kernel, widths[: s + 1]))
        poisoned = buffer.copy()
        poisoned[cin * cout :] = np.nan  # anything read past the prefix would show up
        y = pl.packed_dense(x, poisoned, bias, widths, s)
        np.testing.assert_allclose(y, x[:, :cin] @ kernel[:cin, :cout] + bias[:cout], rtol=1e-5, atol=1e-5)


def test_scalar_loop_walks_the_buffer_forward_contiguously():
    rng = np.random.default_rng(7)
    widths = [(3, 2), (3, 5), (6, 5), (8, 9)]  # shells with only A, only B, and both parts
    kernel = rng.normal(size=(8, 9)).astype(np.float32)
    bias = rng.normal(size=9).astype(np.float32)
    x = rng.normal(size=8).astype(np.float32)
    buffer = pl.pack(kernel, widths)
    for s, (cin, cout) in enumerate(widths):
        reads = list(pl.loop_order(widths, s))
        assert [index for index, _, _ in reads] == list(range(cin * cout))  # one forward stream
        assert sorted((i, o) for _, i, o in reads) == [(i, o) for i in range(cin) for o in range(cout)]
        assert all(buffer[index] == kernel[i, o] for index, i, o in reads)
        # the innermost loop runs over outputs: consecutive reads of one input row are consecutive outputs
        assert all(o2 == o1 + 1 for (_, i1, o1), (_, i2, o2) in zip(reads, reads[1:]) if i1 == i2 and o2 > o1)
        np.testing.assert_allclose(pl.scalar_dense(x, buffer, bias, widths, s), x[:cin] @ kernel[:cin, :cout]
                                   + bias[:cout], rtol=1e-5, atol=1e-5)


def test_check_nested_rejects_non_nested_widths():
    with pytest.raises(ValueError, match="nested"):
        pl.check_nested([(4, 4), (3, 8)])
    with pytest.raises(ValueError, match="positive"):
        pl.check_nested([(0, 4), (3, 8)])
    with pytest.raises(ValueError, match="exceed"):
        pl.pack(np.zeros((4, 4)), [(2, 2), (5, 4)])


def test_prefix_layout_runs_a_reds_dnn_and_a_pointwise_conv_exactly():
    """Every dense layer of a REDS DNN from packed buffers == RedsModel.call_subnetwork; a DS-CNN 1x1 conv too."""
    import tensorflow as tf

    rng = np.random.default_rng(8)
    model, widths, x, _ = _reds_case("reds_dnn_s", rng)
    reds = RedsModel(model, widths)
    plans = [layer_plan(model, w) for w in widths]
    order = sorted(range(len(widths)), key=lambda s: [p[1].get("cout", 0) for p in plans[s]])  # ascending
    dense = [j for j, (layer, _) in enumerate(plans[0]) if isinstance(layer, tf.keras.layers.Dense)]
    packed = {}
    for j in dense:
        layer = plans[0][j][0]
        nested = [(plans[s][j][1]["cin"], plans[s][j][1]["cout"]) for s in order]
        packed[j] = (pl.pack(layer.kernel.numpy(), nested), layer.bias.numpy(), nested)
    for rank, s in enumerate(order):
        h = x.reshape(len(x), -1)
        for j in dense:
            buffer, bias, nested = packed[j]
            h = pl.packed_dense(h, buffer[: pl.prefix_length(nested, rank)], bias, nested, rank)
            if plans[0][j][0].name != "logits":
                h = np.maximum(h, 0)
        np.testing.assert_allclose(h, reds.call_subnetwork(x, s).numpy(), rtol=1e-5, atol=1e-5)

    conv = get_model("reds_ds_cnn_s").get_layer("pw_2")
    kernel, bias = (w.numpy() for w in conv.weights)
    nested = [(16, 8), (32, 24), (48, 48), (64, 64)]
    buffer = pl.pack(pl.pointwise_matrix(kernel), nested)
    features = rng.normal(size=(2, 25, 5, 64)).astype(np.float32)
    for s, (cin, cout) in enumerate(nested):
        expected = tf.nn.conv2d(features[..., :cin], kernel[..., :cin, :cout], 1, "VALID") + bias[:cout]
        np.testing.assert_allclose(pl.pointwise_conv(features, buffer, bias, nested, s), expected.numpy(),
                                   rtol=1e-5, atol=1e-5)
