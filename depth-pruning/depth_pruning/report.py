"""Multi-seed report of a sweep: aux vs dense head per cut (mean and std over seeds) and the paper's two claims.

    python -m depth_pruning.report --sweep_dir runs/mini/depth-pruning/report/kws --task kws

Reads the runs of a sweep run with several seeds (``SEEDS="0 1 2"`` in the sweep scripts, both the aux and the
dense head) and writes ``report.json`` and ``report.md`` beside them (validation accuracy, and the test set's where the runs
measured it), plus the sweep's CSV and plots. Checks,
from the measured means only:

- ``aux_beats_dense``: per cut, whether the aux head's mean validation accuracy is above the dense head's; the paper's
  claim is about the shallow cuts (the first half of the cuts swept).
- ``rises_with_depth``: whether the aux head's mean validation accuracy at the deepest cut is above the one at the shallowest,
  and the fraction of consecutive cut pairs along which it does not drop.
"""

from pathlib import Path

import run_contract as rc

from depth_pruning import sweep

MIN_SEEDS = 2  # a mean +- std needs at least two seeds; fewer is reported but flagged


def build_report(records):
    """Rows per cut and the two checks, from ``sweep.collect`` records."""
    rows = []
    for r in records:
        row = {"cut": r["cut"], "params": r.get("params"), "int8_bytes": r.get("int8_bytes"),
               "n_seeds": r.get("n_seeds", 0)}
        for kind in ("frozen", "dense", "frozen_test", "dense_test", "unfrozen", "int8"):
            if f"acc_{kind}" in r:
                row[f"acc_{kind}"] = r[f"acc_{kind}"]
                if f"acc_{kind}_std" in r:  # only with several seeds
                    row[f"acc_{kind}_std"] = r[f"acc_{kind}_std"]
        rows.append(row)
    compared = [row for row in rows if "acc_frozen" in row and "acc_dense" in row]
    shallow = compared[: max(1, len(compared) // 2)]
    aux = [row["acc_frozen"] for row in rows if "acc_frozen" in row]
    steps = list(zip(aux, aux[1:]))
    checks = {
        "aux_beats_dense": {row["cut"]: row["acc_frozen"] > row["acc_dense"] for row in compared},
        "aux_beats_dense_at_shallow_cuts": (all(row["acc_frozen"] > row["acc_dense"] for row in shallow)
                                            if compared else None),
        "shallow_cuts": [row["cut"] for row in shallow] if compared else [],
        "rises_with_depth": aux[-1] > aux[0] if len(aux) > 1 else None,
        "non_decreasing_fraction": sum(b >= a for a, b in steps) / len(steps) if steps else None,
        "min_seeds": min((row["n_seeds"] for row in rows), default=0),
    }
    checks["enough_seeds"] = checks["min_seeds"] >= MIN_SEEDS
    return {"rows": rows, "checks": checks}


def _count(value):
    return "-" if value is None else f"{value:,}"


def _cell(row, key):
    if key not in row:
        return "-"
    if f"{key}_std" not in row:
        return f"{100 * row[key]:.1f}"
    return f"{100 * row[key]:.1f} ± {100 * row[f'{key}_std']:.1f}"


def to_markdown(report, title):
    lines = [f"### {title}", "", "| cut | params | int8 bytes | aux (frozen) val % | dense val % | aux test % | "
             "dense test % | aux int8 % | seeds |", "|---|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        lines.append(f"| {row['cut']} | {_count(row['params'])} | {_count(row['int8_bytes'])} | "
                     f"{_cell(row, 'acc_frozen')} | {_cell(row, 'acc_dense')} | {_cell(row, 'acc_frozen_test')} | "
                     f"{_cell(row, 'acc_dense_test')} | {_cell(row, 'acc_int8')} | "
                     f"{row['n_seeds']} |")
    checks = report["checks"]
    lines += ["", f"- aux beats dense at the shallow cuts ({', '.join(checks['shallow_cuts'])}): "
                  f"{checks['aux_beats_dense_at_shallow_cuts']}; per cut: {checks['aux_beats_dense']}",
              f"- aux accuracy rises with depth (deepest > shallowest): {checks['rises_with_depth']}; "
              f"non-decreasing steps: {checks['non_decreasing_fraction']}",
              f"- seeds per cut: at least {checks['min_seeds']} (mean ± std over seeds)"]
    return "\n".join(lines) + "\n"


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--sweep_dir", required=True, help="folder of a multi-seed sweep (aux and dense runs)")
    parser.add_argument("--task", required=True, help="figure name: vww, vww_gray, kws, kws_hw")
    parser.add_argument("--base_metrics", default=None, help="mlperf_tiny metrics.json of the unpruned base")
    parser.add_argument("--base_tflite", default=None,
                        help="int8 .tflite of the unpruned base (the TFLite Micro columns of the sweep.csv it rewrites)")
    return parser


def run(args):
    import argparse

    records = sweep.run(argparse.Namespace(sweep_dir=args.sweep_dir, task=args.task, base_accuracy=None,
                                           magnitude=False, base_metrics=args.base_metrics, base_tflite=args.base_tflite,
                                           no_tflm=False))
    report = build_report(records)
    datasets = {r.get("dataset") for r in sweep._results(args.sweep_dir)}
    report.update({"task": args.task, "dataset": "mini" if "mini" in datasets else ",".join(sorted(map(str, datasets)))})
    out = Path(args.sweep_dir)
    rc.write_json(out / "report.json", report, sort_keys=False)
    title = f"{args.task}: aux vs dense head per cut" + (" (mini data)" if report["dataset"] == "mini" else "")
    markdown = to_markdown(report, title)
    rc.write_text(out / "report.md", markdown)
    print(markdown)
    return report


@rc.command
def main(argv=None):
    return run(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
