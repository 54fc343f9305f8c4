"""The fidelity table and the closing line of make test: built from the rows and JUnit reports they are given."""

import csv
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fidelity_table  # noqa: E402
import test_summary  # noqa: E402

JUNIT = '<testsuites><testsuite name="x" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}"/>' \
        '</testsuites>'


def write_report(folder, name, tests, failures=0, skipped=0):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.xml").write_text(JUNIT.format(tests=tests, failures=failures, skipped=skipped))


def test_junit_totals_add_up_every_report(tmp_path):
    write_report(tmp_path, "a", tests=10, failures=1, skipped=2)
    write_report(tmp_path, "b", tests=5, skipped=1)
    assert test_summary.junit_totals(tmp_path) == {"tests": 15, "failures": 1, "errors": 0, "skipped": 3}


@pytest.mark.parametrize("failures, tests, code", [(0, 4, 0), (1, 4, 1), (0, 0, 1)])
def test_closing_line_fails_on_a_failure_or_when_nothing_ran(tmp_path, capsys, failures, tests, code):
    write_report(tmp_path, "a", tests=tests, failures=failures)
    assert test_summary.main([str(tmp_path)]) == code
    out = capsys.readouterr().out
    assert f"all subprojects: {tests - failures} passed, {failures} failed, 0 skipped" in out


def test_fidelity_table_from_rows(tmp_path, capsys):
    rows = tmp_path / "rows"
    rows.mkdir()
    (rows / "kws.json").write_text(json.dumps({
        "subproject": "mlperf-tiny", "artifact": "kws_ref_model", "params_ours": 24908, "params_original": 24908,
        "max_output_diff": 2.5e-7, "metric": "accuracy", "accuracy_ours": 91.0, "accuracy_reference": 91.0, "n": 100}))
    (rows / "ad.json").write_text(json.dumps({
        "subproject": "mlperf-tiny", "artifact": "ad01_int8", "metric": "auc", "accuracy_ours": 0.8791,
        "accuracy_reference": 0.8791, "n": 20}))
    write_report(tmp_path / "reports", "mlperf-tiny", tests=3, skipped=1)
    out = tmp_path / "out"
    assert fidelity_table.main([str(rows), "--out", str(out), "--reports", str(tmp_path / "reports")]) == 0
    printed = capsys.readouterr().out
    assert "fidelity tests: 2 passed, 0 failed, 1 skipped" in printed
    table = list(csv.DictReader((out / "table.csv").open()))
    assert [r["artifact"] for r in table] == ["ad01_int8", "kws_ref_model"]
    assert table[1]["params (ours / original)"] == "24,908 / 24,908"
    assert table[1]["metric (our CLI / reference loop)"] == "accuracy 91.00% / 91.00%"
    assert table[0]["metric (our CLI / reference loop)"] == "auc 0.8791 / 0.8791"
    assert table[1]["max output diff"] == "2.5e-07"
    assert json.loads((out / "table.json").read_text())[1]["n"] == 100


def test_fidelity_table_without_rows_or_with_a_failed_test_exits_1(tmp_path):
    (tmp_path / "rows").mkdir()
    assert fidelity_table.main([str(tmp_path / "rows"), "--out", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()
    (tmp_path / "rows" / "r.json").write_text(json.dumps({"subproject": "x", "artifact": "y"}))
    write_report(tmp_path / "reports", "x", tests=2, failures=1)
    assert fidelity_table.main([str(tmp_path / "rows"), "--out", str(tmp_path / "out"), "--reports",
                                         str(tmp_path / "reports")]) == 1
