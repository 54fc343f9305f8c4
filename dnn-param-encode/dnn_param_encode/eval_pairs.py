"""The pair loop shared by `eval_lossless` and `eval_lossy` (flags as in the paper's scripts).

Pairs are (i, i + n) for i in range(first, last - n, n), loaded from `{path_pt}/{i}_{lr}.pt`; as in the
original this skips the last pair when (last - first) is a multiple of n (`--include-last-pair` fixes it).
Lossy methods run closed loop: the reconstruction of epoch i + n is the reference of the next pair.
"""

import os
import time

import numpy as np
import run_contract as rc
from dero.checkpoint import check_checkpoint_file
from dnn_param_encode.checkpoints import CHECKPOINT_HINT, checkpoint_path, load_state_dict
from dnn_param_encode.compression import ALL_METHODS, DEFAULT_STEP_BITS, CodecError, MethodConfig, rmse_and_max
from dnn_param_encode.fileformat import decode_checkpoint, encode_checkpoint, flat_float32, tensor_role
from tqdm import tqdm

CSV_FIELDS = ["epoch_prev", "epoch_cur", "n", "method", "orig_bytes", "comp_bytes", "bits_per_param",
              "entropy_bound", "enc_s", "dec_s", "max_err", "rmse",
              # extras: bound in bytes, whole-file size, buffers, lr, dataset label
              "entropy_bound_bytes", "file_bytes", "buffer_bytes", "header_bytes", "n_params", "n_escapes",
              "bit_saving_pct", "lr", "dataset"]


def add_pair_flags(parser, methods, default_method):
    parser.add_argument("--learning-rate", default="0.01", help="lr string in the checkpoint names {epoch}_{lr}.pt")
    parser.add_argument("--epoch-interval", type=rc.positive_int, default=3, help="n: distance between the two epochs")
    parser.add_argument("--epoch-first", type=rc.nonnegative_int, default=21, help="first epoch of the pair loop")
    parser.add_argument("--epoch-last", type=rc.nonnegative_int, default=100, help="last epoch of the pair loop")
    parser.add_argument("--dnn", choices=sorted(DEFAULT_STEP_BITS), default="resnet")
    parser.add_argument("--path-pt", default="weights/resnet18", help="folder of {epoch}_{lr}.pt checkpoints")
    parser.add_argument("--method", nargs="+", choices=methods, default=[default_method], metavar="METHOD",
                        help=f"one or more of {', '.join(methods)} (default {default_method})")
    parser.add_argument("--step-bits", type=rc.int_range(1, 30), default=None,
                        help="16-bit code step 2^-STEP_BITS (default: 17 for resnet, 15 for yolo, as the paper)")
    parser.add_argument("--overflow", choices=["escape", "error"], default="escape",
                        help="residuals beyond the 16-bit range: send exactly (fix, default) or fail (original)")
    parser.add_argument("--include-last-pair", action="store_true",
                        help="fix: also code the last pair that the original range(first, last - n, n) skips")
    parser.add_argument("--output-dir", default=None, help="where the CSV, args.json and plots go (default: --path-pt)")
    parser.add_argument("--dataset-label", default="imagenet", help="written to the CSV/metrics ('mini' for mini data)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier evaluation with other settings for the same lr and n in --output-dir")
    return parser


def pair_list(first, last, n, include_last):
    rc.check(n >= 1, f"argument --epoch-interval: {n} is not an integer >= 1")
    stop = last - n + 1 if include_last else last - n
    return [(i, i + n) for i in range(first, stop, n)]


def result_files(out_dir, kind, lr, n):
    """The files one evaluation (kind, lr, n) owns in the output directory; the first is its args record."""
    stem = f"{kind}_lr{lr}_n{n}"
    return [os.path.join(out_dir, name) for name in (f"args_{stem}.json", f"{stem}.csv", f"{stem}_summary.json",
                                                     f"{stem}_metrics.json")]


def claim_evaluation(args, kind):
    """Resume-or-refuse for one (kind, lr, n) evaluation: several share an output directory, so only this
    evaluation's own files are replaced on --overwrite, never the directory."""
    out_dir = args.output_dir or args.path_pt
    files = result_files(out_dir, kind, args.learning_rate, args.epoch_interval)
    ignore = ("output_dir", "workers", "batch_size")
    try:
        return rc.claim_run_dir(out_dir, args, ignore=ignore, args_file=os.path.basename(files[0]))
    except rc.UsageError:
        if not args.overwrite:
            raise
    for path in files:
        if os.path.exists(path):
            os.remove(path)
    return rc.claim_run_dir(out_dir, args, ignore=ignore, args_file=os.path.basename(files[0]))


def code_pair(cur, ref, cfg, source):
    """Encode ``cur`` against ``ref``, decode it, check the decoder rebuilds the encoder's reconstruction; the
    blob, stats, decoded state_dict, timings and the parameter error. ``source`` names ``cur`` in errors."""
    t0 = time.perf_counter()
    try:
        blob, recon, stats = encode_checkpoint(cur, ref, cfg)
    except CodecError as e:
        raise rc.bad_file(source, str(e)) from None
    enc_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    decoded = decode_checkpoint(blob, ref)
    dec_s = time.perf_counter() - t0
    params = [k for k in cur if tensor_role(k, cur[k]) == "param"]
    true_p, dec_p = flat_float32(cur, params), flat_float32(decoded, params)
    if not np.array_equal(flat_float32(recon, params).view(np.uint32), dec_p.view(np.uint32)):
        raise rc.RunFailed(f"{cfg.method}: decoder output differs from the encoder's reconstruction")
    rmse, max_err = rmse_and_max(true_p, dec_p)
    return {"blob": blob, "stats": stats, "decoded": decoded, "enc_s": enc_s, "dec_s": dec_s, "rmse": rmse,
            "max_err": max_err, "bit_exact": bool(np.array_equal(true_p.view(np.uint32), dec_p.view(np.uint32)))}


def run_pairs(args, kind):
    """Encode + decode every pair for every method; write `{kind}_lr{lr}_n{n}.csv`; return the rows."""
    out_dir = args.output_dir or args.path_pt
    step_bits = args.step_bits if args.step_bits is not None else DEFAULT_STEP_BITS[args.dnn]
    n = args.epoch_interval
    pairs = pair_list(args.epoch_first, args.epoch_last, n, args.include_last_pair)
    if not pairs:
        raise rc.UsageError(f"no pairs: range({args.epoch_first}, {args.epoch_last} - {n}, {n}) is empty; "
                            "widen --epoch-first/--epoch-last or pass --include-last-pair")
    for e in sorted({e for p in pairs for e in p}):
        check_checkpoint_file(checkpoint_path(args.path_pt, e, args.learning_rate), "checkpoint",
                              f"needed by the pairs {pairs[0]}..{pairs[-1]}; {CHECKPOINT_HINT}")
    claim_evaluation(args, kind)
    csv_path = os.path.join(out_dir, f"{kind}_lr{args.learning_rate}_n{n}.csv")
    rows = []
    cache = {}
    last_decoded = {}

    def load(epoch):
        if epoch not in cache:
            cache.clear()  # only the current pair stays in memory
            cache[epoch] = load_state_dict(checkpoint_path(args.path_pt, epoch, args.learning_rate))
        return cache[epoch]

    for method in args.method:
        cfg = MethodConfig(method, step_bits, args.overflow)
        reference = None  # closed loop: the previous reconstruction
        for prev_epoch, cur_epoch in tqdm(pairs, desc=f"{kind} {method} n={n}", leave=False):
            true_prev = load(prev_epoch)
            cur = load(cur_epoch)
            ref = reference if (reference is not None and kind == "lossy") else true_prev
            coded = code_pair(cur, ref, cfg, checkpoint_path(args.path_pt, cur_epoch, args.learning_rate))
            if kind == "lossless" and not coded["bit_exact"]:
                raise rc.RunFailed(f"{method}: lossless round trip is not bit-exact at epoch {cur_epoch}")
            stats, decoded = coded["stats"], coded["decoded"]
            enc_s, dec_s, rmse, max_err = coded["enc_s"], coded["dec_s"], coded["rmse"], coded["max_err"]
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
            rows.append(row)
            # the paper's printout, one line per pair
            print(f"Epoch: {cur_epoch} - {prev_epoch}\t{method}\tCompression Time: {enc_s:.2f}s\t"
                  f"Original Size: {stats['orig_bytes'] / 2**20:.2f}MB\t"
                  f"Compressed Size: {stats['param_bytes'] / 2**20:.2f}MB\t"
                  f"Bit Saving: {row['bit_saving_pct']:.2f}%\tbits/param: {row['bits_per_param']:.3f}\t"
                  f"RMSE: {rmse:.3g}\tMax of Diff: {max_err:.3g}")
    rc.write_csv(csv_path, rows, fieldnames=CSV_FIELDS)
    summary = summarize(rows)
    rc.write_json(os.path.join(out_dir, f"{kind}_lr{args.learning_rate}_n{n}_summary.json"), summary)
    return rows, summary, last_decoded


def add_accuracy_flags(parser):
    parser.add_argument("--data-path", default=None,
                        help="ImageFolder root (resnet) or COCO root (yolo): score the last decoded model against "
                             "the original (top-1, or COCO mAP@0.5:0.95)")
    parser.add_argument("--arch", default="resnet18", help="resnet: torchvision architecture")
    parser.add_argument("--image-size", type=rc.positive_int, default=224, help="evaluation size (px)")
    parser.add_argument("--batch-size", type=rc.positive_int, default=64, help="evaluation batch size")
    parser.add_argument("--workers", type=rc.nonnegative_int, default=0, help="evaluation data loader workers")
    return parser


def score_last_decoded(args, kind, summary, last_decoded):
    """Accuracy of the original last epoch and of every method's decoded one; writes `{kind}_..._metrics.json`
    and the decoded checkpoints. Returns the metrics dict."""
    from dnn_param_encode.checkpoints import save_checkpoint
    from dnn_param_encode.evaluate import METRIC, Scorer, yolo_template

    out_dir = args.output_dir or args.path_pt
    n = args.epoch_interval
    last_epoch = pair_list(args.epoch_first, args.epoch_last, n, args.include_last_pair)[-1][1]
    original_path = checkpoint_path(args.path_pt, last_epoch, args.learning_rate)
    results = {}
    if args.data_path:
        template = yolo_template(original_path) if args.dnn == "yolo" else None
        scorer = Scorer(args.dnn, args.data_path, args.image_size, args.batch_size, args.workers, template, args.arch)
        results["original"] = scorer(load_state_dict(original_path), "original")
    for method, decoded in last_decoded.items():
        if kind == "lossy":
            save_checkpoint(os.path.join(out_dir, f"decoded_{method}_n{n}_{last_epoch}_{args.learning_rate}.pt"),
                            decoded, epoch=last_epoch, lr=args.learning_rate, arch=args.arch, decoded_with=method)
        if args.data_path:
            results[method] = scorer(decoded, method)
            print(f"{METRIC[args.dnn]} at epoch {last_epoch} ({args.dataset_label}): original "
                  f"{results['original']:.3f}, {method} {results[method]:.3f}")
    metrics = {"dataset": args.dataset_label, "epoch_interval": n, "learning_rate": args.learning_rate,
               "dnn": args.dnn, "metric": METRIC[args.dnn], "epoch": last_epoch, "summary": summary,
               METRIC[args.dnn]: results}
    if args.data_path and scorer.map50:  # YOLO: mAP@0.5 beside the paper's mAP@0.5:0.95
        metrics["map50"] = scorer.map50
    rc.write_json(result_files(out_dir, kind, args.learning_rate, n)[3], metrics)
    return metrics


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
    parser = rc.ArgumentParser(description=description, add_help=add_help)
    return add_pair_flags(parser, methods, default_method)


__all__ = ["ALL_METHODS", "CSV_FIELDS", "code_pair", "make_parser", "pair_list", "run_pairs", "summarize"]
