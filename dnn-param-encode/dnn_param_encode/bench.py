"""Benchmark: encode/decode MB/s (single thread, best of --repeats) and bits/param of every method on one
ResNet-18 checkpoint pair, against general-purpose codecs and their entropy bounds.

Baselines without a reference: zstd-3 and lz4 on the raw float32 bytes, ZipNN-style byte grouping (4 byte
planes, each zstd-3). MB/s counts float32 input bytes (4 per parameter). The paper's untyped coder is timed
on a short slice with the pure-Python port (`codec.reference`) and extrapolated.
"""

import glob
import os
import re
import time

import lz4.frame
import numpy as np
import run_contract as rc
import zstandard
from dnn_param_encode.checkpoints import load_state_dict
from dnn_param_encode.codec import arithmeticcoding, reference
from dnn_param_encode.compression import (
    ALL_METHODS,
    LOSSLESS_METHODS,
    MethodConfig,
    decode_stream,
    encode_stream,
    entropy_bits,
    rmse_and_max,
)
from dnn_param_encode.fileformat import flat_float32, tensor_role

REFERENCE_SLICE_BYTES = 200_000  # the pure-Python coder handles ~0.05-0.3 MB/s: time a slice only


def find_pair(path_pt):
    """Last two consecutive epochs {e-1}_{lr}.pt, {e}_{lr}.pt in path_pt, or None."""
    found = {}
    for p in glob.glob(os.path.join(path_pt, "*_*.pt")):
        m = re.fullmatch(r"(\d+)_([0-9.e-]+)\.pt", os.path.basename(p))
        if m:
            found[int(m.group(1))] = p
    for e in sorted(found, reverse=True):
        if e - 1 in found:
            return found[e - 1], found[e]
    return None


def synthetic_pair(seed=0):
    """ResNet-18 init + one SGD-like update (Laplace, 1e-3 relative): only when no trained pair exists."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    sd = torchvision.models.resnet18(num_classes=1000).state_dict()
    rng = np.random.default_rng(seed)
    cur = {}
    for k, v in sd.items():
        if v.dtype == torch.float32:
            a = v.numpy()
            cur[k] = torch.from_numpy((a + rng.laplace(size=a.shape) * 1e-3 * (np.abs(a).mean() + 1e-3)).astype(np.float32))
        else:
            cur[k] = v
    return sd, cur


def best_time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="Speed and size of every method on a ResNet-18 checkpoint pair",
                                add_help=add_help)
    p.add_argument("--path-pt", default=None, help="folder of {epoch}_{lr}.pt; the last consecutive pair is used")
    p.add_argument("--pre-epoch", default=None)
    p.add_argument("--cur-epoch", default=None)
    p.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=list(ALL_METHODS))
    p.add_argument("--step-bits", type=rc.int_range(1, 30), default=17)
    p.add_argument("--repeats", type=rc.positive_int, default=3)
    p.add_argument("--max-params", type=rc.nonnegative_int, default=0,
                   help="benchmark only the first N parameters (0 = all)")
    p.add_argument("--output", default=None, help="CSV of the table (a .json with the same stem is written too)")
    return p


@rc.command
def main(argv=None):
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns (rows, speed)."""
    args = get_args_parser().parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    source = "synthetic ResNet-18 pair (init + Laplace update): no trained checkpoints found"
    pair = (args.pre_epoch, args.cur_epoch) if args.pre_epoch and args.cur_epoch else (
        find_pair(args.path_pt) if args.path_pt and os.path.isdir(args.path_pt) else None)
    if pair:
        prev_sd, cur_sd = load_state_dict(pair[0]), load_state_dict(pair[1])
        source = f"{pair[0]} -> {pair[1]}"
    else:
        prev_sd, cur_sd = synthetic_pair()
    params = [k for k in cur_sd if tensor_role(k, cur_sd[k]) == "param"]
    cur, prev = flat_float32(cur_sd, params), flat_float32(prev_sd, params)
    if args.max_params:
        cur, prev = cur[: args.max_params], prev[: args.max_params]
    n = cur.size
    mb = 4 * n / 1e6
    raw = cur.tobytes()
    print(f"pair: {source}\nparams: {n} ({4 * n / 2**20:.1f} MiB float32), single thread, best of {args.repeats}\n")
    rows = []

    def add(name, kind, nbytes, enc_s, dec_s, bound_bits=None, max_err=0.0, rmse=0.0, note=""):
        rows.append({"method": name, "kind": kind, "bits_per_param": 8 * nbytes / n,
                     "entropy_bound": bound_bits / n if bound_bits is not None else "",
                     "enc_MBps": mb / enc_s if enc_s else "", "dec_MBps": mb / dec_s if dec_s else "",
                     "max_err": max_err, "rmse": rmse, "note": note})

    for method in args.methods:
        cfg = MethodConfig(method, args.step_bits)
        ref = None if method == "Float16" else prev
        enc_s, enc = best_time(lambda cfg=cfg, ref=ref: encode_stream(cur, ref, cfg), args.repeats)
        dec_s, out = best_time(lambda cfg=cfg, ref=ref, enc=enc: decode_stream(enc.sections, ref, n, cfg, enc.stats),
                               args.repeats)
        if method in LOSSLESS_METHODS:
            assert np.array_equal(out.view(np.uint32), cur.view(np.uint32)), method
        rmse, max_err = rmse_and_max(cur, out)
        size = sum(len(v) for v in enc.sections.values())
        add(method, "lossless" if method in LOSSLESS_METHODS else "lossy", size, enc_s, dec_s,
            8 * enc.stats["entropy_bound_bytes"], max_err, rmse, enc.stats["bound_name"])

    zc, zd = zstandard.ZstdCompressor(level=3), zstandard.ZstdDecompressor()
    enc_s, z = best_time(lambda: zc.compress(raw), args.repeats)
    dec_s, _ = best_time(lambda: zd.decompress(z), args.repeats)
    add("zstd-3 (raw)", "baseline", len(z), enc_s, dec_s, note="no reference")
    enc_s, z = best_time(lambda: lz4.frame.compress(raw), args.repeats)
    dec_s, _ = best_time(lambda: lz4.frame.decompress(z), args.repeats)
    add("lz4 (raw)", "baseline", len(z), enc_s, dec_s, note="no reference")
    planes = cur.view(np.uint8).reshape(-1, 4)

    def group_compress():
        return [zc.compress(np.ascontiguousarray(planes[:, k]).tobytes()) for k in range(4)]

    def group_decompress(parts):
        out = np.empty((n, 4), dtype=np.uint8)
        for k, part in enumerate(parts):
            out[:, k] = np.frombuffer(zd.decompress(part), dtype=np.uint8)
        return out

    enc_s, parts = best_time(group_compress, args.repeats)
    dec_s, _ = best_time(lambda: group_decompress(parts), args.repeats)
    plane_bound = entropy_bits(np.stack([np.bincount(planes[:, k], minlength=256) for k in range(4)]))
    add("byte grouping + zstd-3 (ZipNN-style)", "baseline", sum(map(len, parts)), enc_s, dec_s, plane_bound,
        note="no reference; bound H0 | 4 planes of raw bytes")

    # the paper's untyped coder, on a slice
    stream = np.frombuffer(raw, np.uint8)[:REFERENCE_SLICE_BYTES].tobytes()
    ref_s, coded = best_time(lambda: reference.reference_compress(stream), 1)
    fast_s, fast = best_time(lambda: arithmeticcoding.compress(stream), args.repeats)
    assert fast == coded
    ref_dec_s, _ = best_time(lambda: reference.reference_decompress(coded), 1)
    fast_dec_s, _ = best_time(lambda: arithmeticcoding.decompress(coded), args.repeats)
    speed = {"reference_enc_MBps": len(stream) / ref_s / 1e6, "reference_dec_MBps": len(stream) / ref_dec_s / 1e6,
             "typed_enc_MBps": len(stream) / fast_s / 1e6, "typed_dec_MBps": len(stream) / fast_dec_s / 1e6}
    speed["enc_speedup"] = speed["typed_enc_MBps"] / speed["reference_enc_MBps"]
    speed["dec_speedup"] = speed["typed_dec_MBps"] / speed["reference_dec_MBps"]

    header = f"{'method':40s} {'kind':9s} {'bits/param':>10s} {'bound':>8s} {'enc MB/s':>9s} {'dec MB/s':>9s} {'max err':>9s} {'rmse':>9s}"
    print(header)
    print("-" * len(header))
    for r in rows:
        bound = f"{r['entropy_bound']:8.3f}" if r["entropy_bound"] != "" else f"{'':8s}"
        print(f"{r['method']:40s} {r['kind']:9s} {r['bits_per_param']:10.3f} {bound} {r['enc_MBps']:9.1f} "
              f"{r['dec_MBps']:9.1f} {r['max_err']:9.2e} {r['rmse']:9.2e}")
    print(f"\nbit-compatible arithmetic coder on {len(stream)} bytes: typed {speed['typed_enc_MBps']:.1f} / "
          f"{speed['typed_dec_MBps']:.1f} MB/s (enc/dec) vs untyped pure Python {speed['reference_enc_MBps']:.3f} / "
          f"{speed['reference_dec_MBps']:.3f} MB/s: {speed['enc_speedup']:.0f}x / {speed['dec_speedup']:.0f}x faster, "
          "identical bytes")
    if args.output:
        rc.write_csv(args.output, rows, fieldnames=list(rows[0]))
        rc.write_json(os.path.splitext(args.output)[0] + ".json",
                      {"source": source, "n_params": n, "rows": rows, "reference_coder": speed})
        print(f"wrote {args.output}")
    return rows, speed


if __name__ == "__main__":
    rc.entry(main)
