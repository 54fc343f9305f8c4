"""Plots bits/param vs epoch per method and n from the eval CSVs, plus a summary CSV of the means."""

import csv
import glob
import os
from collections import defaultdict

import matplotlib
import run_contract as rc

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_rows(folder):
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "loss*_lr*_n*.csv"))):
        kind = os.path.basename(path).split("_")[0]
        with open(path) as f:
            for r in csv.DictReader(f):
                r["kind"] = kind
                rows.append(r)
    return rows


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="bits/param vs epoch plots from eval_lossless/eval_lossy CSVs",
                                add_help=add_help)
    p.add_argument("--input-dir", required=True, help="folder with lossless_*.csv / lossy_*.csv")
    p.add_argument("--output", default=None, help="PNG path (default INPUT_DIR/bits_per_param.png)")
    return p


@rc.command
def main(argv=None):
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns the PNG path."""
    args = get_args_parser().parse_args(argv)
    rc.require_dir(args.input_dir, "evaluation folder", "run eval_lossless/eval_lossy with --output-dir first")
    rows = read_rows(args.input_dir)
    if not rows:
        raise rc.UsageError(f"no lossless_*/lossy_* CSVs under {args.input_dir}: run eval_lossless/eval_lossy first")
    out = args.output or os.path.join(args.input_dir, "bits_per_param.png")
    dataset = rows[0].get("dataset", "")
    label = " (mini data)" if dataset == "mini" else ""
    kinds = sorted({r["kind"] for r in rows})
    ns = sorted({int(r["n"]) for r in rows})
    fig, axes = plt.subplots(len(kinds), len(ns), figsize=(4.5 * len(ns), 3.6 * len(kinds)), squeeze=False)
    means = defaultdict(list)
    for i, kind in enumerate(kinds):
        for j, n in enumerate(ns):
            ax = axes[i][j]
            sel = [r for r in rows if r["kind"] == kind and int(r["n"]) == n]
            for method in dict.fromkeys(r["method"] for r in sel):
                for lr in dict.fromkeys(r["lr"] for r in sel):
                    rs = sorted((r for r in sel if r["method"] == method and r["lr"] == lr), key=lambda r: int(r["epoch_cur"]))
                    if not rs:
                        continue
                    x = [int(r["epoch_cur"]) for r in rs]
                    y = [float(r["bits_per_param"]) for r in rs]
                    ax.plot(x, y, marker="o", ms=3, label=f"{method} lr={lr}")
                    means[(kind, method, n, lr)] = y
            ax.set_title(f"{kind}, n={n}{label}")
            ax.set_xlabel("epoch t (coded against t-n)")
            ax.set_ylabel("bits / parameter")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    with rc.atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    summary_path = os.path.join(args.input_dir, "summary.csv")
    rc.write_csv(summary_path, [{"kind": kind, "method": method, "n": n, "lr": lr, "pairs": len(ys),
                                 "mean_bits_per_param": f"{sum(ys) / len(ys):.4f}", "dataset": dataset}
                                for (kind, method, n, lr), ys in sorted(means.items())])
    print(f"wrote {out} and {summary_path}")
    return out


if __name__ == "__main__":
    rc.entry(main)
