"""The demo's results page: built from the runs' metrics files and the stage timing log, and it renders offline
in a real browser. Also the stage timer that make uses as its shell during the demo."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

import results_page  # noqa: E402

SPEC = """
[[target]]
name = "mlperf-kws"
paper = "MLPerf Tiny KWS, DS-CNN"
paper_figure = "~92% float"
metrics = "mlperf/kws/metrics.json"
ours = "{float_test.accuracy:.2f}% float / {int8_test.accuracy:.2f}% int8"
plots = ["mlperf/kws/*.png"]

[[target]]
name = "reds-kws"
paper = "REDS, DS-CNN S"
paper_figure = "83.5/82.3% at 100/75% MACs"
metrics = { run = "reds/kws/results.json", extra = "reds/kws/extra.json" }
ours = "{run.rows.0.accuracy:.1f}/{run.rows.1.accuracy:.1f}% ({extra.note})"

[[target]]
name = "trecx-ic-test"
paper = "T-RECX ResNet-8"
paper_figure = "73.4/87.4%"
metrics = "trecx/ic/metrics.json"
ours = "{early:.1f}/{final:.1f}%"
"""


@pytest.fixture
def two_runs(tmp_path):
    """A specs folder with three declared targets and a runs root where two of them ran."""
    specs = tmp_path / "repo"
    (specs / "proj").mkdir(parents=True)
    (specs / "proj" / "demo.toml").write_text(SPEC)
    runs = tmp_path / "runs"
    kws = runs / "mlperf" / "kws"
    kws.mkdir(parents=True)
    (kws / "metrics.json").write_text(json.dumps({"float_test": {"accuracy": 96.969}, "int8_test": {"accuracy": 95.4545}}))
    (kws / "confusion.png").write_bytes(b"\x89PNG")
    reds = runs / "reds" / "kws"
    reds.mkdir(parents=True)
    (reds / "results.json").write_text(json.dumps({"rows": [{"accuracy": 93.21}, {"accuracy": 91.66}]}))
    (reds / "extra.json").write_text(json.dumps({"note": "mean of 1 run"}))
    times = [{"target": "mlperf-kws", "stage": "mlperf_tiny.keyword_spotting.train", "seconds": 65.0, "status": 0},
             {"target": "mlperf-kws", "stage": "mlperf_tiny.keyword_spotting.quantize", "seconds": 10.5, "status": 0},
             {"target": "reds-kws", "stage": "reds.kws_convolution_depthwise", "seconds": 300.0, "status": 0}]
    (runs / results_page.TIMES_FILE).write_text("\n".join(json.dumps(t) for t in times) + "\n{\"target\": \"cut")
    return specs, runs


def test_table_is_built_from_the_metrics_files(two_runs):
    specs, runs = two_runs
    rows = {r["target"]: r for r in results_page.collect(runs, results_page.load_targets(specs))}
    assert rows["mlperf-kws"]["ours"] == "96.97% float / 95.45% int8"
    assert rows["mlperf-kws"]["seconds"] == 75.5  # two stages; the cut last line of the log is skipped
    assert rows["mlperf-kws"]["plots"] == ["mlperf/kws/confusion.png"]
    assert rows["mlperf-kws"]["metrics"] == ["mlperf/kws/metrics.json"]
    assert rows["reds-kws"]["ours"] == "93.2/91.7% (mean of 1 run)"
    assert rows["trecx-ic-test"]["ours"] == results_page.NOT_RUN and rows["trecx-ic-test"]["seconds"] is None


def test_cli_writes_both_pages(two_runs, tmp_path):
    specs, runs = two_runs
    fidelity = tmp_path / "fidelity.csv"
    fidelity.write_text("artifact,params (ours / original),max output diff\nkws_ref_model,24908 / 24908,3e-07\n")
    code = results_page.main(["--runs", str(runs), "--out", str(runs / "SUMMARY.md"), "--html",
                              str(runs / "summary.html"), "--specs_root", str(specs), "--fidelity", str(fidelity),
                              "--tflm", str(tmp_path / "absent.csv")])
    assert code == 0
    page = (runs / "SUMMARY.md").read_text()
    assert "| `mlperf-kws` | MLPerf Tiny KWS, DS-CNN | ~92% float | 96.97% float / 95.45% int8 | 1 min 16 s | " \
           "[confusion.png](mlperf/kws/confusion.png) | [metrics.json](mlperf/kws/metrics.json) |" in page
    assert "| `trecx-ic-test` | T-RECX ResNet-8 | 73.4/87.4% | not run | - | - | - |" in page
    assert "| kws_ref_model | 24908 / 24908 | 3e-07 |" in page and "TFLite Micro" not in page
    assert "Sum of the recorded stage times: 6 min 16 s (" in page
    html_page = (runs / "summary.html").read_text()
    assert "96.97% float / 95.45% int8" in html_page and "<script" in html_page
    assert not re.search(r"<script[^>]*\ssrc=", html_page)  # plotly.js is inlined: the page opens offline


def test_no_results_at_all_is_a_failure(two_runs, tmp_path, capsys):
    specs, _ = two_runs
    empty = tmp_path / "empty"
    empty.mkdir()
    code = results_page.main(["--runs", str(empty), "--out", str(empty / "S.md"), "--html", str(empty / "s.html"),
                              "--specs_root", str(specs)])
    assert code == 1 and "none of the 3 demo targets has results" in capsys.readouterr().err


def test_repository_declarations_parse():
    """Every */demo.toml of the repository declares complete targets with unique names."""
    targets = results_page.load_targets()
    names = [t["name"] for t in targets]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_every_demo_target_is_declared(profile):
    """Each pipeline `make demo` runs (either profile) has a row on the results page."""
    proc = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(results_page.REPO_ROOT), "MINI=1",
                           f"MINI_PROFILE={profile}", "demo-targets"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    demo_targets = proc.stdout.split()
    assert "mlperf-kws" in demo_targets
    declared = {t["name"] for t in results_page.load_targets()}
    assert sorted(set(demo_targets) - declared) == []


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium: `apt-get install chromium` for this check")
def test_html_renders_in_a_headless_browser_without_network(two_runs, tmp_path):
    specs, runs = two_runs
    assert results_page.main(["--runs", str(runs), "--out", str(runs / "SUMMARY.md"), "--html",
                              str(runs / "summary.html"), "--specs_root", str(specs)]) == 0
    # No name resolves and no proxy exists: anything the page fetched from the network would fail.
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-proxy-server",
                           "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}",
                           "--virtual-time-budget=10000", "--dump-dom", (runs / "summary.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "96.97% float / 95.45% int8" in dom
    assert 'class="main-svg"' in dom  # plotly drew the wall-time chart: its script ran offline


def test_stage_timer_logs_python_stages(tmp_path):
    log = tmp_path / "times.jsonl"
    env = {**os.environ, "DEMO_TIMES": str(log), "DEMO_TARGET": "mlperf-kws", "DEMO_START": "0"}
    ok = subprocess.run([str(TOOLS / "demo_stage.sh"), "-c", f"{sys.executable} -m json.tool /dev/null || true"],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "mlperf-kws: json.tool done in" in ok.stderr
    failed = subprocess.run([str(TOOLS / "demo_stage.sh"), "-c", "X=1 tools/prune.sh; exit 3"],
                            capture_output=True, text=True, env=env)
    assert failed.returncode == 3 and "tools/prune.sh FAILED (exit 3)" in failed.stderr
    quiet = subprocess.run([str(TOOLS / "demo_stage.sh"), "-c", "echo hi"], capture_output=True, text=True, env=env)
    assert quiet.stdout == "hi\n" and quiet.stderr == ""
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["stage"], r["status"]) for r in rows] == [("json.tool", 0), ("tools/prune.sh", 3)]


def test_targets_option_keeps_the_demo_order_and_refuses_undeclared_names(two_runs, capsys):
    specs, runs = two_runs
    out = runs / "SUMMARY.md"
    assert results_page.main(["--runs", str(runs), "--out", str(out), "--html", str(runs / "summary.html"),
                              "--specs_root", str(specs), "--targets", "reds-kws mlperf-kws"]) == 0
    page = out.read_text()
    assert "trecx-ic-test" not in page
    assert page.index("reds-kws") < page.index("mlperf-kws")
    before = out.read_text()
    assert results_page.main(["--runs", str(runs), "--out", str(out), "--html", str(runs / "summary.html"),
                              "--specs_root", str(specs), "--targets", "mlperf-kws no-such-target"]) == 2
    assert "no-such-target" in capsys.readouterr().err
    assert out.read_text() == before
