"""Encode one checkpoint pair and print the paper's statistics (the paper's demo.py), writing the file.

    python -m dnn_param_encode.demo --pre-epoch 20_0.01.pt --cur-epoch 21_0.01.pt --dnn resnet \
        --method ResEntropy --output 21_0.01.dpe
"""


import run_contract as rc
from dnn_param_encode.checkpoints import load_state_dict
from dnn_param_encode.compression import (
    ALL_METHODS,
    DEFAULT_STEP_BITS,
    REFERENCE_FREE_METHODS,
    MethodConfig,
)
from dnn_param_encode.eval_pairs import code_pair


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="Residual-encode one checkpoint against the previous epoch",
                                add_help=add_help)
    p.add_argument("--pre-epoch", default=None, help="reference (previous epoch) checkpoint; not needed by Float16")
    p.add_argument("--cur-epoch", required=True, help="checkpoint to encode")
    p.add_argument("--dnn", choices=sorted(DEFAULT_STEP_BITS), default="resnet")
    p.add_argument("--method", choices=ALL_METHODS, default="ResEntropy")
    p.add_argument("--step-bits", type=rc.int_range(1, 30), default=None, help="16-bit code step 2^-STEP_BITS (default by --dnn)")
    p.add_argument("--overflow", choices=["escape", "error"], default="escape")
    p.add_argument("--output", default=None, help="write the encoded file here (.dpe)")
    p.add_argument("--stats-json", default=None, help="write the statistics as JSON here")
    return p


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    rc.check(args.pre_epoch is not None or args.method in REFERENCE_FREE_METHODS,
             f"--pre-epoch (the reference checkpoint) is required for {args.method}")
    step_bits = args.step_bits if args.step_bits is not None else DEFAULT_STEP_BITS[args.dnn]
    cur = load_state_dict(args.cur_epoch)
    ref = load_state_dict(args.pre_epoch) if args.pre_epoch else None
    coded = code_pair(cur, ref, MethodConfig(args.method, step_bits, args.overflow), args.cur_epoch)
    blob, stats, enc_s, dec_s = coded["blob"], coded["stats"], coded["enc_s"], coded["dec_s"]
    rmse, max_err = coded["rmse"], coded["max_err"]
    n = stats["n"]
    out = {"method": args.method, "n_params": n, "orig_bytes": stats["orig_bytes"], "comp_bytes": stats["param_bytes"],
           "bits_per_param": 8 * stats["param_bytes"] / max(n, 1),
           "entropy_bound": 8 * stats["entropy_bound_bytes"] / max(n, 1), "bound": stats["bound_name"],
           "file_bytes": len(blob), "enc_s": enc_s, "dec_s": dec_s, "rmse": rmse, "max_err": max_err,
           "bit_exact": coded["bit_exact"]}
    print(f"Compression Time: {enc_s:.2f}s\tOriginal Size: {stats['orig_bytes'] / 2**20:.2f}MB\t"
          f"Compressed Size: {stats['param_bytes'] / 2**20:.2f}MB\t"
          f"Bit Saving: {100 - 100 * stats['param_bytes'] / stats['orig_bytes']:.2f}%\t"
          f"bits/param: {out['bits_per_param']:.3f} (bound {out['entropy_bound']:.3f})\tRMSE: {rmse:.3g}\t"
          f"Max of Diff: {max_err:.3g}")
    if args.output:
        rc.write_bytes(args.output, blob)
        print(f"wrote {args.output} ({len(blob)} bytes)")
    if args.stats_json:
        rc.write_json(args.stats_json, out)
    return out


if __name__ == "__main__":
    rc.entry(main)
