"""reds.report: the table of runs and its non-decreasing check (on results.json files as the pipeline writes)."""

import json

from reds import pipeline, report


def _results(path, accuracies, macs=(100.0, 24.0, 49.5, 74.0)):
    rows = [{"subnetwork": label, "size": "s", "accuracy": a, "accuracy_std": 0.0, "runs": 1, "mac_percentage": m,
             "within_budget": True, "tflite_bytes": int(2048 * m), "params": int(100 * m), "tflite_latency_ms": m / 50,
             "tflm_arena_bytes": int(1024 * m), "knapsack_model_parameters": int(1000 * m)}
            for label, a, m in zip(["100%", "25%", "50%", "75%"], accuracies, macs)]
    path.mkdir(parents=True)
    sizes = {"s": {"pretrained_accuracy": 0.8, "accuracy_non_decreasing": pipeline.accuracy_non_decreasing(rows)}}
    (path / "results.json").write_text(json.dumps({"dataset": "mini", "sizes": sizes, "subnetworks": rows}))


def test_report_orders_by_budget_and_flags_a_drop(tmp_path, capsys):
    _results(tmp_path / "kws_dnn", [0.9, 0.5, 0.7, 0.8])
    _results(tmp_path / "kws_convolution_cnn", [0.9, 0.5, 0.8, 0.7])  # 75 % below 50 %
    out = tmp_path / "report.md"
    assert report.main(["--runs", str(tmp_path), "--out", str(out)]) == 0
    table = json.loads(out.with_suffix(".json").read_text())
    assert [r["model"] for r in table] == ["DNN S", "CNN S"]  # script order of the paper, not file order
    assert table[0]["subnetworks"] == ["100%", "75%", "50%", "25%"]
    assert table[0]["accuracy"] == [0.9, 0.8, 0.7, 0.5] and table[0]["non_decreasing"]
    assert not table[1]["non_decreasing"]
    assert table[0]["int8_kib"][0] == 200.0
    text = capsys.readouterr().out
    assert ("| DNN S | mini | 80.0 | 90.0 / 80.0 / 70.0 / 50.0 | 100 / 74 / 50 / 24 | 200.0 / 148.0 / 99.0 / 48.0 | "
            "100.0 / 74.0 / 49.5 / 24.0 | 100,000 / 74,000 / 49,500 / 24,000 |") in text
    for quantity in ("parameters", "accuracy", "inference"):  # one figure per size, a line per architecture
        assert (tmp_path / "plots" / f"{quantity}_sizeS.png").stat().st_size > 0
        html = (tmp_path / "plots" / f"{quantity}_sizeS.html").read_text()
        assert '"name":"DNN"' in html and '"name":"CNN"' in html and "DS-CNN" not in html
    assert report.main(["--runs", str(tmp_path), "--check_non_decreasing"]) == 1
    assert "CNN S" in capsys.readouterr().err


def test_ties_count_as_non_decreasing_and_missing_runs_are_a_clear_error(tmp_path, capsys):
    rows = [{"accuracy": 0.7, "mac_percentage": 100.0}, {"accuracy": 0.7, "mac_percentage": 75.0},
            {"accuracy": 0.6, "mac_percentage": 25.0}]
    assert pipeline.accuracy_non_decreasing(rows)
    assert not pipeline.accuracy_non_decreasing(rows + [{"accuracy": 0.65, "mac_percentage": 10.0}])
    assert report.main(["--runs", str(tmp_path / "nothing")]) == 2
    assert "make MINI=1 reds-kws" in capsys.readouterr().err
