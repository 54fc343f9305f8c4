"""trecx.curves: rho sweep, cost model and trade-offs on the original repo's ResNet-8 traces and on synthetic ones."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trecx import curves

GOLDEN = Path(__file__).resolve().parents[2] / ".." / "shared" / "golden" / "trecx_traces"
GOLDEN_NAME = "with_ev_assist"
# Analytic MACs of the T-RECX ResNet-8 (see test_models.py): C_Ee, C_Ef, and the plain ResNet-8 baseline.
RESNET_MACS_EE = 5_723_136
RESNET_MACS_FINAL = 13_070_976
RESNET_BASELINE_MACS = 12_501_632
PAPER_BASELINE_ACC = 0.872  # Table 1, unmodified ResNet-8

needs_golden = pytest.mark.skipif(
    not (GOLDEN / f"trace_data_model_{GOLDEN_NAME}_ee.json").is_file(),
    reason=f"golden traces of the original repo not found at {GOLDEN.resolve()} (../shared/golden/trecx_traces)",
)


@pytest.fixture(scope="module")
def golden_curve():
    ee, ef = curves.load_trace_pair(GOLDEN, GOLDEN_NAME)
    return curves.compute_curve(ee, ef, RESNET_MACS_EE, RESNET_MACS_FINAL, PAPER_BASELINE_ACC, RESNET_BASELINE_MACS)


@needs_golden
def test_golden_standalone_accuracies_match_table2(golden_curve):
    # Table 2 of the paper: T-RECX ResNet EE 73.4%, final 87.4% on the 10,000 CIFAR-10 test images.
    assert golden_curve["num_samples"] == 10_000
    assert golden_curve["ee_accuracy"] == pytest.approx(0.7342, abs=1e-12)
    assert golden_curve["final_accuracy"] == pytest.approx(0.8740, abs=1e-12)


@needs_golden
def test_golden_sweep_limits_and_grid(golden_curve):
    points = golden_curve["points"]
    assert [p["rho"] for p in points] == pytest.approx(np.arange(101) / 100)
    first, last = points[0], points[-1]
    # rho = 0: everything exits early, cost C_Ee, EE standalone accuracy; rho = 1 > max score: nothing exits.
    assert (first["exit_rate"], first["avg_macs"], first["accuracy"]) == (1.0, RESNET_MACS_EE, pytest.approx(0.7342))
    assert (last["exit_rate"], last["avg_macs"], last["accuracy"]) == (0.0, RESNET_MACS_FINAL, pytest.approx(0.874))
    rates = [p["exit_rate"] for p in points]
    assert all(a >= b for a, b in zip(rates, rates[1:])), "exit rate must not increase with rho"
    mid = points[50]
    assert (mid["exit_rate"], mid["accuracy"]) == (pytest.approx(0.8741), pytest.approx(0.7781))


@needs_golden
def test_golden_tradeoffs(golden_curve):
    # Paper: 20.7% FLOPs cut at -1 pt, 8.9% saved before dropping below the baseline (FLOPs, not MACs,
    # so a little different from our conv+dense MAC figures pinned here).
    by_drop = {t["drop"]: t for t in golden_curve["tradeoffs"]}
    assert by_drop[1.0]["rho"] == pytest.approx(0.90)
    assert by_drop[1.0]["accuracy"] == pytest.approx(0.862)
    assert by_drop[1.0]["exit_rate"] == pytest.approx(0.4495)
    assert by_drop[1.0]["mac_reduction"] == pytest.approx(0.218652, abs=1e-6)
    assert by_drop[2.0]["rho"] == pytest.approx(0.83) and by_drop[2.0]["accuracy"] == pytest.approx(0.852)
    assert by_drop[3.0]["rho"] == pytest.approx(0.77) and by_drop[3.0]["accuracy"] == pytest.approx(0.8419)
    assert by_drop[3.0]["mac_reduction"] == pytest.approx(0.315807, abs=1e-6)
    at_base = golden_curve["at_baseline"]
    assert at_base["rho"] == pytest.approx(0.98) and at_base["accuracy"] == pytest.approx(0.8723)
    assert 1 - at_base["avg_macs"] / RESNET_BASELINE_MACS == pytest.approx(0.099045, abs=1e-6)


@needs_golden
def test_golden_original_sweep_and_strict_rule():
    ee, ef = curves.load_trace_pair(GOLDEN, GOLDEN_NAME)
    curve = curves.compute_curve(ee, ef, RESNET_MACS_EE, RESNET_MACS_FINAL, PAPER_BASELINE_ACC,
                                 RESNET_BASELINE_MACS, strict=True, original_sweep=True)
    assert curve["exit_rule"] == "score > rho"
    assert curve["points"][0]["rho"] == pytest.approx(0.01)
    assert curve["points"][1]["rho"] == pytest.approx(0.0199)
    one = curve["tradeoffs"][0]
    assert (one["rho"], one["exit_rate"], one["accuracy"]) == (pytest.approx(0.901), 0.4483, pytest.approx(0.862))


@needs_golden
def test_cli_writes_json_and_plot(tmp_path, capsys):
    out_json, out_png = tmp_path / "curve.json", tmp_path / "curve.png"
    assert curves.main(["--traces", str(GOLDEN), "--name", GOLDEN_NAME, "--macs-ee", str(RESNET_MACS_EE),
                        "--macs-final", str(RESNET_MACS_FINAL), "--baseline-accuracy", "87.2",
                        "--baseline-macs", str(RESNET_BASELINE_MACS), "--json", str(out_json),
                        "--plot", str(out_png)]) == 0
    doc = json.loads(out_json.read_text())
    assert {"ee_accuracy", "final_accuracy", "points", "tradeoffs"} <= set(doc)
    assert len(doc["points"]) == 101
    assert set(doc["points"][0]) == {"rho", "exit_rate", "accuracy", "avg_macs"}
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "-1 pt: rho=0.9000 acc=86.20%" in capsys.readouterr().out


def _synthetic(rng, n, classes=4):
    truth = rng.integers(0, classes, n)
    probs_ee = rng.dirichlet(np.ones(classes), n)
    probs_ef = rng.dirichlet(np.ones(classes) * 0.3, n)
    return truth, probs_ee, probs_ef


def test_trace_roundtrip_original_format(tmp_path):
    rng = np.random.default_rng(0)
    truth, probs_ee, probs_ef = _synthetic(rng, 30)
    curves.write_trace(curves.trace_path(tmp_path, "toy", "ee"), truth, probs_ee)
    curves.write_trace(curves.trace_path(tmp_path, "toy", "ef"), truth, probs_ef)
    raw = json.loads((tmp_path / "trace_data_model_toy_ee.json").read_text())
    assert set(raw["0"]) == set(curves.TRACE_KEYS)
    assert all(isinstance(v, str) for v in raw["7"].values())
    ee, ef = curves.load_trace_pair(tmp_path, "toy")
    np.testing.assert_array_equal(ee["truth"], truth)
    np.testing.assert_array_equal(ef["prediction"], probs_ef.argmax(1))
    np.testing.assert_allclose(ee["score"], probs_ee.max(1), rtol=1e-6)
    assert raw["3"]["isCorrect"] == str(bool(probs_ee[3].argmax() == truth[3]))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 60), strict=st.booleans())
def test_sweep_matches_brute_force(seed, n, strict):
    rng = np.random.default_rng(seed)
    truth, probs_ee, probs_ef = _synthetic(rng, n)
    # Put some scores exactly on the grid so that > and >= differ.
    probs_ee[: n // 3] = np.eye(probs_ee.shape[1])[rng.integers(0, probs_ee.shape[1], n // 3)] * 0.5 + 0.125
    ee = {"truth": truth, "prediction": probs_ee.argmax(1), "score": probs_ee.max(1)}
    ef = {"truth": truth, "prediction": probs_ef.argmax(1), "score": probs_ef.max(1)}
    c_ee, c_ef = 100.0, 250.0
    for point in curves.sweep(ee, ef, c_ee, c_ef, strict=strict):
        rho, correct, cost, exited = point["rho"], 0, 0.0, 0
        for i in range(n):
            leave = ee["score"][i] > rho if strict else ee["score"][i] >= rho
            exited += leave
            correct += (ee["prediction"][i] if leave else ef["prediction"][i]) == truth[i]
            cost += c_ee if leave else c_ef
        assert point["exit_rate"] == pytest.approx(exited / n)
        assert point["accuracy"] == pytest.approx(correct / n)
        assert point["avg_macs"] == pytest.approx(cost / n)


def test_strict_rule_differs_on_ties():
    scores = np.array([0.5, 0.6, 0.4])
    assert curves.exits_early(scores, 0.5).tolist() == [True, True, False]
    assert curves.exits_early(scores, 0.5, strict=True).tolist() == [False, True, False]


def test_tradeoff_picks_closest_accuracy_then_cheapest():
    points = [
        {"rho": 0.1, "exit_rate": 0.9, "accuracy": 0.80, "avg_macs": 10.0},
        {"rho": 0.2, "exit_rate": 0.5, "accuracy": 0.86, "avg_macs": 30.0},
        {"rho": 0.3, "exit_rate": 0.6, "accuracy": 0.88, "avg_macs": 20.0},
        {"rho": 0.4, "exit_rate": 0.0, "accuracy": 0.90, "avg_macs": 50.0},
    ]
    one, two, three = curves.tradeoff_points(points, baseline_accuracy=0.88, baseline_macs=40.0)
    assert one["rho"] == 0.3 and one["mac_reduction"] == pytest.approx(0.5)  # |0.88-0.87| == |0.86-0.87|: cheaper
    assert two["rho"] == 0.2 and three["rho"] == 0.2
    assert curves.cheapest_at_baseline(points, 0.88)["rho"] == 0.3
    assert curves.cheapest_at_baseline(points, 0.95) is None


def test_headline_mean_flops_reduction_from_table1():
    # Table 1 (CF'23): baseline vs T-RECX MFLOPs at -1 pt; the paper's headline is a 31.58% average cut.
    baseline = {"ic": 25.28, "kws": 5.54, "vww": 15.69}
    at_one_point = {"ic": 20.04, "kws": 3.45, "vww": 9.99}
    reductions = [1 - at_one_point[k] / baseline[k] for k in baseline]
    assert [round(100 * r, 1) for r in reductions] == [20.7, 37.7, 36.3]
    assert 100 * curves.mean_reduction(reductions) == pytest.approx(31.58, abs=0.02)


def test_clear_errors(tmp_path, capsys):
    def error_of(*argv):
        code = curves.main(["--traces", str(tmp_path), *argv])
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
        assert len(lines) == 1
        return code, lines[0]

    code, line = error_of("--name", "nope", "--macs-ee", "1", "--macs-final", "2")
    assert code == 2 and "not found" in line
    (tmp_path / "trace_data_model_bad_ee.json").write_text("{not json")
    (tmp_path / "trace_data_model_bad_ef.json").write_text("{}")
    code, line = error_of("--name", "bad", "--macs-ee", "1", "--macs-final", "2")
    assert code == 2 and "not valid JSON" in line
    code, line = error_of("--name", "bad", "--macs-ee", "5", "--macs-final", "2")
    assert code == 2 and "macs" in line
    code, line = error_of("--name", "bad", "--macs-ee", "-1", "--macs-final", "2")
    assert code == 2 and "--macs-ee" in line
    code, line = error_of("--name", "bad", "--macs-ee", "1", "--macs-final", "2", "--rho", "1")  # unknown flag
    assert code == 2 and "--rho" in line
