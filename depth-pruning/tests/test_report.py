"""The multi-seed report: its checks on known records (fast), and the paper's two claims on mini KWS (slow)."""

import json

import pytest
from depth_pruning import report

KWS_MINI_BASE_EPOCHS = 12  # the mlperf-tiny mini recipe (make MINI=1 mlperf-kws)
KWS_MINI_HEAD_EPOCHS = 8  # project.mk DP_KWS_EPOCHS under MINI=1
KWS_MINI_BATCH = 16  # the mini recipe of the base and of the heads (DP_KWS_PRUNE_EXTRA)
SEEDS = (0, 1, 2)


def records(aux, dense, std=0.01):
    cuts = ["conv1", "block1", "block2", "block3"]
    return [{"cut": cut, "params": 1000 * (i + 1), "acc_frozen": a, "acc_frozen_std": std, "acc_dense": d,
             "acc_dense_std": std, "n_seeds": 3} for i, (cut, a, d) in enumerate(zip(cuts, aux, dense))]


def test_checks_follow_the_means():
    good = report.build_report(records([0.80, 0.85, 0.90, 0.89], [0.60, 0.70, 0.91, 0.92]))["checks"]
    assert good["shallow_cuts"] == ["conv1", "block1"]
    assert good["aux_beats_dense_at_shallow_cuts"] is True
    assert good["aux_beats_dense"] == {"conv1": True, "block1": True, "block2": False, "block3": False}
    assert good["rises_with_depth"] is True and good["non_decreasing_fraction"] == pytest.approx(2 / 3)
    assert good["enough_seeds"] is True
    bad = report.build_report(records([0.70, 0.60, 0.65, 0.55], [0.75, 0.50, 0.60, 0.60]))["checks"]
    assert bad["aux_beats_dense_at_shallow_cuts"] is False and bad["rises_with_depth"] is False


def test_markdown_has_mean_and_std():
    text = report.to_markdown(report.build_report(records([0.8, 0.85, 0.9, 0.9], [0.6, 0.7, 0.8, 0.8])), "kws")
    assert "| conv1 | 1,000 | - | 80.0 ± 1.0 | 60.0 ± 1.0 | - | - | - | 3 |" in text


@pytest.mark.slow
def test_kws_mini_aux_beats_dense_and_rises_with_depth(mini_data_dir, tmp_path):
    """3 seeds, cuts conv1/block2/block4, aux and dense heads on a mini-trained DS-CNN (~15 min on 2 cores)."""
    from depth_pruning.kws import prune_kws_aux
    from mlperf_tiny.keyword_spotting import train

    data = ["--data_dir", str(mini_data_dir), "--mini"]
    base = tmp_path / "base.h5"
    train.main([*data, "--saved_model_path", str(base), "--tfl_file_name", str(tmp_path / "base.tflite"),
                "--epochs", str(KWS_MINI_BASE_EPOCHS), "--batch_size", str(KWS_MINI_BATCH), "--seed", "0"])
    for seed in SEEDS:
        for cut in ("conv1", "block2", "block4"):
            for head in ("dscnn32_16", "dense"):
                assert prune_kws_aux.main([*data, "--base_model_path", str(base), "--attach_tensor_name", cut,
                                    "--aux_arch", head, "--train_dir", str(tmp_path / "sweep"),
                                    "--ckpt_name", f"{cut}_{head}_seed{seed}", "--seed", str(seed),
                                    "--epochs", str(KWS_MINI_HEAD_EPOCHS), "--batch_size", str(KWS_MINI_BATCH),
                                    "--aux_bn_momentum", "0.9",
                                    "--verbose", "0"]) == 0
    result = report.main.__wrapped__(["--sweep_dir", str(tmp_path / "sweep"), "--task", "kws"])
    checks = result["checks"]
    assert checks["min_seeds"] == len(SEEDS) and result["dataset"] == "mini"
    assert checks["aux_beats_dense"]["conv1"], result["rows"]
    assert checks["rises_with_depth"], result["rows"]
    assert json.loads((tmp_path / "sweep" / "report.json").read_text())["checks"] == checks
