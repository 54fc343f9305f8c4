"""End-to-end runs of ``python -m compare_kws.compare`` on the mini data: the table, each subproject's counters,
resume and refusal (the run_contract contract)."""

import csv
import json
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import pytest
from compare_kws.compare import COLUMNS, main
from run_contract.testing import assert_one_line_error, tree_hashes

TINY = ["--finetune_epochs", "1", "--batch_size", "16", "--num_train_samples", "160", "--latency_runs", "5",
        "--latency_warmup", "1", "--trecx_thresholds", "0,1"]


def read_points(out_dir):
    with open(Path(out_dir) / "points.csv", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def check_table(fieldnames, rows, methods):
    assert tuple(fieldnames) == COLUMNS
    assert {r["method"] for r in rows} == {"base", *methods}
    for r in rows:
        for key in ("point", "setting", "data", "int8_accuracy", "params", "kernel_params", "macs", "peak_bytes",
                    "peak_note", "tflite_bytes", "latency_median_ms", "latency_p10_ms", "latency_p90_ms", "tflite"):
            assert r[key] != "", (r["point"], key)
        assert 0 <= float(r["int8_accuracy"]) <= 1
        assert int(r["peak_bytes"]) > 0 and int(r["tflite_bytes"]) > 0
        assert float(r["latency_p10_ms"]) <= float(r["latency_median_ms"]) <= float(r["latency_p90_ms"])
        assert all(Path(p).is_file() for p in r["tflite"].split(";"))
        assert (r["rho"] != "") == (r["method"] == "trecx")


def check_counters(rows, out_dir):
    """Each row's params / MACs against the counter of the subproject that made it, on the row's own model."""
    import tensorflow as tf
    from depth_pruning.count import count_all_cuts, count_model
    from mlperf_tiny.counting import count_macs, count_params
    from trecx.helpers import load_trained

    from trecx import early_exit as ee

    base = next(r for r in rows if r["method"] == "base")
    for r in rows:
        method, params, macs = r["method"], int(r["params"]), int(r["macs"])
        if method == "trecx":
            model = load_trained("ds_cnn_ev", Path(r["model"]).parent, (49, 10, 1), 12)
            c_ee, c_ef = ee.exit_costs(model)  # trecx's exit costs: C_Ee, C_Ef (EE head always paid)
            rate = float(r["exit_rate"])
            assert macs == round(rate * c_ee + (1 - rate) * c_ef)
            assert params == count_params(model) == 28_248  # trecx README: ds_cnn_ev
            continue
        model = tf.keras.models.load_model(r["model"], compile=False)
        if method == "base":
            assert (params, macs) == (count_params(model), count_macs(model)) == (24_908, 2_656_768)
        elif method == "depth_pruning":
            cut = r["point"].removeprefix("depth_pruning_")
            (arch,) = [c for c in count_all_cuts("kws", cuts=[cut], with_flops=False) if c["cut"] == cut]
            result = json.loads((Path(r["model"]).parent / "result.json").read_text())
            assert (params, macs) == (arch["params"], arch["macs"]) == (result["params"], result["macs"])
        elif method.startswith("magnitude"):
            counted = count_model(model, with_flops=False)
            assert (params, macs) == (counted["params"], counted["macs"]) == (int(base["params"]), int(base["macs"]))
            assert int(r["nonzero_kernel_params"]) < int(r["kernel_params"])
            if method == "magnitude":  # tfmot's measured sparsity of its prunable kernels (depth_pruning's counter)
                result = json.loads((Path(r["model"]).parent / "result.json").read_text())
                zeros = int(r["kernel_params"]) - int(r["nonzero_kernel_params"])
                assert zeros >= round(result["sparsity"] * result["pruned_weights"])
        elif method == "reds":
            from reds.pipeline import knapsack_layer_macs
            from reds.utils.reds_model import kernel_parameter_count

            metrics = json.loads((Path(out_dir) / "reds" / "s" / "run0" / "metrics.json").read_text())
            label = r["point"].removeprefix("reds_").replace("pct", "%")
            (reported,) = [s for s in metrics["subnetworks"] if s["subnetwork"] == label]
            assert int(r["kernel_params"]) == kernel_parameter_count(model) == reported["params"]
            assert knapsack_layer_macs(model) == reported["knapsack_layer_macs"]
            assert macs == reported["macs"]  # reds' deploy counter of the same subnetwork
            assert float(r["float_accuracy"]) == pytest.approx(reported["accuracy"], abs=1.5 / int(r["test_samples"]))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mini_data_dir, random_base):
    """Base, one depth-pruning cut and T-RECX, one epoch on 160 clips (magnitude pruning without fine-tuning: the
    real-data panel's run; with fine-tuning and REDS: the slow test)."""
    out = tmp_path_factory.mktemp("compare") / "kws"
    argv = ["--base", str(random_base), "--data_dir", str(mini_data_dir), "--out_dir", str(out),
            "--methods", "depth_pruning,trecx", "--cuts", "conv1", "--sparsities", "0.5", *TINY]
    assert main(argv) == 0
    return out, argv


def test_table_columns_and_rows(tiny_run):
    out, _ = tiny_run
    fieldnames, rows = read_points(out)
    check_table(fieldnames, rows, {"depth_pruning", "trecx"})
    assert [r["point"] for r in rows if r["method"] == "trecx"] == ["trecx_rho0.00", "trecx_rho1.00"]
    trecx = {r["point"]: r for r in rows if r["method"] == "trecx"}
    assert float(trecx["trecx_rho0.00"]["exit_rate"]) == 1.0  # every sample leaves at the EE: C_Ee
    assert int(trecx["trecx_rho0.00"]["macs"]) < int(trecx["trecx_rho1.00"]["macs"])
    assert {r["data"] for r in rows} == {"mini"}
    for name in ("pareto_macs.png", "pareto_peak.png", "pareto_latency.png", "pareto.html", "papers.csv",
                 "metrics.json", "args.json", "latency.json"):
        assert (out / name).is_file(), name


def test_rows_equal_the_subprojects_counters(tiny_run):
    out, _ = tiny_run
    _, rows = read_points(out)
    check_counters(rows, out)


def test_rerun_resumes_and_other_flags_are_refused(tiny_run, capsys):
    out, argv = tiny_run
    measured = {p: h for p, h in tree_hashes(out).items() if "/points/" in f"/{p}" or p.endswith("result.json")}
    assert main(argv) == 0  # every stage measured before: nothing retrained or re-measured
    after = tree_hashes(out)
    assert all(after[p] == h for p, h in measured.items())
    before = tree_hashes(out)
    capsys.readouterr()
    assert main([*argv, "--sparsities", "0.25"]) == 2
    assert_one_line_error(capsys.readouterr().err, "sparsities", "--overwrite")
    assert tree_hashes(out) == before


@pytest.mark.parametrize("extra, fragment", [
    (["--sparsities", "1.5"], "sparsities"),
    (["--methods", "reds,pruning"], "methods"),
    (["--cuts", "block9"], "cuts"),
    (["--reds_args", "--front_end arm"], "--front_end"),
    (["--trecx_args", "--epochs_typo 3"], "epochs_typo"),
    (["--reference_int8", "x.tflite"], "--reference_int8"),
])
def test_bad_flags_are_one_line_errors_before_any_write(tmp_path, mini_data_dir, random_base, capsys, extra, fragment):
    out = tmp_path / "out"
    code = main(["--base", str(random_base), "--data_dir", str(mini_data_dir), "--out_dir", str(out), *extra])
    assert code == 2
    assert_one_line_error(capsys.readouterr().err, fragment)
    assert not out.exists()


def test_a_truncated_base_is_refused(tmp_path, mini_data_dir, random_base, capsys):
    out = tmp_path / "out"
    bad = tmp_path / "truncated.h5"
    bad.write_bytes(random_base.read_bytes()[:1000])
    assert main(["--base", str(bad), "--data_dir", str(mini_data_dir), "--out_dir", str(out)]) == 2
    assert_one_line_error(capsys.readouterr().err, "truncated.h5")
    assert not out.exists()


def test_training_on_eembc_stimuli_is_refused(tmp_path, random_base, capsys, kit):
    out = tmp_path / "out"
    assert main(["--base", str(random_base), "--data_dir", str(kit / "eembc" / "kws01"), "--out_dir", str(out),
                 "--methods", "trecx"]) == 2
    assert_one_line_error(capsys.readouterr().err, "EEMBC", "training data")
    assert not out.exists()


@pytest.fixture(scope="session")
def trained_base(tmp_path_factory, mini_data_dir):
    """A mini DS-CNN trained for 3 epochs (REDS refuses a base at chance accuracy)."""
    from mlperf_tiny.keyword_spotting import train

    path = tmp_path_factory.mktemp("trained") / "kws_ref_model.h5"
    assert train.main(["--data_dir", str(mini_data_dir), "--saved_model_path", str(path), "--epochs", "3",
                       "--batch_size", "16", "--mini", "--run_test_set", "False"]) == 0
    return path


@pytest.mark.slow
def test_every_method_end_to_end_with_each_subprojects_counters(tmp_path, mini_data_dir, trained_base):
    """All five methods (REDS and tfmot fine-tuning too), one setting each."""
    out = tmp_path / "kws"
    reds = ("--epochs 1 --finetune_head_epochs 1 --finetune_batch_norm_epochs 1 --minibatch_number 2 --batch_size 32 "
            "--consistent_permutation --channel_aware_flatten_slice")
    argv = ["--base", str(trained_base), "--data_dir", str(mini_data_dir), "--out_dir", str(out), "--cuts", "block2",
            "--sparsities", "0.5", "--reds_budgets", "0.5", "--reds_args", reds, *TINY]
    assert main(argv) == 0
    fieldnames, rows = read_points(out)
    check_table(fieldnames, rows, {"magnitude_no_finetune", "magnitude", "depth_pruning", "trecx", "reds"})
    check_counters(rows, out)
    reds_rows = {r["point"]: r for r in rows if r["method"] == "reds"}
    assert set(reds_rows) == {"reds_100pct", "reds_50pct"}
    assert int(reds_rows["reds_50pct"]["macs"]) < 0.5 * int(reds_rows["reds_100pct"]["macs"]) + 1000
    assert np.isfinite(float(reds_rows["reds_100pct"]["reported_accuracy"]))
