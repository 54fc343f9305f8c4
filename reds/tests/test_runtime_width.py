"""Run-time-width TFLite (one flatbuffer, subnetwork chosen by an index input)."""

import mlperf_tiny  # noqa: F401
import numpy as np
import pytest
from mlperf_tiny.registry import get_model, get_model_builder
from reds.utils import knapsack as ks
from reds.utils import runtime_width as rw
from reds.utils.keyword_spotting_models import architecture
from reds.utils.reds_model import RedsModel, subnetwork_widths

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

    code = "import sys, reds.utils.runtime_width; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
