"""Cut logic, flags, and an end-to-end prune -> int8 -> evaluate -> sweep run on the mini VWW data."""

import json
from pathlib import Path

import numpy as np
import pytest
from depth_pruning import common, sweep
from depth_pruning.aux_models import AUX_ARCHS, check_aux_arch
from depth_pruning.base_models import build_base_model
from depth_pruning.pruning import build_pruned_model, cut_points, resolve_cut, tail_layer_names
from mlperf_tiny import tflm

KIT_VWW_INT8 = (Path(__file__).resolve().parents[2].parent / "shared" / "fidelity" / "models" / "mlperf" / "visual_wake_words"
                / "vww_96_int8.tflite")


@pytest.mark.parametrize("variant,cut,last_layer_index", [("vww", "block5", 3 + 6 * 5), ("kws", "block2", 3 + 6 * 2)])
def test_no_layer_after_cut(variant, cut, last_layer_index):
    base = build_base_model(variant)
    pruned = build_pruned_model(base, cut, "dscnn32_16", 2)
    base_names = [layer.name for layer in base.layers]
    cut_layer = resolve_cut(base, cut)
    # kws has a Dropout after the stem ReLU: one more layer per position after conv1
    offset = 1 if variant == "kws" else 0
    assert base_names.index(cut_layer) == last_layer_index + offset
    assert tail_layer_names(pruned) == base_names[: base_names.index(cut_layer) + 1]
    assert pruned.layers[-1].name == "aux_pred"


def test_cut_names_follow_the_original_auto_names():
    base = build_base_model("vww")
    cuts = cut_points(base)
    assert list(cuts) == ["conv1"] + [f"block{k}" for k in range(1, 14)]
    relus = [layer.name for layer in base.layers if "activation" in layer.name]
    # original sweep: conv1 = activation, block k = activation_{2k}
    assert resolve_cut(base, "activation") == relus[0]
    assert resolve_cut(base, "activation_10") == relus[10] == cuts["block5"]
    with pytest.raises(ValueError, match="unknown cut"):
        resolve_cut(base, "block14")


def test_every_head_builds_and_unknown_head_suggests():
    base = build_base_model("kws")
    for arch in AUX_ARCHS:
        model = build_pruned_model(base, "block1", arch, 12)
        assert model.output_shape == (None, 12)
    with pytest.raises(ValueError, match="dscnn32_16"):
        check_aux_arch("dscnn_32_16")


def test_boolean_flags_accept_old_spellings():
    import argparse

    parser = argparse.ArgumentParser()
    common.add_bool_flag(parser, "--frozen_head", True, "freeze")
    assert parser.parse_args([]).frozen_head is True
    assert parser.parse_args(["--frozen_head", "False"]).frozen_head is False
    assert parser.parse_args(["--frozen_head", "True"]).frozen_head is True
    assert parser.parse_args(["--no-frozen_head"]).frozen_head is False
    assert parser.parse_args(["--frozen_head"]).frozen_head is True
    with pytest.raises(SystemExit):
        parser.parse_args(["--frozen_head", "maybe"])


@pytest.fixture(scope="module")
def frozen_run(small_vww, tmp_path_factory):
    from depth_pruning.vww import prune_vww_aux

    out = tmp_path_factory.mktemp("runs")
    base = build_base_model("vww")
    base.save(str(out / "base.h5"))
    assert prune_vww_aux.main(["--base_model_path", str(out / "base.h5"), "--attach_tensor_name", "activation_2",
                        "--data_dir", str(small_vww), "--train_dir", str(out / "sweep"), "--ckpt_name", "b1",
                        "--frozen_head", "True", "--epochs_per_stage", "2", "--learning_rates", "1e-3",
                               "--verbose", "0", "--aux_bn_momentum", "0.9"]) == 0
    return out


def test_frozen_tail_is_bit_identical(frozen_run):
    import tensorflow as tf

    base = tf.keras.models.load_model(str(frozen_run / "base.h5"), compile=False)
    pruned = tf.keras.models.load_model(str(frozen_run / "sweep" / "b1" / common.MODEL_FILE), compile=False)
    tail = tail_layer_names(pruned)
    assert len(tail) == 1 + 3 + 6  # input, stem (conv, BN, ReLU), block 1
    for name in tail:
        for before, after in zip(base.get_layer(name).get_weights(), pruned.get_layer(name).get_weights()):
            np.testing.assert_array_equal(before, after)  # weights and BN moving statistics
    # the head did train: its BN moving mean left its zero initialisation
    assert np.abs(pruned.get_layer("aux_block0_bn1").get_weights()[2]).max() > 0
    result = json.loads((frozen_run / "sweep" / "b1" / common.RESULT_FILE).read_text())
    assert result["cut"] == "block1" and result["params"] == 2546 and result["dataset"] != "mini"
    assert result["val_samples"] == 12 and 0.0 <= result["val_accuracy"] <= 1.0


def test_int8_model_io_and_agreement(frozen_run, small_vww):
    from depth_pruning.vww import tflite_convert_quantize, tflite_evaluate

    run = frozen_run / "sweep" / "b1"
    tflite_convert_quantize.main([str(run), "--data_dir", str(small_vww)])
    result = tflite_evaluate.main.__wrapped__([str(run), "--data_dir", str(small_vww), "--no_progress"])
    assert (run / "b1_float.tflite").exists()
    assert result["int8_input_dtype"] == "int8" and result["int8_output_dtype"] == "int8"
    assert result["int8_bytes"] == (run / "b1_int8.tflite").stat().st_size
    assert result["int8_float_agreement"] >= 0.95
    # The TFLite Micro column: the kit's reference int8 VWW model as the unpruned base (else the run's own file)
    base_tflite = KIT_VWW_INT8 if KIT_VWW_INT8.is_file() else run / "b1_int8.tflite"
    records = sweep.main.__wrapped__(["--sweep_dir", str(frozen_run / "sweep"), "--task", "vww", "--base_accuracy", "0.5",
                                      "--base_tflite", str(base_tflite)])
    assert records[0]["cut"] == "block1" and records[0]["acc_int8"] == result["acc_int8"]
    header, row = [line.split(",") for line in (frozen_run / "sweep" / "sweep.csv").read_text().splitlines()]
    assert header[:8] == ["cut", "params", "macs", "flops", "int8_bytes", "acc_frozen", "acc_unfrozen", "acc_int8"]
    assert (frozen_run / "sweep" / "vww.png").stat().st_size > 10_000
    # the sweep's figures are TFLite Micro's own, measured on the same files
    pruned, base = tflm.measure(run / "b1_int8.tflite"), tflm.measure(base_tflite)
    expected = {"tflm_arena_bytes": pruned["arena_bytes"], "tflm_flash_bytes": pruned["flatbuffer_bytes"],
                "base_tflm_arena_bytes": base["arena_bytes"], "base_tflm_flash_bytes": base["flatbuffer_bytes"]}
    assert {k: records[0][k] for k in expected} == expected
    assert {k: int(row[header.index(k)]) for k in expected} == expected
    assert pruned["flatbuffer_bytes"] == result["int8_bytes"]


def test_missing_base_model_is_a_clear_error(small_vww, tmp_path, capsys):
    from depth_pruning.vww import prune_vww_aux

    code = prune_vww_aux.main(["--base_model_path", str(tmp_path / "nope.h5"), "--data_dir", str(small_vww),
                               "--train_dir", str(tmp_path)])
    assert code == 2
    assert "make mlperf-vww" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_compute_flops_entry_point_matches_the_run_record(frozen_run, capsys):
    from depth_pruning.vww import compute_flops

    run = frozen_run / "sweep" / "b1"
    record = compute_flops.main.__wrapped__(["--ckpt_name", str(run), "--skip_parser", "True"])
    saved = json.loads((run / common.RESULT_FILE).read_text())
    assert record["params"] == saved["params"] == 2546
    assert record["flops"] == saved["flops"] and record["macs"] == saved["macs"]
    assert f"FLOPs is: {saved['flops']}" in capsys.readouterr().out
