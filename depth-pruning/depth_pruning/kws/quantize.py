"""Float and int8 TFLite of a pruned KWS run (the original ``depth-pruning/kws/quantize.py``).

Calibration on mlperf_tiny's 120-clip validation subset (``--cal_idxs_file`` = the reference
``quant_cal_idxs.txt``). The original reshaped calibration inputs to (1, 490), which fits only the flat LFBE
hardware model (bug 6); here they take the model's own input shape, so the MFCC 49x10x1 model works too.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc


def get_args_parser(add_help=True):
    from mlperf_tiny.keyword_spotting import kws_util

    parser = kws_util.get_args_parser(add_help=add_help)
    parser.add_argument("--run_dir", required=True, help="run folder of prune_kws_aux (holds model.h5)")
    return parser


def calibration_features(args, model):
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data

    splits = kws_data.raw_splits(args)
    if args.cal_idxs_file:
        indices = kws_data.read_calibration_indices(args.cal_idxs_file)
    else:
        labels = [int(y) for y in splits["validation"].map(lambda e: e["label"]).as_numpy_iterator()]
        indices = kws_data.make_calibration_indices(labels)
    features, _ = kws_data.features_of(args, kws_data.calibration_dataset(splits["validation"], indices))
    return features.reshape((len(features), *model.inputs[0].shape[1:]))


def convert(args):
    from depth_pruning.quantization import load_run_model, quantize_run

    return quantize_run(args.run_dir, calibration_features(args, load_run_model(args.run_dir)))


@rc.command
def main(argv=None):
    return convert(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
