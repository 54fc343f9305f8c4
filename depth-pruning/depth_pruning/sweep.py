"""Collect a sweep's runs into one record per cut (CSV + JSON) and draw the paper's figures.

    python -m depth_pruning.sweep --sweep_dir runs/depth-pruning/vww --task vww [--base_accuracy 0.856]

Reads ``<sweep_dir>/<run>/result.json`` of every depth-pruning run and writes ``sweep.csv`` / ``sweep.json`` with
``cut, params, macs, flops, int8_bytes, acc_frozen, acc_unfrozen, acc_int8`` (+ ``acc_dense``, ``int8_bytes_dense``
for the depth-dense head), the TFLite Micro figures of each cut's int8 file (``tflm_arena_bytes``: the smallest
tensor arena that runs it, ``tflm_flash_bytes``: its flatbuffer; ``*_dense`` for the dense head's) beside the
unpruned base's (``--base_tflite``: ``base_tflm_arena_bytes``, ``base_tflm_flash_bytes``), ``<task>.png`` (accuracy lines over grey Params (K) / FLOPs (M) bars per cut, as
vww.png / kws.png) and ``<task>_size.png`` (accuracy vs int8 size, aux vs dense heads, as the HW plots).
With several seeds the accuracies are means and ``*_std`` columns hold the standard deviations.
``--magnitude`` collects the tfmot baseline runs instead: ``magnitude.csv/json`` (target and measured sparsity,
accuracy, int8 accuracy and bytes per target sparsity).
"""

import json
from pathlib import Path

import numpy as np
import run_contract as rc

from depth_pruning.quantization import tflite_paths

FIELDS = ["cut", "params", "macs", "flops", "int8_bytes", "acc_frozen", "acc_unfrozen", "acc_int8",
          "acc_random", "acc_dense", "int8_bytes_dense", "acc_frozen_test", "acc_dense_test", "n_seeds",
          "tflm_arena_bytes", "tflm_flash_bytes", "tflm_arena_bytes_dense", "tflm_flash_bytes_dense",
          "base_tflm_arena_bytes", "base_tflm_flash_bytes"]


def _cut_order(cut):
    return -1 if cut == "conv1" else int(cut.removeprefix("block")) if cut.startswith("block") else 10**6


MAGNITUDE_FIELDS = ["end_sparsity", "sparsity", "params", "val_accuracy", "acc_int8", "int8_bytes", "n_seeds"]


def _results(sweep_dir):
    sweep_dir = rc.require_dir(sweep_dir, "sweep folder", "the --train_dir of the prune runs")
    results = []
    for path in sorted(sweep_dir.glob("*/result.json")):
        try:
            results.append({**json.loads(path.read_text()), "_run_dir": path.parent})
        except ValueError as err:
            raise rc.bad_file(path, f"not valid JSON ({err})", "rerun that cut's prune script with --overwrite") from None
    return results


def collect_magnitude(sweep_dir):
    """One record per target sparsity of the tfmot baseline runs (means over seeds, ``*_std`` with several)."""
    by_target = {}
    for r in _results(sweep_dir):
        if r.get("method") == "magnitude":
            by_target.setdefault(r["end_sparsity"], []).append(r)
    if not by_target:
        raise rc.RunFailed(f"no magnitude-pruning */result.json under {sweep_dir}: nothing to collect (run prune_*_mag "
                           f"first)")
    records = []
    for target in sorted(by_target):
        runs = by_target[target]
        record = {"end_sparsity": target, "params": runs[0]["params"], "n_seeds": len(runs)}
        for key in ("sparsity", "val_accuracy", "acc_int8", "int8_bytes"):
            values = [r[key] for r in runs if key in r]
            if values:
                record[key] = float(np.mean(values)) if key != "int8_bytes" else int(values[0])
                if len(values) > 1 and key != "int8_bytes":
                    record[f"{key}_std"] = float(np.std(values))
        records.append(record)
    return records


def collect(sweep_dir, with_int8_files=False):
    """One record per cut from every ``result.json`` under ``sweep_dir`` (accuracy means over seeds); with
    ``with_int8_files`` also {cut: {"" (aux head) or "_dense": its int8 .tflite}}."""
    results = [r for r in _results(sweep_dir) if r.get("method") != "magnitude"]
    if not results:
        raise rc.RunFailed(f"no depth-pruning */result.json under {sweep_dir}: nothing to collect (run the prune "
                           f"scripts first)")
    by_cut = {}
    for r in results:
        entry = by_cut.setdefault(r["cut"], {"cut": r["cut"], "_acc": {}, "_int8": {}})
        dense = r["aux_arch"].startswith("dense")
        if not dense and r["frozen_tail"] and r.get("pretrained", True):
            for key in ("params", "macs", "flops", "int8_bytes"):
                if key in r:
                    entry[key] = r[key]
        if dense:
            kind = "dense"
            if "int8_bytes" in r:
                entry["int8_bytes_dense"] = r["int8_bytes"]
        elif not r.get("pretrained", True):
            kind = "random"
        else:
            kind = "frozen" if r["frozen_tail"] else "unfrozen"
        entry["_acc"].setdefault(kind, []).append(r["val_accuracy"])
        if "test_accuracy" in r:  # KWS: the held-out test set as well
            entry["_acc"].setdefault(f"{kind}_test", []).append(r["test_accuracy"])
        if kind == "frozen" and "acc_int8" in r:
            entry["_acc"].setdefault("int8", []).append(r["acc_int8"])
        int8_file = tflite_paths(r["_run_dir"])[1]
        if kind in ("frozen", "dense") and int8_file.is_file():  # one file per head: seeds share the structure
            entry["_int8"].setdefault("" if kind == "frozen" else "_dense", int8_file)
    records, int8_files = [], {}
    for cut in sorted(by_cut, key=_cut_order):
        entry = by_cut[cut]
        int8_files[cut] = entry.pop("_int8")
        accs = entry.pop("_acc")
        for kind, values in accs.items():
            entry[f"acc_{kind}"] = float(np.mean(values))
            if len(values) > 1:
                entry[f"acc_{kind}_std"] = float(np.std(values))
        entry["n_seeds"] = len(accs.get("frozen", []))
        records.append(entry)
    return (records, int8_files) if with_int8_files else records


def tflm_figures(path):
    """(smallest working arena, flatbuffer bytes) of an int8 .tflite on TFLite Micro (``mlperf_tiny.tflm.measure``)."""
    from mlperf_tiny import tflm

    try:
        measured = tflm.measure(path)
    except tflm.UnsupportedModel as err:
        raise rc.bad_file(path, f"TFLite Micro cannot run it ({err})") from None
    return measured["arena_bytes"], measured["flatbuffer_bytes"]


def add_tflm_figures(records, int8_files, base_tflite=None):
    """TFLite Micro arena and flash of every cut's int8 model (aux head; ``*_dense``: the dense head's), measured on
    the files the pipeline wrote, and of the unpruned base's int8 model (``base_*``)."""
    base = tflm_figures(base_tflite) if base_tflite else None
    for r in records:
        for suffix, path in int8_files.get(r["cut"], {}).items():
            r[f"tflm_arena_bytes{suffix}"], r[f"tflm_flash_bytes{suffix}"] = tflm_figures(path)
        if base:
            r["base_tflm_arena_bytes"], r["base_tflm_flash_bytes"] = base
    return records


def write_records(records, out_dir, fields=FIELDS, name="sweep"):
    out_dir = Path(out_dir)
    fields = fields + sorted({k for r in records for k in r if k.endswith("_std")})
    rc.write_csv(out_dir / f"{name}.csv", [{k: r.get(k, "") for k in fields} for r in records], fieldnames=fields)
    rc.write_json(out_dir / f"{name}.json", records, sort_keys=False)


def plot_sweep(records, out_png, title, base_accuracy=None):
    """Accuracy lines (frozen, unfrozen, unpruned) over Params (K) and FLOPs (M) bars per cut."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cuts = [r["cut"] for r in records]
    x = np.arange(len(cuts))
    fig, ax_bars = plt.subplots(figsize=(max(6, 0.6 * len(cuts) + 3), 4))
    width = 0.38
    params = [r.get("params", np.nan) / 1e3 for r in records]
    flops = [r.get("flops", np.nan) / 1e6 for r in records]
    ax_bars.bar(x - width / 2, params, width, color="0.75", label="Params (K)")
    ax_flops = ax_bars.twinx()
    ax_flops.bar(x + width / 2, flops, width, color="0.5", label="FLOPs (M)")
    ax_bars.set_ylabel("Params (K)")
    ax_flops.set_ylabel("FLOPs (M)")
    ax_acc = ax_bars.twinx()
    ax_acc.spines["right"].set_position(("axes", 1.12))
    for kind, style in (("frozen", "o-"), ("unfrozen", "s--"), ("random", "^:"), ("dense", "v-.")):
        key = f"acc_{kind}"
        if any(key in r for r in records):
            mean = np.array([100 * r.get(key, np.nan) for r in records])
            std = np.array([100 * r.get(f"{key}_std", 0.0) for r in records])
            ax_acc.errorbar(x, mean, yerr=std, fmt=style, capsize=2, label=f"{kind} tail" if kind != "dense"
                            else "dense head")
    if base_accuracy is not None:
        ax_acc.axhline(100 * base_accuracy, color="k", lw=1, ls=":", label="unpruned")
    ax_acc.set_ylabel("accuracy (%)")
    ax_bars.set_xticks(x, cuts, rotation=45, ha="right")
    handles = sum((a.get_legend_handles_labels()[0] for a in (ax_bars, ax_flops, ax_acc)), [])
    labels = sum((a.get_legend_handles_labels()[1] for a in (ax_bars, ax_flops, ax_acc)), [])
    ax_bars.legend(handles, labels, loc="upper left", fontsize=7)
    ax_bars.set_title(title)
    fig.tight_layout()
    with rc.atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)
    return out_png


def plot_size(records, out_png, title):
    """Accuracy vs int8 size for the aux head (circles, darker = deeper) and the dense head (triangles)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    shades = np.linspace(0.8, 0.1, len(records))
    for (size_key, acc_key, marker, label) in (("int8_bytes", "acc_int8", "o", "depth-aux"),
                                               ("int8_bytes_dense", "acc_dense", "^", "depth-dense")):
        points = [(r[size_key] / 1e3, 100 * r[acc_key], s) for r, s in zip(records, shades)
                  if size_key in r and acc_key in r]
        for i, (size, acc, shade) in enumerate(points):
            ax.scatter(size, acc, marker=marker, color=str(shade), edgecolor="k", label=label if i == 0 else None)
    ax.set_xlabel("int8 model size (KB)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    with rc.atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)
    return out_png


# Where the mlperf_tiny runs keep the unpruned validation accuracy, in order of preference: VWW test_vww's Keras
# accuracy on the clean validation split (%), the best epoch's (KWS), the last epoch's, then a plain "accuracy".
BASE_ACCURACY_KEYS = (("keras_float", "accuracy"), ("best", "val_accuracy"), ("best", "val_sparse_categorical_accuracy"),
                      ("val_accuracy",),
                      ("val_sparse_categorical_accuracy",), ("accuracy",))


def base_accuracy_of(metrics):
    """Unpruned validation accuracy (0-1) from an mlperf_tiny ``metrics.json``; None if it holds none."""
    for path in BASE_ACCURACY_KEYS:
        value = metrics
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (int, float)):
            return value / 100 if value > 1 else float(value)
    return None


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--sweep_dir", required=True, help="folder whose sub-folders are prune runs")
    parser.add_argument("--task", required=True, help="figure name: vww, vww_gray, kws, kws_hw")
    parser.add_argument("--base_accuracy", type=rc.fraction, default=None,
                        help="unpruned accuracy in [0, 1] (a line in the plot)")
    parser.add_argument("--magnitude", action="store_true",
                        help="collect tfmot magnitude-pruning runs into magnitude.csv/json instead of a cut sweep")
    parser.add_argument("--base_tflite", default=None,
                        help="int8 .tflite of the unpruned base: its TFLite Micro arena and flash go beside each cut's")
    parser.add_argument("--no_tflm", action="store_true", help="skip the TFLite Micro arena/flash measurements")
    parser.add_argument("--base_metrics", default=None,
                        help="JSON file with the unpruned accuracy (key val_accuracy or accuracy, 0-1 or %%)")
    return parser


def read_base_accuracy(path):
    """The unpruned accuracy of an mlperf_tiny metrics.json (None when it holds none); a broken file is an error."""
    path = rc.require_file(path, "base metrics file", "the metrics.json of the mlperf-tiny base run")
    try:
        return base_accuracy_of(json.loads(path.read_text()))
    except ValueError as err:
        raise rc.bad_file(path, f"not valid JSON ({err})") from None


def run(args):
    if args.magnitude:
        records = collect_magnitude(args.sweep_dir)
        write_records(records, args.sweep_dir, MAGNITUDE_FIELDS, name="magnitude")
        for r in records:
            print(f"target {r['end_sparsity']:.2f}  sparsity {r.get('sparsity', float('nan')):.3f}  "
                  f"acc {r.get('val_accuracy', float('nan')):.4f}  int8 {r.get('acc_int8', float('nan')):.4f}  "
                  f"{r.get('int8_bytes', 0):,} B")
        return records
    base = args.base_accuracy
    if base is None and args.base_metrics and Path(args.base_metrics).exists():
        base = read_base_accuracy(args.base_metrics)
    if args.base_tflite:
        rc.require_file(args.base_tflite, "base int8 model", "the int8 .tflite of the mlperf-tiny base run")
    records, int8_files = collect(args.sweep_dir, with_int8_files=True)
    if not args.no_tflm:
        add_tflm_figures(records, int8_files, args.base_tflite)
    write_records(records, args.sweep_dir)
    datasets = {r.get("dataset") for r in _results(args.sweep_dir)}
    suffix = " (mini data)" if "mini" in datasets else ""
    plot_sweep(records, Path(args.sweep_dir) / f"{args.task}.png", f"{args.task}: depth pruning{suffix}", base)
    plot_size(records, Path(args.sweep_dir) / f"{args.task}_size.png", f"{args.task}: accuracy vs int8 size{suffix}")
    for r in records:
        print(f"{r['cut']:>8}  params {r.get('params', 0):>8,}  acc frozen {r.get('acc_frozen', float('nan')):.4f}"
              f"  unfrozen {r.get('acc_unfrozen', float('nan')):.4f}  int8 {r.get('acc_int8', float('nan')):.4f}"
              + (f"  TFLM arena {r['tflm_arena_bytes']:,} B" if "tflm_arena_bytes" in r else "")
              + (f" (base {r['base_tflm_arena_bytes']:,} B)" if "base_tflm_arena_bytes" in r else ""))
    return records


@rc.command
def main(argv=None):
    return run(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
