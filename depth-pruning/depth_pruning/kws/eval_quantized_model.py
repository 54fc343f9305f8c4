"""int8 accuracy of a pruned KWS run (the original ``eval_quantized_model.py``) on ``--target_set`` (test)."""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from depth_pruning import common


def get_args_parser(add_help=True):
    from mlperf_tiny.keyword_spotting import kws_util

    parser = kws_util.get_args_parser(add_help=add_help)
    parser.add_argument("--run_dir", required=True, help="run folder holding model.h5 and <name>_int8.tflite")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def evaluate(args):
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data

    from depth_pruning.quantization import evaluate_run

    features, labels = kws_data.get_eval_arrays(args, args.target_set)
    return evaluate_run(args.run_dir, features, labels, progress=not args.no_progress)


def main(argv=None):
    return common.run_main(evaluate, argv, get_args_parser())


if __name__ == "__main__":
    main()
