"""Float and int8 TFLite of a pruned VWW run (the original ``tflite_convert_quantize.py``).

Calibration as the original: the first 11 images of person/ (RGB or gray), 96x96, /255. Takes the run folder
itself (the original's quantize_vww.sh passed its parent and a path without ``v0.5/``; both fixed).
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

NUM_CALIBRATION_IMAGES = 11


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("run_dir", help="run folder of prune_vww_aux (holds model.h5)")
    parser.add_argument("--data_dir", required=True, help="folder with person/ and non_person/")
    parser.add_argument("--color_mode", default="rgb", choices=["rgb", "grayscale"])
    parser.add_argument("--num_calibration_images", type=rc.positive_int, default=NUM_CALIBRATION_IMAGES)
    return parser


def convert(args):
    from depth_pruning.quantization import quantize_run, require_run
    from depth_pruning.vww import vww_data

    require_run(args.run_dir)  # before the calibration images are read
    vww_data.check_data_dir(Path(args.data_dir), verify_images=False)
    samples = vww_data.calibration_images(Path(args.data_dir), args.color_mode, args.num_calibration_images)
    return quantize_run(args.run_dir, samples)


@rc.command
def main(argv=None):
    return convert(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
