"""The pair loop shared by `eval_lossless` and `eval_lossy` (flags as in the paper's scripts).

Pairs are (i, i + n) for i in range(first, last - n, n), loaded from `{path_pt}/{i}_{lr}.pt`; as in the
original this skips the last pair when (last - first) is a multiple of n (`--include-last-pair` fixes it).
Lossy methods run closed loop: the reconstruction of epoch i + n is the reference of the next pair.
"""

import argparse
import csv
import json
import os
import time

import numpy as np
from dnn_param_encode.checkpoints import checkpoint_path, load_state_dict
from dnn_param_encode.compression import ALL_METHODS, DEFAULT_STEP_BITS, MethodConfig, rmse_and_max
from dnn_param_encode.fileformat import decode_checkpoint, encode_checkpoint, flat_float32, tensor_role
from tqdm import tqdm

CSV_FIELDS = ["epoch_prev", "epoch_cur", "n", "method", "orig_bytes", "comp_bytes", "bits_per_param",
              "entropy_bound", "enc_s", "dec_s", "max_err", "rmse",
              # extras: bound in bytes, whole-file size, buffers, lr, dataset label
              "entropy_bound_bytes", "file_bytes", "buffer_bytes", "header_bytes", "n_params", "n_escapes",
              "bit_saving_pct", "lr", "dataset"]


def add_pair_flags(parser, methods, default_method):
    parser.add_argument("--learning-rate", default="0.01", help="lr string in the checkpoint names {epoch}_{lr}.pt")
    parser.add_argument("--epoch-interval", type=int, default=3, help="n: distance between the two epochs")
    parser.add_argument("--epoch-first", type=int, default=21)
    parser.add_argument("--epoch-last", type=int, default=100)
    parser.add_argument("--dnn", choices=sorted(DEFAULT_STEP_BITS), default="resnet")
    parser.add_argument("--path-pt", default="weights/resnet18", help="folder of {epoch}_{lr}.pt checkpoints")
    parser.add_argument("--method", nargs="+", choices=methods, default=[default_method], metavar="METHOD",
                        help=f"one or more of {', '.join(methods)} (default {default_method})")
    parser.add_argument("--step-bits", type=int, default=None,
                        help="16-bit code step 2^-STEP_BITS (default: 17 for resnet, 15 for yolo, as the paper)")
    parser.add_argument("--overflow", choices=["escape", "error"], default="escape",
                        help="residuals beyond the 16-bit range: send exactly (fix, default) or fail (original)")
    parser.add_argument("--include-last-pair", action="store_true",
                        help="fix: also code the last pair that the original range(first, last - n, n) skips")
    parser.add_argument("--output-dir", default=None, help="where the CSV, args.json and plots go (default: --path-pt)")
    parser.add_argument("--dataset-label", default="imagenet", help="written to the CSV/metrics ('mini' for mini data)")
    return parser


def pair_list(first, last, n, include_last):
    if n < 1:
        raise ValueError(f"--epoch-interval must be >= 1, got {n}")
    stop = last - n + 1 if include_last else last - n
    return [(i, i + n) for i in range(first, stop, n)]


def run_pairs(args, kind):
    """Encode + decode every pair for every method; write `{kind}_lr{lr}_n{n}.csv`; return the rows."""
    out_dir = args.output_dir or args.path_pt
    os.makedirs(out_dir, exist_ok=True)
    step_bits = args.step_bits if args.step_bits is not None else DEFAULT_STEP_BITS[args.dnn]
    n = args.epoch_interval
    pairs = pair_list(args.epoch_first, args.epoch_last, n, args.include_last_pair)
    if not pairs:
        raise SystemExit(f"no pairs: range({args.epoch_first}, {args.epoch_last} - {n}, {n}) is empty; "
                         "widen --epoch-first/--epoch-last or pass --include-last-pair")
    for e in sorted({e for p in pairs for e in p}):
        path = checkpoint_path(args.path_pt, e, args.learning_rate)
        if not os.path.isfile(path):
            raise SystemExit(f"missing checkpoint {path} (needed by the pairs {pairs[0]}..{pairs[-1]}); "
                             "train first, e.g. `make param-encode-resnet18`")
    with open(os.path.join(out_dir, f"args_{kind}_n{n}.json"), "w") as f:
        json.dump(vars(args), f, indent=2)
    csv_path = os.path.join(out_dir, f"{kind}_lr{args.learning_rate}_n{n}.csv")
    rows = []
    cache = {}
    last_decoded = {}

    def load(epoch):
        if epoch not in cache:
            cache.clear()  # only the current pair stays in memory
            cache[epoch] = load_state_dict(checkpoint_path(args.path_pt, epoch, args.learning_rate))
        return cache[epoch]

    with open(csv_path + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for method in args.method:
            cfg = MethodConfig(method, step_bits, args.overflow)
            reference = None  # closed loop: the previous reconstruction
            for prev_epoch, cur_epoch in tqdm(pairs, desc=f"{kind} {method} n={n}", leave=False):
                true_prev = load(prev_epoch)
                cur = load(cur_epoch)
                ref = reference if (reference is not None and kind == "lossy") else true_prev
                t0 = time.perf_counter()
                blob, recon, stats = encode_checkpoint(cur, ref, cfg)
                enc_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                decoded = decode_checkpoint(blob, ref)
                dec_s = time.perf_counter() - t0
                params = [k for k in cur if tensor_role(k, cur[k]) == "param"]
                true_p, dec_p = flat_float32(cur, params), flat_float32(decoded, params)
                if not np.array_equal(flat_float32(recon, params).view(np.uint32), dec_p.view(np.uint32)):
                    raise RuntimeError(f"{method}: decoder output differs from the encoder's reconstruction")
                if kind == "lossless" and not np.array_equal(true_p.view(np.uint32), dec_p.view(np.uint32)):
                    raise RuntimeError(f"{method}: lossless round trip is not bit-exact at epoch {cur_epoch}")
                rmse, max_err = rmse_and_max(true_p, dec_p)
                reference = decoded
                last_decoded[method] = decoded
                n_params = stats["n"]
                row = {
                    "epoch_prev": prev_epoch, "epoch_cur": cur_epoch, "n": n, "method": method,
                    "orig_bytes": stats["orig_bytes"], "comp_bytes": stats["param_bytes"],
                    "bits_per_param": 8 * stats["param_bytes"] / max(n_params, 1),
                    "entropy_bound": 8 * stats["entropy_bound_bytes"] / max(n_params, 1),
                    "enc_s": enc_s, "dec_s": dec_s, "max_err": max_err, "rmse": rmse,
                    "entropy_bound_bytes": stats["entropy_bound_bytes"], "file_bytes": stats["file_bytes"],
                    "buffer_bytes": stats["buffer_bytes"], "header_bytes": stats["header_bytes"],
                    "n_params": n_params, "n_escapes": stats.get("n_escapes", 0),
                    "bit_saving_pct": 100 - 100 * stats["param_bytes"] / stats["orig_bytes"],
                    "lr": args.learning_rate, "dataset": args.dataset_label,
                }
                writer.writerow(row)
                f.flush()
                rows.append(row)
                # the paper's printout, one line per pair
                print(f"Epoch: {cur_epoch} - {prev_epoch}\t{method}\tCompression Time: {enc_s:.2f}s\t"
                      f"Original Size: {stats['orig_bytes'] / 2**20:.2f}MB\t"
                      f"Compressed Size: {stats['param_bytes'] / 2**20:.2f}MB\t"
                      f"Bit Saving: {row['bit_saving_pct']:.2f}%\tbits/param: {row['bits_per_param']:.3f}\t"
                      f"RMSE: {rmse:.3g}\tMax of Diff: {max_err:.3g}")
    os.replace(csv_path + ".tmp", csv_path)
    summary = summarize(rows)
    with open(os.path.join(out_dir, f"{kind}_lr{args.learning_rate}_n{n}_summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return rows, summary, last_decoded


def summarize(rows):
    out = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == method]
        out[method] = {
            "pairs": len(rs),
            "mean_bits_per_param": float(np.mean([r["bits_per_param"] for r in rs])),
            "mean_entropy_bound": float(np.mean([r["entropy_bound"] for r in rs])),
            "mean_bit_saving_pct": float(np.mean([r["bit_saving_pct"] for r in rs])),
            "max_err": float(np.max([r["max_err"] for r in rs])),
            "mean_rmse": float(np.mean([r["rmse"] for r in rs])),
            "dataset": rs[0]["dataset"],
        }
    return out


def make_parser(description, methods, default_method, add_help=True):
    parser = argparse.ArgumentParser(description=description, add_help=add_help)
    return add_pair_flags(parser, methods, default_method)


__all__ = ["ALL_METHODS", "CSV_FIELDS", "make_parser", "pair_list", "run_pairs", "summarize"]
