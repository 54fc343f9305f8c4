"""Merge the rows the fidelity tests wrote (one JSON file each, ``mlperf_tiny.fidelity.record_row``) into one table.

    python tools/fidelity_table.py ROWS_DIR --out runs/fidelity [--reports runs/fidelity/reports]

Prints the table (markdown) and writes ``table.md``, ``table.csv`` and ``table.json`` into ``--out``. Columns:
subproject, artifact, params (ours / original), max output difference, accuracy or AUC on the kit subset (our CLI /
a plain reference loop), stimuli. With ``--reports`` (the JUnit XML of the fidelity runs) the closing line counts
passed/failed/skipped tests. Exits 1 when no row was written or a fidelity test failed. Standard library only.
"""

import argparse
import csv
import io
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

COLUMNS = ("subproject", "artifact", "params (ours / original)", "max output diff", "metric (our CLI / reference loop)",
           "n", "note")


def read_rows(rows_dir):
    rows = []
    for path in sorted(Path(rows_dir).glob("*.json")):
        try:
            rows.append(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            print(f"warning: skipping unreadable row {path}: {err}", file=sys.stderr)
    return sorted(rows, key=lambda r: (str(r.get("subproject")), str(r.get("artifact"))))


def _number(value, digits=4):
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.1e}"
    return f"{value:.{digits}g}"


def cells(row):
    params = "-" if row.get("params_ours") is None and row.get("params_original") is None else \
        f"{_number(row.get('params_ours'))} / {_number(row.get('params_original'))}"
    metric = row.get("metric") or "accuracy"
    unit = "%" if metric == "accuracy" else ""
    if row.get("accuracy_ours") is None and row.get("accuracy_reference") is None:
        score = "-"
    else:
        fmt = (lambda v: "-" if v is None else f"{v:.2f}{unit}") if metric == "accuracy" else \
            (lambda v: "-" if v is None else f"{v:.4f}")
        score = f"{metric} {fmt(row.get('accuracy_ours'))} / {fmt(row.get('accuracy_reference'))}"
    return {"subproject": row.get("subproject", ""), "artifact": row.get("artifact", ""),
            "params (ours / original)": params, "max output diff": _number(row.get("max_output_diff"), 2),
            "metric (our CLI / reference loop)": score, "n": _number(row.get("n")), "note": row.get("note") or ""}


def markdown(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        values = cells(row)
        lines.append("| " + " | ".join(str(values[c]).replace("|", "/") for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def test_counts(report_dir):
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in sorted(Path(report_dir).glob("*.xml")):
        root = ET.parse(report).getroot()
        for suite in [root] if root.tag == "testsuite" else root.findall("testsuite"):
            for key in totals:
                totals[key] += int(suite.get(key, 0))
    return totals


def write(out_dir, rows, table):
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "table.md").write_text(table)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(cells(row) for row in rows)
    (out_dir / "table.csv").write_text(buffer.getvalue())
    (out_dir / "table.json").write_text(json.dumps(rows, indent=1) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Print and save the fidelity table from the tests' rows")
    parser.add_argument("rows_dir", type=Path, help="folder of row JSON files ($TINYML_FIDELITY_ROWS)")
    parser.add_argument("--out", type=Path, default=Path("runs/fidelity"), help="where table.{md,csv,json} go")
    parser.add_argument("--reports", type=Path, default=None, help="JUnit XML reports of the fidelity test runs")
    args = parser.parse_args(argv)
    rows = read_rows(args.rows_dir) if args.rows_dir.is_dir() else []
    table = markdown(rows)
    write(args.out, rows, table)
    print(table)
    failed = 0
    if args.reports is not None and args.reports.is_dir():
        totals = test_counts(args.reports)
        failed = totals["failures"] + totals["errors"]
        passed = totals["tests"] - failed - totals["skipped"]
        print(f"fidelity tests: {passed} passed, {failed} failed, {totals['skipped']} skipped")
    print(f"{len(rows)} rows -> {args.out}/table.md, table.csv, table.json")
    if not rows:
        print("error: no fidelity rows were written (is ../shared/fidelity there? see the skip reasons)",
              file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
