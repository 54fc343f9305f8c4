"""End-to-end CLI runs of the IC scripts on the mini CIFAR-10 (a few images, one epoch): traces in the original
format, curves, plots, resumable training and the two-part int8 TFLite runner."""

import json

import pytest
from trecx.image_classification import test_resnet, train_resnet

from trecx import curves


@pytest.fixture(scope="module")
def ic_run(tmp_path_factory, mini_data_dir):
    out = tmp_path_factory.mktemp("ic")
    data = str(mini_data_dir / "cifar-10-batches-py")
    common = ["--data_dir", data, "--out_dir", str(out), "--epochs", "1", "--num_train_samples", "64", "--verbose", "0"]
    assert train_resnet.main(["--model_architecture", "resnet_ev", "--isEV", "True", "--isTrecx", "True",
                              "--model_save_name", "model_with_ev_assist", *common]) == 0
    assert train_resnet.main(["--model_architecture", "resnet_sdn", "--model_save_name", "model_sdn", *common]) == 0
    from mlperf_tiny.registry import get_model  # the base as mlperf-tiny writes it (untrained: no third training)

    base = str(out / "trainedResnet.h5")
    get_model("resnet_v1_eembc", input_shape=(32, 32, 3), num_classes=10).save(base)
    assert test_resnet.main(["--data_dir", data, "--out_dir", str(out), "--num_test_samples", "40", "--tflite",
                             "--baseline_model", base]) == 0
    return out


def test_train_writes_run_files_and_resumes(ic_run, mini_data_dir):
    run = ic_run / "model_with_ev_assist"
    assert {"args.json", "history.csv", "metrics.json", "model.weights.h5", "training_curves.png"} <= {
        p.name for p in run.iterdir()}
    args = json.loads((run / "args.json").read_text())
    assert args["W_aux"] == 0.5 and args["isEV"] is True and args["dataset"] == "mini"
    rows = (run / "history.csv").read_text().strip().splitlines()
    # Re-running the finished command trains no further epoch.
    train_resnet.main(["--model_architecture", "resnet_ev", "--isEV", "--model_save_name", "model_with_ev_assist",
                       "--data_dir", str(mini_data_dir / "cifar-10-batches-py"), "--out_dir", str(ic_run),
                       "--epochs", "1", "--num_train_samples", "64", "--verbose", "0"])
    assert (run / "history.csv").read_text().strip().splitlines() == rows


def test_test_script_traces_curves_plots_tflite(ic_run):
    ee_trace, ef_trace = curves.load_trace_pair(ic_run / "trace_data", "model_with_ev_assist")
    assert len(ee_trace["truth"]) == 40
    metrics = json.loads((ic_run / "results" / "metrics.json").read_text())
    assert metrics["dataset"] == "mini"
    trecx = metrics["models"]["model_with_ev_assist"]
    curve = trecx["curve"]
    assert len(curve["points"]) == 101 and curve["macs_ee"] == 5_723_136 and curve["macs_final"] == 13_070_976
    assert curve["points"][0]["avg_macs"] == 5_723_136 and curve["points"][0]["exit_rate"] == 1.0
    assert len(metrics["models"]["model_sdn"]["standalone_accuracies"]) == 3
    for fig in ("Fig4a", "Fig7a"):
        assert (ic_run / "results" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
    for point in trecx["tflite"]["points"]:
        # measured average MACs of the two-part run obey the cost model
        rate = point["exit_rate"]
        assert point["avg_macs"] == pytest.approx(rate * 5_723_136 + (1 - rate) * 13_070_976)
    assert 0 < trecx["tflite"]["part1_bytes"] and 0 < trecx["tflite"]["part2_bytes"]


def test_tflite_micro_arenas_of_the_written_parts(ic_run):
    """The TFLite Micro column (issue 19.3): every arena in the metrics is what mlperf_tiny.tflm measures on the
    .tflite file the test script wrote, and each file is the graph it claims to be."""
    from mlperf_tiny import tflm

    metrics = json.loads((ic_run / "results" / "metrics.json").read_text())
    figures = metrics["models"]["model_with_ev_assist"]["tflite"]["tflm"]
    assert figures["baseline"] == metrics["baseline"]["tflm"]
    measured = {}
    for key in ("part1", "part2", "ee_only", "baseline"):
        path = ic_run / "tflite" / figures[key]["file"]
        measured[key] = tflm.measure(path)
        for field in ("arena_bytes", "activation_bytes", "persistent_bytes", "flatbuffer_bytes"):
            assert figures[key][field] == measured[key][field], (key, field)
        assert figures[key]["flatbuffer_bytes"] == path.stat().st_size
        assert 0 < figures[key]["activation_bytes"] < figures[key]["arena_bytes"]
        # int8 through and through, as a microcontroller runs it: no float I/O buffers
        assert {t["dtype"] for t in measured[key]["inputs"] + measured[key]["outputs"]} == {"INT8"}, key
        assert "DEQUANTIZE" not in measured[key]["operators"], key
    assert figures["split_arena_bytes"] == max(figures["part1"]["arena_bytes"], figures["part2"]["arena_bytes"])
    image = [1, 32, 32, 3]
    assert measured["part1"]["inputs"][0]["shape"] == image == measured["ee_only"]["inputs"][0]["shape"]
    assert measured["baseline"]["inputs"][0]["shape"] == image
    # part 1 hands its backbone features to part 2; the EE path alone ends at the 10-way EE softmax
    assert sorted(o["shape"] for o in measured["part1"]["outputs"]) == sorted(
        [measured["part2"]["inputs"][0]["shape"], [1, 10]])
    assert [o["shape"] for o in measured["ee_only"]["outputs"]] == [[1, 10]]
    assert "CONV_2D" in measured["part2"]["operators"] and "SOFTMAX" in measured["part2"]["operators"]


def test_bad_flags_and_missing_data(tmp_path, capsys):
    assert train_resnet.main(["--model_architecture", "resnet_evv"]) == 2
    assert "resnet_ev" in capsys.readouterr().err  # the closest name is suggested
    assert train_resnet.main(["--model_architecture", "resnet_noev", "--isEV", "--data_dir", str(tmp_path)]) == 2
    assert "EV branch" in capsys.readouterr().err
    assert train_resnet.main(["--data_dir", str(tmp_path / "nope"), "--out_dir", str(tmp_path)]) == 2
    assert list(tmp_path.iterdir()) == []  # nothing written before the checks
