"""Lossy evaluation over epoch pairs in closed loop (the paper's eval_lossy.py), plus the accuracy of the
last decoded model against the original when --data-path is given (top-1 for resnet, COCO mAP for yolo).

    python -m dnn_param_encode.eval_lossy --path-pt ... --learning-rate 0.001 --epoch-interval 3 \\
        --epoch-first 61 --epoch-last 90 --method ResEntropy16bits ResRoundANS --data-path data/imagenet
"""

import run_contract as rc
from dnn_param_encode.compression import LOSSY_METHODS
from dnn_param_encode.eval_pairs import add_accuracy_flags, make_parser, run_pairs, score_last_decoded


def get_args_parser(add_help=True):
    return add_accuracy_flags(make_parser("Lossy closed-loop residual coding of checkpoint pairs", LOSSY_METHODS,
                                          "ResEntropy16bits", add_help))


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    _, summary, last_decoded = run_pairs(args, "lossy")
    return score_last_decoded(args, "lossy", summary, last_decoded)


if __name__ == "__main__":
    rc.entry(main)
