"""Compare original vs plain vs DERO: top-1 accuracy (from trained runs), params and peak memory.

    python -m dero.plot --family resnet34 --runs-root runs/dero --output-dir runs/dero/plots
    python -m dero.plot --peak-memory-table --output-dir runs/dero/plots    # every family, MCU resolutions

Writes ``<family>.md`` (markdown table), ``<family>.json`` and, last, ``<family>.png`` (make's target); the
table writes ``peak_memory.json`` ({family: {variant: row}}) and ``peak_memory.md``. Accuracy comes from
``<runs-root>/<model>/eval.json`` (else the best epoch of ``metrics.json``); variants not trained are shown as
such, never filled in. Runs on the mini dataset are labelled "(mini data)".
"""

import argparse
import json
import os

import run_contract as rc

from dero.peak_memory import count_params, peak_memory

# family -> (original, plain, DERO) registry names
FAMILIES = {
    "resnet18": ("resnet18", "resnet18plain", "resnet18dero"),
    "resnet34": ("resnet34", "resnet34plain", "resnet34dero"),
    "resnet50": ("resnet50", "resnet50plain", "resnet50dero"),
    "mcunet": ("mcunet_v4", "mcunet_plain_v4", "mcunet_dero_v4"),
    "densenet121": ("densenet121", "densenet121_plain", "densenet121_dero"),
    "mobilenet_v2": ("mobilenet_v2", "mobilenet_v2_plain", "mobilenet_v2_dero"),
    "yolov5n": ("yolov5n", "yolov5n_plain", "yolov5n_dero"),
}
VARIANTS = ("original", "plain", "DERO")
# Resolutions for peak memory: MCUNet at its native 176, the ImageNet nets at MCU-sized 112 and at 224.
PEAK_SIZES = {"mcunet": (176,), "resnet18": (112, 224), "resnet34": (112, 224), "resnet50": (112, 224),
              "densenet121": (112, 224), "mobilenet_v2": (112, 224),
              # YOLO at its 640 and at 192, the resolution whose whole-model peak is nearest the README's 253.5 KB
              "yolov5n": (640, 192)}
# The DERO README's ImageNet top-1 (8 GPUs, 90 epochs), for reference only: no weights were released.
PAPER_TOP1 = {"resnet34dero": 72.32, "resnet50dero": 75.56, "mcunet_dero_v4": 55.59, "densenet121_dero": 71.55,
              "yolov5n_dero": 25.90}  # YOLO: COCO mAP@0.5:0.95 (%)
SCHEDULES = ("faithful", "memory-aware")


def read_accuracy(run_dir: str) -> dict | None:
    eval_file, metrics_file = os.path.join(run_dir, "eval.json"), os.path.join(run_dir, "metrics.json")
    if os.path.exists(eval_file):
        with open(eval_file) as f:
            r = json.load(f)
        if "map50_95" in r:  # detection: mAP@0.5:0.95 and mAP@0.5 in % in the accuracy columns
            return {"top1": 100 * r["map50_95"], "top5": 100 * r["map50"], "dataset": r.get("dataset", "coco")}
        return {"top1": r["acc1"], "top5": r["acc5"], "dataset": r.get("dataset", "imagenet")}
    if os.path.exists(metrics_file):
        with open(metrics_file) as f:
            rows = json.load(f)
        if rows:
            best = max(rows, key=lambda r: r["val_acc1"])
            return {"top1": best["val_acc1"], "top5": best["val_acc5"], "dataset": best.get("dataset", "imagenet")}
    return None


def summarise(family: str, runs_root: str | None = None, sizes=None, schedules=("faithful",)) -> list[dict]:
    from dero.models import get_model

    rows = []
    for variant, name in zip(VARIANTS, FAMILIES[family]):
        model = get_model(name)
        params = count_params(model)
        row = {"family": family, "variant": variant, "model": name, "params": params,
               "params_m": int(params / 2**20 * 100) / 100, "paper_top1": PAPER_TOP1.get(name)}
        for size in sizes or PEAK_SIZES[family]:
            for schedule in schedules:
                suffix = "" if schedule == "faithful" else f" {schedule}"
                row[f"peak_kb@{size}{suffix}"] = peak_memory(model, size, schedule=schedule).peak_elements / 1024
        acc = read_accuracy(os.path.join(runs_root, name)) if runs_root else None
        row.update(top1=acc["top1"] if acc else None, top5=acc["top5"] if acc else None,
                   dataset=acc["dataset"] if acc else None)
        rows.append(row)
    return rows


def metric_names(family: str) -> tuple[str, str]:
    return ("mAP@0.5:0.95 (%)", "mAP@0.5 (%)") if family.startswith("yolo") else ("top-1 (%)", "top-5 (%)")


def markdown_table(rows: list[dict]) -> str:
    peak_cols = [k for k in rows[0] if k.startswith("peak_kb@")]
    header = ["model", "variant", *metric_names(rows[0]["family"]), "dataset", "paper " + metric_names(
        rows[0]["family"])[0].replace(" (%)", ""), "params", "Params (Mi)"]
    header += [f"peak KB @{c.split('@')[1]}" for c in peak_cols]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        def fmt(v, spec=".2f"):
            return "not trained" if v is None else format(v, spec)

        cells = [r["model"], r["variant"], fmt(r.get("top1")), fmt(r.get("top5")), r.get("dataset") or "-",
                 "-" if r["paper_top1"] is None else f"{r['paper_top1']:.2f}", f"{r['params']:,}",
                 f"{r['params_m']:.2f}"] + [f"{r[c]:.1f}" for c in peak_cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    peak_cols = [k for k in rows[0] if k.startswith("peak_kb@")]
    mini = any(r.get("dataset") == "mini" for r in rows)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    names = [r["variant"] for r in rows]
    colors = ["tab:gray", "tab:orange", "tab:blue"]
    top1 = [r["top1"] if r["top1"] is not None else 0.0 for r in rows]
    axes[0].bar(names, top1, color=colors)
    for i, r in enumerate(rows):
        axes[0].text(i, top1[i], "not trained" if r["top1"] is None else f"{r['top1']:.1f}", ha="center",
                     va="bottom", fontsize=8)
    axes[0].set_title(metric_names(rows[0]["family"])[0] + (" (mini data)" if mini else ""))
    axes[1].bar(names, [r["params"] / 2**20 for r in rows], color=colors)
    axes[1].set_title("params (Mi = n / 2^20)")
    width = 0.8 / len(peak_cols)
    for j, col in enumerate(peak_cols):
        xs = [i + (j - (len(peak_cols) - 1) / 2) * width for i in range(len(rows))]
        axes[2].bar(xs, [r[col] for r in rows], width=width, label=f"input {col.split('@')[1]}",
                    color=colors, alpha=1.0 - 0.35 * j, edgecolor="black")
    axes[2].set_xticks(range(len(rows)), names)
    axes[2].set_title("peak activation memory (KB, int8)")
    axes[2].legend(fontsize=8)
    fig.suptitle(f"{rows[0]['family']}: original vs plain vs DERO")
    fig.tight_layout()
    with rc.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def _yolo_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("yolov5") is not None


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = rc.ArgumentParser(description="DERO comparison plots and tables", add_help=add_help)
    parser.add_argument("--family", choices=sorted(FAMILIES), help="model family to compare")
    parser.add_argument("--runs-root", default=None, help="folder with one run directory per model name")
    parser.add_argument("--output-dir", required=True, help="where to write <family>.png/.md/.json")
    parser.add_argument("--input-size", type=rc.positive_int, nargs="+", default=None,
                        help="peak-memory resolutions (default: 176 for MCUNet, 112 and 224 otherwise)")
    parser.add_argument("--peak-memory-table", action="store_true",
                        help="print params and peak memory of every family (no accuracy, no plot)")
    return parser


@rc.command
def main(argv=None) -> list[dict]:
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns the table rows."""
    args = get_args_parser().parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.peak_memory_table:
        families = [args.family] if args.family else ["resnet34", "resnet50", "mcunet", "densenet121"] + (
            ["yolov5n"] if _yolo_available() else [])
        text = ("Peak activation memory (KB = elements / 1024 at int8) under the faithful schedule and under "
                "dero.schedule's memory-aware one (same weights, same outputs).\n")
        all_rows = []
        for family in families:
            rows = summarise(family, None, args.input_size, SCHEDULES)
            all_rows += rows
            text += f"\n### {family}\n\n" + markdown_table(rows).replace(" not trained |", " - |")
        print(text)
        # JSON keyed {family: {variant: row}} (for the results page), then the markdown table (make's target)
        rc.write_json(os.path.join(args.output_dir, "peak_memory.json"),
                      {f: {r["variant"]: r for r in all_rows if r["family"] == f} for f in families}, sort_keys=False)
        rc.write_text(os.path.join(args.output_dir, "peak_memory.md"), text)
        return all_rows
    if not args.family:
        raise rc.UsageError("pass --family (or --peak-memory-table)")
    rows = summarise(args.family, args.runs_root, args.input_size)
    table = markdown_table(rows)
    print(table)
    base = os.path.join(args.output_dir, args.family)
    rc.write_text(base + ".md", table)
    rc.write_json(base + ".json", rows, sort_keys=False)
    plot(rows, base + ".png")
    print(f"wrote {base}.png, {base}.md, {base}.json")
    return rows


def cli() -> None:
    rc.entry(main)


if __name__ == "__main__":
    cli()
