"""Lossless evaluation over epoch pairs (the paper's eval_lossless.py; --method is honoured here).

    python -m dnn_param_encode.eval_lossless --path-pt runs/.../checkpoints --learning-rate 0.01 \
        --epoch-interval 1 --epoch-first 21 --epoch-last 30 --method ResEntropy ResPlaneANS ResIntDiffANS
"""

from dnn_param_encode.compression import LOSSLESS_METHODS
from dnn_param_encode.eval_pairs import make_parser, run_pairs


def get_args_parser(add_help=True):
    return make_parser("Lossless residual coding of checkpoint pairs (bit-exact round trip checked)",
                       LOSSLESS_METHODS, "ResEntropy", add_help)


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    rows, summary, _ = run_pairs(args, "lossless")
    for method, s in summary.items():
        print(f"{method}: {s['pairs']} pairs, mean {s['mean_bits_per_param']:.3f} bits/param "
              f"(bound {s['mean_entropy_bound']:.3f}), saving {s['mean_bit_saving_pct']:.2f}% [{s['dataset']}]")
    return summary


if __name__ == "__main__":
    main()
