"""Params, MACs, FLOPs (and int8 TFLite size) of the base model and of every cut with a chosen aux head.

    python -m depth_pruning.count --task vww [--aux_arch dscnn32_16] [--tflite] [--json]

Counting as the original ``compute_flops.py``: params are Keras ``count_params()`` (BN moving statistics
included), FLOPs the TF profiler's float ops of the frozen graph at batch 1; MACs are conv+dense only. These
depend on the architecture alone, so the models are freshly initialised (no data or checkpoint needed). int8
sizes are of a full-integer conversion calibrated on random inputs: the flatbuffer size does not depend on
the calibration values, only on the graph.
"""

import argparse
import json
import sys

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from depth_pruning.aux_models import AUX_ARCHS, DEFAULT_AUX_ARCH
from depth_pruning.base_models import BASE_MODELS, build_base_model, num_classes_of

TASK_VARIANTS = {"vww": "vww", "vww_gray": "vww_gray", "kws": "kws", "kws_hw": "kws_hw"}
# Random calibration samples for the int8 size (the size is independent of their values).
CALIBRATION_SAMPLES = 4


def int8_size(model, seed=0):
    """Bytes of the full-integer (int8 I/O) TFLite flatbuffer of ``model``."""
    import numpy as np
    from mlperf_tiny.tflite_utils import convert_to_tflite

    rng = np.random.default_rng(seed)
    shape = tuple(model.inputs[0].shape[1:])
    samples = [rng.uniform(0.0, 1.0, size=shape).astype(np.float32) for _ in range(CALIBRATION_SAMPLES)]
    return len(convert_to_tflite(model, samples))


def count_model(model, with_tflite=False, with_flops=True):
    from mlperf_tiny.counting import count_flops, count_macs, count_params

    record = {"params": count_params(model), "macs": int(count_macs(model))}
    if with_flops:  # the profiler is the slow part (about 1 s per model)
        record["flops"] = count_flops(model)
    if with_tflite:
        record["int8_bytes"] = int8_size(model)
    return record


def count_all_cuts(variant, aux_arch=DEFAULT_AUX_ARCH, with_tflite=False, cuts=None, progress=False, with_flops=True):
    """One record per cut (plus ``cut="base"`` first): params, macs, flops, reductions vs the base [, int8]."""
    from depth_pruning.pruning import build_pruned_model, cut_points

    base = build_base_model(variant)
    base_record = {"cut": "base", **count_model(base, with_tflite, with_flops)}
    records = [base_record]
    names = list(cut_points(base)) if cuts is None else list(cuts)
    iterator = names
    if progress:
        from tqdm import tqdm

        iterator = tqdm(names, desc=f"count {variant}", unit="cut", file=sys.stderr)
    for cut in iterator:
        base = build_base_model(variant)  # a fresh base each time: the cut model shares the base's layers
        pruned = build_pruned_model(base, cut, aux_arch, num_classes_of(variant))
        records.append({"cut": cut, **count_model(pruned, with_tflite, with_flops)})
    for record in records:
        for key in ("params", "flops", "macs") if with_flops else ("params", "macs"):
            record[f"{key}_reduction"] = 1.0 - record[key] / base_record[key]
    return records


def format_table(records):
    keys = ["cut", "params", "params_reduction", "macs", "flops", "flops_reduction"]
    if "int8_bytes" in records[0]:
        keys.append("int8_bytes")
    lines = ["  ".join(f"{k:>16}" for k in keys)]
    for r in records:
        cells = [f"{r[k]:>16.1%}" if k.endswith("_reduction") else f"{r[k]:>16,}" if isinstance(r[k], int)
                 else f"{r[k]:>16}" for k in keys]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def load_counted_model(path):
    """A saved model to count: a run folder (its best ``model.h5``), an .h5 file or a SavedModel folder."""
    from pathlib import Path

    from mlperf_tiny import model_io

    from depth_pruning.common import MODEL_FILE

    path = Path(path)
    if path.is_dir() and (path / MODEL_FILE).exists():
        path = path / MODEL_FILE
    hint = "pass a prune run folder, an .h5 file or a SavedModel folder"
    loaded = model_io.load_model(path, hint)
    if loaded.keras_model is None:
        raise rc.bad_file(path, f"is a {loaded.kind} model; counting needs a Keras model", hint)
    return loaded.keras_model, path


def get_compute_flops_parser(task):
    parser = rc.ArgumentParser(description=f"FLOPs of a saved {task} model (the original compute_flops.py); "
                                           "without --ckpt_name, the counts of every cut", allow_abbrev=False)
    parser.add_argument("--ckpt_name", default=None,
                        help="prune run folder (its best model.h5), .h5 file or SavedModel folder")
    parser.add_argument("--skip_parser", nargs="?", const=True, default=False, type=_parse_bool,
                        help="accepted for the original's command lines: it meant '--ckpt_name is the model "
                             "itself'; here a run folder's best model is model.h5, so both spellings work")
    parser.add_argument("--aux_arch", default=DEFAULT_AUX_ARCH, type=rc.name_in(AUX_ARCHS, "aux head"),
                        help="head for the per-cut table")
    parser.add_argument("--tflite", action="store_true", help="also report the int8 TFLite size")
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _parse_bool(value):
    from depth_pruning.common import parse_bool

    return parse_bool(value)


def compute_flops_main(task, argv=None):
    """``vww/compute_flops.py`` / ``kws/compute_flops.py``: counts of one saved model, or of every cut."""
    args = get_compute_flops_parser(task).parse_args(argv)
    if args.ckpt_name is None:
        return count_and_print(task, args.aux_arch, args.tflite, None, args.json)
    model, path = load_counted_model(args.ckpt_name)
    record = {"model": str(path), **count_model(model, with_tflite=args.tflite)}
    if args.json:
        print(json.dumps(record, indent=1))
    else:
        print(f"The {path} FLOPs is: {record['flops']}", flush=True)  # the original's output line
        print(", ".join(f"{key} {value:,}" for key, value in record.items() if key != "model"))
    return record


def get_args_parser():
    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, type=rc.name_in(BASE_MODELS, "task"),
                        help="vww (RGB MobileNetV1-0.25), vww_gray, kws (DS-CNN MFCC), kws_hw (DS-CNN on flat LFBE)")
    parser.add_argument("--aux_arch", default=DEFAULT_AUX_ARCH, type=rc.name_in(AUX_ARCHS, "aux head"),
                        help="aux head")
    parser.add_argument("--cuts", nargs="+", default=None, help="cut names (default: every cut)")
    parser.add_argument("--tflite", action="store_true", help="also convert to int8 TFLite and report its size")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of {cut, params, macs, flops[, int8_bytes]} instead of a table")
    return parser


def count_and_print(task, aux_arch, with_tflite, cuts, as_json):
    from depth_pruning.pruning import cut_points

    if cuts:
        known = cut_points(build_base_model(task))
        unknown = [cut for cut in cuts if cut not in known]
        rc.check(not unknown, f"--cuts: {', '.join(unknown)} not a cut of {task}; its cuts are {', '.join(known)}")
    records = count_all_cuts(task, aux_arch, with_tflite=with_tflite, cuts=cuts, progress=not as_json)
    if as_json:
        keys = ["cut", "params", "macs", "flops"] + (["int8_bytes"] if with_tflite else [])
        print(json.dumps([{k: r[k] for k in keys} for r in records], indent=1))
    else:
        print(f"{task} with aux head {aux_arch} (reductions vs the unpruned base)")
        print(format_table(records))
    return records


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    return count_and_print(args.task, args.aux_arch, args.tflite, args.cuts, args.json)


if __name__ == "__main__":
    rc.entry(main)
