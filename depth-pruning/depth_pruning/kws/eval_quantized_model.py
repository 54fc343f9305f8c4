"""int8 accuracy of a pruned KWS run (the original ``eval_quantized_model.py``) on ``--target_set`` (test).

``--data_dir`` may also be an EEMBC energyrunner folder (``y_labels.csv`` + .bin, e.g. the fidelity kit's
``kws01`` int8 MFCCs or ``kws01-open/td_samples`` audio), evaluated whole. The test split gives the sweep's
``acc_int8``; other sets are recorded under ``evaluations`` in the run's result.json.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc


def get_args_parser(add_help=True):
    from mlperf_tiny.keyword_spotting import kws_util

    parser = kws_util.get_args_parser(add_help=add_help)
    parser.add_argument("--run_dir", required=True, help="run folder holding model.h5 and <name>_int8.tflite")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def load_eval_set(args):
    """(features, labels, what they are, whether they are the sweep's own set: the test split)."""
    from mlperf_tiny import eembc
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data

    data_dir = Path(args.data_dir)
    if (data_dir / eembc.LABELS_FILE).is_file():
        stimuli = eembc.load_stimuli(data_dir, "kws", progress=False if args.no_progress else None)
        return stimuli.x, stimuli.labels, f"EEMBC folder {data_dir} ({stimuli.format})", False
    features, labels = kws_data.get_eval_arrays(args, args.target_set)
    return features, labels, f"{args.target_set} split of {data_dir}", args.target_set == "test"


def evaluate(args):
    from depth_pruning.quantization import evaluate_run, require_run

    require_run(args.run_dir, int8=True)  # before the clips are read
    features, labels, eval_set, primary = load_eval_set(args)
    return evaluate_run(args.run_dir, features, labels, eval_set, primary=primary, progress=not args.no_progress)


@rc.command
def main(argv=None):
    return evaluate(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
