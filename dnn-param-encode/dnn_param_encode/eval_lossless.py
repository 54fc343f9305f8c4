"""Lossless evaluation over epoch pairs (the paper's eval_lossless.py; --method is honoured here).

    python -m dnn_param_encode.eval_lossless --path-pt runs/.../checkpoints --learning-rate 0.01 \\
        --epoch-interval 1 --epoch-first 21 --epoch-last 30 --method ResEntropy ResPlaneANS ResIntDiffANS
"""

import run_contract as rc
from dnn_param_encode.compression import LOSSLESS_METHODS
from dnn_param_encode.eval_pairs import add_accuracy_flags, make_parser, run_pairs, score_last_decoded


def get_args_parser(add_help=True):
    return add_accuracy_flags(make_parser("Lossless residual coding of checkpoint pairs (bit-exact round trip "
                                          "checked)", LOSSLESS_METHODS, "ResEntropy", add_help))


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    _, summary, last_decoded = run_pairs(args, "lossless")
    for method, s in summary.items():
        print(f"{method}: {s['pairs']} pairs, mean {s['mean_bits_per_param']:.3f} bits/param "
              f"(bound {s['mean_entropy_bound']:.3f}), saving {s['mean_bit_saving_pct']:.2f}% [{s['dataset']}]")
    if args.data_path:
        score_last_decoded(args, "lossless", summary, last_decoded)
    return summary


if __name__ == "__main__":
    rc.entry(main)
