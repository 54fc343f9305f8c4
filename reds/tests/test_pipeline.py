"""End-to-end ``main([...])`` runs of the original scripts on the mini datasets, and CLI errors."""

import json
from pathlib import Path

import pytest
import run_contract as rc
from reds.utils import datasets

from reds import evaluate, kws_convolution_depthwise, kws_dnn, vision_ds_convolution_fashion_mnist

QUICK = ["--epochs", "1", "--pretrain_epochs", "2", "--minibatch_number", "2", "--experimental_runs", "1",
         "--finetune_head_epochs", "1", "--finetune_batch_norm_epochs", "1"]


def _check_run(out_dir, size="s", subnets=4):
    metrics = json.loads((out_dir / size / "run0" / "metrics.json").read_text())
    assert metrics["dataset"] == "mini"
    rows = metrics["subnetworks"]
    assert len(rows) == subnets
    knapsack = json.loads((out_dir / size / "run0" / "knapsack.json").read_text())
    assert knapsack["nesting_violations"] == []
    widths = [r["widths"] for r in rows]
    for row in rows:
        assert row["within_budget"] and row["knapsack_layer_macs"] <= row["target_macs"]
        assert 0 <= row["accuracy"] <= 1
    # nested prefixes: 25 % <= 50 % <= 75 % <= 100 % in every layer
    ordered = [widths[1], widths[2], widths[3], widths[0]]
    assert all(a <= b for small, large in zip(ordered, ordered[1:]) for a, b in zip(small, large))
    assert rows[1]["params"] < rows[2]["params"] < rows[3]["params"] < rows[0]["params"]
    for name in ("accuracy.png", "accuracy.html", "parameters.png", "inference.png"):
        assert (out_dir / "plots" / name).stat().st_size > 0
    assert list((out_dir / "logs").glob("*.log"))
    assert json.loads((out_dir / "args.json").read_text())
    return metrics


def test_kws_dnn_end_to_end_on_mini_speech_commands(mini_data_dir, tmp_path):
    out = tmp_path / "dnn"
    kws_dnn.main(["--data_dir", str(mini_data_dir), "--out_dir", str(out), "--max_samples", "400", *QUICK])
    metrics = _check_run(out)
    rows = metrics["subnetworks"]
    for row in rows:
        assert row["tflite_bytes"] > 0 and 0 <= row["tflite_accuracy"] <= 1 and row["tflite_latency_ms"] > 0
    assert rows[1]["tflite_bytes"] < rows[0]["tflite_bytes"]
    # TFLite Micro column: what mlperf_tiny.tflm says of the same int8 file. The runtime refuses some int8 DNN files
    # (a per-channel FULLY_CONNECTED fails to prepare, depending on the trained weights): then the row carries the
    # runtime's own one-line reason instead of an arena
    from mlperf_tiny import tflm

    for row in (rows[0], rows[1]):
        try:
            measured = tflm.measure(row["tflite"])
        except tflm.UnsupportedModel as refused:
            assert row["tflm_error"] == str(refused) and "tflm_arena_bytes" not in row
        else:
            assert (row["tflm_arena_bytes"], row["tflm_flash_bytes"]) == (measured["arena_bytes"],
                                                                          measured["flatbuffer_bytes"])
    assert metrics["tflite_interpreter_switch_ms"] > 0 and metrics["nested_keras_after_switch_us"] > 0
    # one run-time-width flatbuffer: every subnetwork, weights stored once, outputs of the nested model
    runtime = metrics["runtime_width_tflite"]
    assert len(runtime["max_abs_diff"]) == 4 and max(runtime["max_abs_diff"]) < 1e-5
    assert runtime["bytes_ratio"] < 1.05 and runtime["fallbacks"] == []
    assert Path(runtime["tflite"]).stat().st_size == runtime["tflite_bytes"]
    # the DNN permutation is function-preserving
    assert metrics["permuted_accuracy"] == pytest.approx(metrics["pretrained_accuracy"])
    # resume: after losing the run's metrics, the same command reuses the pretrained weights, the scores, the
    # knapsack and the finished phases, and gives the same results
    (out / "s" / "run0" / "metrics.json").unlink()
    assert kws_dnn.main(["--data_dir", str(mini_data_dir), "--out_dir", str(out), "--max_samples", "400", *QUICK]) == 0
    again = json.loads((out / "s" / "run0" / "metrics.json").read_text())
    assert again["pretrained_accuracy"] == metrics["pretrained_accuracy"]
    assert [r["accuracy"] for r in again["subnetworks"]] == pytest.approx([r["accuracy"] for r in rows])


@pytest.mark.slow
def test_kws_dnn_full_training_trains_plain_models_at_knapsack_widths(mini_data_dir, tmp_path):
    out = tmp_path / "scratch"
    kws_dnn.main(["--data_dir", str(mini_data_dir), "--out_dir", str(out), "--max_samples", "200", "--full_training",
                  "--configurations_indexes", "0,1", "--model_sizes", "s", *QUICK])
    metrics = json.loads((out / "s" / "run0" / "metrics.json").read_text())
    rows = metrics["subnetworks"]
    assert metrics["full_training"] and [r["subnetwork"] for r in rows] == ["100%", "25%"]
    assert rows[1]["knapsack_layer_macs"] < rows[0]["knapsack_layer_macs"] == 250 * 144 + 2 * 144 * 144
    assert len(list((out / "s" / "run0" / "knapsack_solver").glob("*.tflite"))) == 2


def test_kws_ds_cnn_s_end_to_end_top_down_nested(mini_data_dir, tmp_path):
    out = tmp_path / "dscnn"
    kws_convolution_depthwise.main(["--data_dir", str(mini_data_dir), "--out_dir", str(out), "--model_sizes", "s",
                                    "--max_samples", "100", "--batch_size", "50", "--no-bottom_up", "--td_nested", "--no-export_tflite",
                                    *QUICK])
    metrics = _check_run(out)
    assert metrics["subnetworks"][0]["knapsack_layer_macs"] == 2_656_000
    assert all(r["widths"][-1] >= 60 for r in metrics["subnetworks"])  # last_pointwise_filters


def test_fashion_mnist_end_to_end_with_memory_budget_and_per_subnetwork_bn(mini_data_dir, tmp_path):
    out = tmp_path / "fmnist"
    vision_ds_convolution_fashion_mnist.main([
        "--data_dir", str(mini_data_dir / "fashion_mnist"), "--out_dir", str(out), "--max_samples", "256",
        "--constraints_percentages", "0.5", "--subnets_number", "2", "--no-export_runtime_width", *QUICK,
        "--memory_budget", "0.3", "--bn_mode", "per_subnet_recalib", "--bn_recalibration_samples", "128"])
    metrics = json.loads((out / "s" / "run0" / "metrics.json").read_text())
    full, half = metrics["subnetworks"]
    assert [full["subnetwork"], half["subnetwork"]] == ["100%", "50%"]
    assert half["within_budget"] and half["within_memory_budget"]
    # conv stack of the vision DS-CNN S: 640 + 4 x (640 + 4,160) = 19,840 parameters (kernels + biases)
    assert full["knapsack_model_parameters"] == 19_840
    assert half["memory_target"] == round(0.3 * 19_840) >= half["knapsack_model_parameters"]
    # the memory row binds: it stops the selection well short of the 50 % MAC target
    assert half["mac_percentage"] < 40
    knapsack = json.loads((out / "s" / "run0" / "knapsack.json").read_text())
    assert knapsack["total_parameters"] == 19_840 and knapsack["memory_targets"] == [5952]
    assert metrics["bn_mode"] == "per_subnet_recalib"
    assert all(0 <= r["accuracy_training_bn_statistics"] <= 1 for r in metrics["subnetworks"])
    # TFLite Micro column: the pipeline's figures are mlperf_tiny.tflm's measure of the same int8 file
    from mlperf_tiny import tflm

    for row in (full, half):
        measured = tflm.measure(row["tflite"])
        assert (row["tflm_arena_bytes"], row["tflm_activation_bytes"], row["tflm_persistent_bytes"]) == (
            measured["arena_bytes"], measured["activation_bytes"], measured["persistent_bytes"])
        assert row["tflm_flash_bytes"] == measured["flatbuffer_bytes"] == row["tflite_bytes"]
    # the activation peak sits at the last pointwise layer, which keeps its 64 filters (--last_pointwise_filters):
    # the same planned activations (25,088 B measured), less flash
    assert 0 < half["tflm_activation_bytes"] <= full["tflm_activation_bytes"]
    assert half["tflm_flash_bytes"] < full["tflm_flash_bytes"]
    # python -m reds.evaluate on the run folder: every nested subnetwork, with the run's own BN statistics
    result_file = tmp_path / "evaluate.json"
    assert evaluate.main(["--dataset", "fashion_mnist", "--pretrained_weights", str(out), "--data_dir",
                          str(mini_data_dir / "fashion_mnist"), "--max_samples", "256", "--json", str(result_file)]) == 0
    (run,) = json.loads(result_file.read_text())["models"]
    assert [r["subnetwork"] for r in run["subnetworks"]] == ["100%", "50%"]
    assert [r["accuracy"] for r in run["subnetworks"]] == pytest.approx(
        [100 * r["accuracy"] for r in metrics["subnetworks"]])


def test_per_subnet_stats_keeps_the_statistics_the_last_epoch_trained_with(mini_data_dir, tmp_path):
    """--bn_mode per_subnet_stats: each epoch trains with statistics measured from the weights it starts with; the
    run ends with those of its last epoch (saved), not a recalibration from the final weights, also after a
    resume that finds the phase finished (recomputing there would give other statistics, other accuracies)."""
    import numpy as np

    from reds import pipeline

    out = tmp_path / "fmnist"
    argv = ["--data_dir", str(mini_data_dir / "fashion_mnist"), "--out_dir", str(out), "--max_samples", "256",
            "--constraints_percentages", "0.25", "--subnets_number", "2", "--no-export_tflite",
            "--no-export_runtime_width", *QUICK, "--epochs", "2", "--finetune_batch_norm_epochs", "0",
            "--learning_rate", "0.01", "--bn_mode", "per_subnet_stats", "--bn_recalibration_samples", "96"]
    assert vision_ds_convolution_fashion_mnist.main(argv) == 0
    run_dir = out / "s" / "run0"
    rows = json.loads((run_dir / "metrics.json").read_text())["subnetworks"]
    assert [r["accuracy"] for r in rows] == [r["accuracy_training_bn_statistics"] for r in rows]
    saved = pipeline._load_arrays(run_dir / pipeline.BN_STATISTICS_FILE)
    assert len(saved) == 2 * 9 * 2  # 2 subnetworks x 9 BN layers (first conv, 4 x depthwise + pointwise) x 2
    # the statistics of the weights after training differ from those the last epoch used
    settings = evaluate.run_settings(out)
    train_x = pipeline.load_data(settings, cache_dir=out / "feature_cache")["train"][0]
    nested, *_, weights = evaluate.nested_run_model(run_dir, settings, train_x.shape[1:])
    assert weights == run_dir / "joint_resume.h5"
    recomputed = pipeline.bn_statistics_arrays(nested.recalibrate_batch_norm(train_x[:96]))
    assert max(np.abs(recomputed[k] - saved[k]).max() for k in saved) > 1e-3
    # resume after losing the metrics: the finished phase is not retrained and ends with the saved statistics
    (run_dir / "metrics.json").unlink()
    assert vision_ds_convolution_fashion_mnist.main(argv) == 0
    again = json.loads((run_dir / "metrics.json").read_text())["subnetworks"]
    assert [r["accuracy"] for r in again] == [r["accuracy"] for r in rows]
    after_resume = pipeline._load_arrays(run_dir / pipeline.BN_STATISTICS_FILE)
    assert all(np.array_equal(after_resume[k], saved[k]) for k in saved)


def test_bad_flags_and_missing_data_give_clear_errors(tmp_path):
    assert kws_dnn.main(["--no_such_flag"]) == 2
    with pytest.raises(rc.UsageError, match="needs 3"):
        kws_dnn.main.__wrapped__(["--constraints_percentages", "0.5", "--out_dir", str(tmp_path)])
    with pytest.raises(datasets.DatasetError, match="make mini-data"):
        kws_dnn.main.__wrapped__(["--data_dir", str(tmp_path / "missing"), "--out_dir", str(tmp_path / "o")])
    with pytest.raises(datasets.DatasetError, match="Fashion-MNIST"):
        vision_ds_convolution_fashion_mnist.main.__wrapped__(["--data_dir", str(tmp_path), "--out_dir",
                                                              str(tmp_path / "v")])
    assert not (tmp_path / "o").exists() and not (tmp_path / "v").exists()


def test_corrupt_idx_file_is_reported(tmp_path):
    for name in datasets.FASHION_MNIST_FILES:
        (tmp_path / name).write_bytes(b"not gzip")
    with pytest.raises(datasets.DatasetError, match="corrupt idx file"):
        datasets.load_fashion_mnist(tmp_path)
