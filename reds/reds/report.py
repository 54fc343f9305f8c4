"""Table of every REDS run under a results root: accuracy per MAC budget, MACs, int8 size, monotonicity.

    python -m reds.report --runs runs/mini/reds [--out runs/mini/reds/report.md] [--check_non_decreasing]

Reads each ``<script>/results.json`` the pipelines write last and prints one markdown row per script and
model size: the pretrained accuracy, the accuracy of every subnetwork (largest budget first), the achieved
MAC share of the budgeted layers, the int8 TFLite size, the smallest TFLite Micro arena of each int8 file and the
knapsack's parameter count (its memory measure), and whether accuracy is non-decreasing with the budget.
``--check_non_decreasing`` exits 1 when a row is not (the issue's proof on the mini data).
"""

import json
import sys
from pathlib import Path

import run_contract as rc

from reds.pipeline import accuracy_non_decreasing

SCRIPT_TITLES = {
    "kws_dnn": "DNN",
    "kws_convolution_cnn": "CNN",
    "kws_convolution_depthwise": "DS-CNN",
    "vision_ds_convolution_fashion_mnist": "vision DS-CNN, Fashion-MNIST",
    "vision_ds_convolution_cifar10": "vision DS-CNN, CIFAR-10",
}


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description=__doc__.splitlines()[0], add_help=add_help)
    p.add_argument("--runs", default="runs/mini/reds", help="results root holding <script>/results.json")
    p.add_argument("--out", default=None, help="also write the table to this markdown file (and .json beside it)")
    p.add_argument("--plots", default=None,
                   help="folder for the paper's figures across architectures (parameters, accuracy, inference vs "
                        "MAC %%, one figure per model size; default <runs>/plots)")
    p.add_argument("--check_non_decreasing", action="store_true",
                   help="exit 1 when a model's accuracy drops as its MAC budget grows")
    return p


def collect(runs_root):
    """([row] per (script, size) in SCRIPT_TITLES order, {size: {architecture: subnetwork rows}}) from every
    results.json under ``runs_root``."""
    root = Path(runs_root)
    paths = sorted(root.glob("*/results.json"), key=lambda p: list(SCRIPT_TITLES).index(p.parent.name)
                   if p.parent.name in SCRIPT_TITLES else len(SCRIPT_TITLES))
    if not paths:
        raise rc.UsageError(f"no <script>/results.json under {root}; run a reds make target first "
                            f"(e.g. `make MINI=1 reds-kws`)")
    table, by_model = [], {}
    for path in paths:
        try:
            results = json.loads(path.read_text())
            results["subnetworks"]
        except (ValueError, KeyError, TypeError) as err:
            raise rc.bad_file(path, f"not a REDS results file ({type(err).__name__}: {err})",
                              "rerun its make target to rewrite it") from None
        by_size = {}
        for row in results["subnetworks"]:
            by_size.setdefault(row["size"], []).append(row)
        for size, rows in by_size.items():
            rows = sorted(rows, key=lambda r: -r["mac_percentage"])
            info = results.get("sizes", {}).get(size, {})
            accuracies = [r["accuracy"] for r in rows]
            by_model.setdefault(size, {})[SCRIPT_TITLES.get(path.parent.name, path.parent.name)] = rows
            table.append({
                "script": path.parent.name, "model": f"{SCRIPT_TITLES.get(path.parent.name, path.parent.name)} "
                                                     f"{size.upper()}",
                "dataset": results.get("dataset"), "pretrained_accuracy": info.get("pretrained_accuracy"),
                "subnetworks": [r["subnetwork"] for r in rows], "accuracy": accuracies,
                "accuracy_std": [r.get("accuracy_std", 0.0) for r in rows], "runs": rows[0].get("runs", 1),
                "mac_percentage": [r["mac_percentage"] for r in rows],
                "within_budget": all(r.get("within_budget", True) for r in rows),
                "int8_kib": [r["tflite_bytes"] / 1024 if r.get("tflite_bytes") else None for r in rows],
                "tflm_arena_kib": [r["tflm_arena_bytes"] / 1024 if r.get("tflm_arena_bytes") else None for r in rows],
                "knapsack_parameters": [r.get("knapsack_model_parameters") for r in rows],
                "non_decreasing": accuracy_non_decreasing(rows),
            })
    return table, by_model


def plot_figures(by_model, out_dir, mini=False):
    """The paper's README figures: per model size, one line per architecture (PNG + interactive HTML)."""
    from reds.utils.plots import plot_results

    paths = []
    for size, rows_by_model in by_model.items():
        paths += plot_results(rows_by_model, out_dir, f" — size {size.upper()}" + (" (mini data)" if mini else ""),
                              suffix=f"_size{size.upper()}")
    return paths


def _percent(values, std=None):
    if std is not None and any(std):
        return " / ".join(f"{100 * v:.1f} ± {100 * s:.1f}" for v, s in zip(values, std))
    return " / ".join(f"{100 * v:.1f}" for v in values)


def _joined(values, fmt):
    return " / ".join("-" if v is None else format(v, fmt) for v in values)


def markdown(table):
    head = ("| model | data | pretrained | accuracy % (" + "/".join(table[0]["subnetworks"]) + ") | MAC % | "
            "int8 KiB | TFLite Micro arena KiB | knapsack parameters | within budget | non-decreasing |")
    lines = [head, "|" + "---|" * 10]
    for row in table:
        pretrained = "-" if row["pretrained_accuracy"] is None else f"{100 * row['pretrained_accuracy']:.1f}"
        lines.append(f"| {row['model']} | {row['dataset']} | {pretrained} | {_percent(row['accuracy'], row['accuracy_std'])} | "
                     f"{' / '.join(f'{m:.0f}' for m in row['mac_percentage'])} | {_joined(row['int8_kib'], '.1f')} | "
                     f"{_joined(row.get('tflm_arena_kib', []), '.1f')} | "
                     f"{_joined(row.get('knapsack_parameters', []), ',')} | "
                     f"{'yes' if row['within_budget'] else 'NO'} | {'yes' if row['non_decreasing'] else 'NO'} |")
    return "\n".join(lines)


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    table, by_model = collect(args.runs)
    text = markdown(table)
    print(text)
    plot_figures(by_model, Path(args.plots or Path(args.runs) / "plots"), mini=table[0]["dataset"] == "mini")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        rc.write_text(out, text + "\n")
        rc.write_json(out.with_suffix(".json"), table)
    if args.check_non_decreasing and not all(r["non_decreasing"] for r in table):
        bad = ", ".join(r["model"] for r in table if not r["non_decreasing"])
        print(f"accuracy drops with a larger budget: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    rc.entry(main)
