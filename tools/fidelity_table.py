"""Merge the rows the fidelity tests wrote (one JSON file each, ``mlperf_tiny.fidelity.record_row``) into one table.

    python tools/fidelity_table.py ROWS_DIR --out runs/fidelity [--reports runs/fidelity/reports]

Prints the table (markdown) and writes ``table.md``, ``table.csv`` and ``table.json`` into ``--out``. Columns:
subproject, artifact, params (ours / original), max output difference, accuracy or AUC on the kit subset (our CLI /
a plain reference loop), stimuli. With ``--reports`` (the JUnit XML of the fidelity runs) the closing line counts
passed/failed/skipped tests. Exits 1 when no row was written or a fidelity test failed.
"""

import csv
import io
import json
import sys
from pathlib import Path

import run_contract as rc
from test_summary import junit_totals

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


def write(out_dir, rows, table):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(cells(row) for row in rows)
    rc.write_text(out_dir / "table.md", table)
    rc.write_text(out_dir / "table.csv", buffer.getvalue())
    rc.write_json(out_dir / "table.json", rows)


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="Print and save the fidelity table from the tests' rows", add_help=add_help)
    p.add_argument("rows_dir", type=Path, help="folder of row JSON files ($TINYML_FIDELITY_ROWS)")
    p.add_argument("--out", type=Path, default=Path("runs/fidelity"), help="where table.{md,csv,json} go")
    p.add_argument("--reports", type=Path, default=None, help="JUnit XML reports of the fidelity test runs")
    return p


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    rows = read_rows(args.rows_dir) if args.rows_dir.is_dir() else []
    if not rows:
        raise rc.RunFailed(f"no fidelity rows in {args.rows_dir} (is ../shared/fidelity there? see the tests' skip "
                           "reasons)")
    table = markdown(rows)
    write(args.out, rows, table)
    print(table)
    failed = 0
    if args.reports is not None and args.reports.is_dir():
        totals = junit_totals(args.reports)
        failed = totals["failures"] + totals["errors"]
        passed = totals["tests"] - failed - totals["skipped"]
        print(f"fidelity tests: {passed} passed, {failed} failed, {totals['skipped']} skipped")
    print(f"{len(rows)} rows -> {args.out}/table.md, table.csv, table.json")
    if failed:
        raise rc.RunFailed(f"{failed} fidelity tests failed (reports in {args.reports})")
    return 0


if __name__ == "__main__":
    rc.entry(main)
