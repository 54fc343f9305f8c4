"""End-to-end CLI runs of the KWS and VWW scripts on tiny slices of the mini data (one short training each):
run files, traces in the original format, curves against the trained baseline, figures, the two-part TFLite run,
and the original flag spellings."""

import json
import shutil

import pytest
from trecx.keyword_spotting import test_dscnn, train_dscnn
from trecx.visual_wake_words import test_mobnet, train_mobnet

from trecx import curves
from trecx import early_exit as ee

KWS_EE_MACS, KWS_FINAL_MACS = 1_501_536, 2_706_688
VWW_EE_MACS, VWW_FINAL_MACS = 3_309_696, 8_710_208


def untrained_base(name, shape, classes, path):
    """A base model file as mlperf-tiny writes one (whole Keras .h5), untrained: the baseline and the
    --init_from_base source of the tiny runs without a second training."""
    from mlperf_tiny.registry import get_model

    get_model(name, input_shape=shape, num_classes=classes).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def kws_run(tmp_path_factory, mini_data_dir):
    out = tmp_path_factory.mktemp("kws")
    base = untrained_base("ds_cnn", (49, 10, 1), 12, out / "kws_ref_model.h5")
    common = ["--data_dir", str(mini_data_dir), "--out_dir", str(out), "--epochs", "1", "--batch_size", "16",
              "--num_train_samples", "32", "--num_val_samples", "16", "--mini", "--verbose", "0"]
    assert train_dscnn.main(["--model_architecture=ds_cnn_ev", "--isTrecx", "--isEV", "True",
                             "--model_save_name=model_with_ev_assist", "--init_from_base", base, *common]) == 0
    assert test_dscnn.main(["--data_dir", str(mini_data_dir), "--out_dir", str(out), "--num_test_samples", "24",
                            "--mini", "--tflite", "--baseline_model", base]) == 0
    return out


def test_kws_train_and_test_cli(kws_run):
    run = kws_run / "model_with_ev_assist"
    args = json.loads((run / "args.json").read_text())
    assert args["W_aux"] == 0.3 and args["isEV"] is True and args["epochs"] == 1 and args["dataset"] == "mini"
    assert args["init_from_base"].endswith("kws_ref_model.h5")
    assert len((run / "history.csv").read_text().strip().splitlines()) == 2  # header + 1 epoch
    ee_trace, ef_trace = curves.load_trace_pair(kws_run / "trace_data", "model_with_ev_assist")
    assert len(ee_trace["truth"]) == len(ef_trace["truth"]) == 24
    metrics = json.loads((kws_run / "results" / "metrics.json").read_text())
    assert metrics["dataset"] == "mini" and metrics["num_test_samples"] == 24
    assert metrics["baseline"]["macs"] == 2_656_768 and metrics["baseline"]["architecture"] == "ds_cnn"
    trecx = metrics["models"]["model_with_ev_assist"]
    assert trecx["params"] == 28_248 and len(trecx["standalone_accuracies"]) == 2
    curve = trecx["curve"]
    assert (curve["macs_ee"], curve["macs_final"]) == (KWS_EE_MACS, KWS_FINAL_MACS)
    assert curve["baseline_macs"] == 2_656_768 and len(curve["points"]) == 101
    assert curve["points"][0]["avg_macs"] == KWS_EE_MACS and curve["points"][0]["accuracy"] == curve["ee_accuracy"]
    for point in trecx["tflite"]["points"]:
        rate = point["exit_rate"]
        assert point["avg_macs"] == pytest.approx(rate * KWS_EE_MACS + (1 - rate) * KWS_FINAL_MACS)
    for fig in ("Fig4b", "Fig6", "Fig7b"):
        assert (kws_run / "results" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def vww_run(tmp_path_factory, mini_data_dir):
    data = tmp_path_factory.mktemp("vww_data")
    for name in ("person", "non_person"):  # 10 real mini images per class, same layout
        (data / name).mkdir()
        for path in sorted((mini_data_dir / "vw_coco2014_96" / name).iterdir())[:10]:
            shutil.copy(path, data / name / path.name)
    out = tmp_path_factory.mktemp("vww")
    base = untrained_base("mobilenet_v1", (96, 96, 3), 2, out / "vww_96.h5")
    common = ["--data_dir", str(data), "--out_dir", str(out), "--epochs_per_stage", "1", "1",
              "--learning_rates", "1e-3", "5e-4", "--validation_split", "0.2", "--verbose", "0"]
    assert train_mobnet.main(["model_with_ev_assist", "mobnet_ev", "0.4", *common]) == 0
    assert test_mobnet.main(["--data_dir", str(data), "--out_dir", str(out), "--split", "validation",
                             "--validation_split", "0.2", "--baseline_model", base]) == 0
    return out


def test_vww_train_and_test_cli(vww_run):
    run = vww_run / "model_with_ev_assist"
    args = json.loads((run / "args.json").read_text())
    assert args["W_aux"] == 0.4 and args["loss_mode"] == "lossEE" and args["epochs_per_stage"] == [1, 1]
    assert len((run / "history.csv").read_text().strip().splitlines()) == 3  # header + 2 stages of 1 epoch
    metrics = json.loads((vww_run / "results" / "metrics.json").read_text())
    assert metrics["num_test_samples"] == 4 and metrics["baseline"]["macs"] == 7_489_664
    curve = metrics["models"]["model_with_ev_assist"]["curve"]
    assert (curve["macs_ee"], curve["macs_final"]) == (VWW_EE_MACS, VWW_FINAL_MACS)
    assert curve["points"][-1]["accuracy"] == curve["final_accuracy"] or curve["points"][-1]["exit_rate"] > 0
    assert (vww_run / "results" / "Fig4c.png").read_bytes()[:4] == b"\x89PNG"


def test_vww_transfer_schedule_and_bad_input(tmp_path):
    assert train_mobnet.transfer_epochs_vww([20, 10, 20]) == 42  # notes: all of stages 1-2 + epochs 0..11 of 3
    assert train_mobnet.transfer_epochs_vww([2, 1, 1]) == 4
    # IC/KWS callback: stops after epoch (epochs // 5) * 4 + 1 -> 402 of 500 (notes), 30 of 36
    assert [ee.original_transfer_epochs(n) for n in (500, 36, 8, 1)] == [402, 30, 6, 1]
    assert train_mobnet.main(["m", "mobnet_evv"]) == 2
    assert train_mobnet.main(["m", "mobnet_ev", "--data_dir", str(tmp_path / "nope"), "--out_dir", str(tmp_path)]) == 2
    assert train_dscnn.main(["--data_dir", str(tmp_path / "nope"), "--out_dir", str(tmp_path)]) == 2
    assert train_dscnn.main(["--model_architecture", "ds_cnn_noev", "--isEV"]) == 2
    assert train_dscnn.main(["--model_architecture", "ds_cnn", "--init_from_base", str(__file__)]) == 2
    assert train_mobnet.main(["m", "mobnet_ev", "--init_from_base", str(tmp_path / "nope.h5")]) == 2
    assert list(tmp_path.iterdir()) == []
