"""The measurement and the two adapters, on models built here (no training)."""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import pytest


@pytest.fixture(scope="module")
def ds_cnn():
    import tensorflow as tf
    from mlperf_tiny.registry import get_model

    tf.keras.utils.set_random_seed(1)
    return get_model("ds_cnn")


def test_counts_equal_mlperf_and_depth_pruning_counters(ds_cnn):
    from compare_kws.measure import counts
    from depth_pruning.count import count_model
    from depth_pruning.pruning import build_pruned_model
    from mlperf_tiny.registry import get_model
    from reds.utils.reds_model import kernel_parameter_count

    base = counts(ds_cnn)
    assert (base["params"], base["macs"]) == (24_908, 2_656_768)  # the MLPerf DS-CNN (mlperf-tiny README)
    assert base["kernel_params"] == kernel_parameter_count(ds_cnn) == 22_604  # REDS's P: BN excluded
    assert base["nonzero_kernel_params"] == base["kernel_params"] - (64 + 4 * 64 + 4 * 64 + 12)  # zero biases
    cut = build_pruned_model(get_model("ds_cnn"), "block2", "dscnn32_16", 12)
    ours, theirs = counts(cut), count_model(cut, with_flops=False)
    assert (ours["params"], ours["macs"]) == (theirs["params"], theirs["macs"])
    assert ours["params"] == 17_852  # depth-pruning README: KWS block2


def test_magnitude_prune_zeroes_the_smallest_of_what_tfmot_prunes(ds_cnn):
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    from compare_kws.methods import magnitude_prune
    from depth_pruning.magnitude import prunable_kernel_sparsity

    pruned = magnitude_prune(ds_cnn, 0.5)
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(tf.keras.models.clone_model(ds_cnn))
    report = prunable_kernel_sparsity(wrapped, pruned)  # depth_pruning's counter of tfmot's prunable kernels
    assert set(report["layers"]) == {layer.name for layer in ds_cnn.layers
                                     if type(layer) in (tf.keras.layers.Conv2D, tf.keras.layers.Dense)}
    for name, sparsity in report["layers"].items():
        before = ds_cnn.get_layer(name).kernel.numpy()
        after = pruned.get_layer(name).kernel.numpy()
        assert sparsity == (before.size - round(0.5 * before.size)) / before.size
        kept = after != 0
        np.testing.assert_array_equal(after[kept], before[kept])
        assert np.abs(before[kept]).min() >= np.abs(before[~kept]).max()
    for layer in ds_cnn.layers:  # depthwise kernels, biases and BN are untouched
        if layer.name not in report["layers"]:
            for a, b in zip(layer.get_weights(), pruned.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)


def test_trecx_starts_from_the_base_inside_the_block_only(ds_cnn):
    import tensorflow as tf
    from compare_kws.adapters import trecx_from_base
    from mlperf_tiny import registry

    base = tf.keras.models.clone_model(ds_cnn)
    base.set_weights(ds_cnn.get_weights())
    classifier = base.layers[-1]
    classifier.set_weights([classifier.kernel.numpy() * 1e4, classifier.bias.numpy()])  # far from uniform outputs
    x = np.random.default_rng(0).normal(size=(4, 49, 10, 1)).astype(np.float32) * 5
    with trecx_from_base(base):
        model = registry.get_model("ds_cnn_ev")
    _, final_out = model(x, training=False)
    expected = base(x, training=False).numpy()
    assert expected.std() > 0.01
    np.testing.assert_allclose(final_out.numpy(), expected, atol=1e-6)
    fresh = registry.get_model("ds_cnn_ev")  # outside the block: the registry's own builder again
    assert not np.allclose(fresh(x, training=False)[1].numpy(), final_out.numpy(), atol=1e-3)


def test_reds_front_end_inside_the_block_is_mlperf_tiny_s(mini_data_dir):
    import tensorflow as tf
    from compare_kws.adapters import reds_mlperf_front_end
    from compare_kws.methods import MLPERF_STRIDE_MS, MLPERF_WINDOW_MS
    from mlperf_tiny.keyword_spotting import get_dataset, kws_util
    from reds.utils import datasets

    base, entries = get_dataset.list_split_files(mini_data_dir, "test")
    audio = np.zeros((6, 16000), np.int16)
    for row, (item, _) in zip(audio, entries[:6]):
        clip = get_dataset.read_wav(base / item)[:16000]
        row[: len(clip)] = clip
    flags = kws_util.parse_command(["--data_dir", str(mini_data_dir)])
    raw = tf.data.Dataset.from_tensor_slices({"audio": audio, "label": np.zeros(6, np.int64)})
    mlperf, _ = get_dataset.features_of(flags, raw)
    settings = datasets.SpeechSettings(MLPERF_WINDOW_MS, MLPERF_STRIDE_MS, front_end="mlperf", label_order="mlperf")
    with reds_mlperf_front_end():
        patched = datasets.waveform_features(settings, audio)
    np.testing.assert_allclose(patched, mlperf, atol=2e-3)
    plain = datasets.waveform_features(settings, audio)  # reds' own: clips scaled by 1/32768, not by their max
    assert np.abs(plain - mlperf).max() > 1.0


def _int8_chain(tmp_path):
    """x (16 B) -> a (64 B) -> b (128 B) -> c (512 B), outputs [a, c]: a is last used at step 2 unless held."""
    import tensorflow as tf
    from compare_kws.measure import convert_int8

    inputs = tf.keras.Input((4, 4, 1))
    a = tf.keras.layers.Conv2D(4, 1, name="a")(inputs)
    b = tf.keras.layers.Conv2D(8, 1, name="b")(a)
    c = tf.keras.layers.Conv2D(32, 1, name="c")(b)
    model = tf.keras.Model(inputs, [a, c])
    path = tmp_path / "chain.tflite"
    path.write_bytes(convert_int8(model, np.random.default_rng(0).normal(size=(8, 4, 4, 1)).astype(np.float32)))
    return path


def test_peak_holds_the_outputs_handed_to_part_two(tmp_path):
    from compare_kws.measure import peak_bytes, peak_with_outputs_held

    path = _int8_chain(tmp_path)
    assert peak_bytes(path) == 128 + 512  # step 3: b and c live
    assert peak_with_outputs_held(path) == 64 + 128 + 512  # ... and a, held for part 2


def test_pareto_front_and_early_exit_latency():
    from compare_kws.latency import row_latency
    from compare_kws.plots import pareto_front

    points = [(1.0, 0.9), (2.0, 0.95), (2.0, 0.93), (3.0, 0.94), (0.5, 0.5)]
    assert pareto_front(points) == [4, 0, 1]
    timings = {"p1": {"median_ms": 1.0, "p10_ms": 0.8, "p90_ms": 1.5, "runs": 9},
               "p2": {"median_ms": 2.0, "p10_ms": 1.0, "p90_ms": 3.0, "runs": 9}}
    row = {"tflite": ["p1", "p2"], "latency_weights": [1.0, 0.25]}  # exit rate 0.75
    assert row_latency(row, timings) == {"latency_median_ms": 1.5, "latency_p10_ms": 1.05, "latency_p90_ms": 2.25,
                                         "latency_runs": 9}


def test_counts_of_a_reds_subnetwork_equal_reds_counters():
    """A REDS subnetwork at half width, extracted with reds' own builder: our counts equal reds' counters (the same
    check the slow end-to-end test makes on a trained REDS run)."""
    import tensorflow as tf
    from compare_kws.measure import counts
    from compare_kws.methods import INPUT_SHAPE, NUM_CLASSES, REDS_SIZE
    from mlperf_tiny.counting import count_macs, count_params
    from mlperf_tiny.registry import get_model_builder
    from reds.pipeline import knapsack_layer_macs
    from reds.utils.keyword_spotting_models import architecture
    from reds.utils.reds_model import extract_subnetwork, kernel_parameter_count, subnetwork_widths

    builder = get_model_builder(f"reds_ds_cnn_{REDS_SIZE}")

    def build(widths=None):
        return builder(widths=widths, input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES)

    tf.keras.utils.set_random_seed(2)
    full = build()
    assert (count_params(full), count_macs(full)) == (24_908, 2_656_768)  # REDS's DS-CNN S is the MLPerf DS-CNN
    names = architecture(full).width_layers
    (widths,) = subnetwork_widths(full, [tuple(full.get_layer(n).filters // 2 for n in names)])
    sub = extract_subnetwork(full, widths, build)
    ours = counts(sub)
    assert ours["kernel_params"] == kernel_parameter_count(sub) < kernel_parameter_count(full)
    assert (ours["params"], ours["macs"]) == (count_params(sub), count_macs(sub))  # reds' deploy counter
    assert knapsack_layer_macs(sub) == ours["macs"] - 32 * NUM_CLASSES  # the knapsack's layers: all but the classifier
