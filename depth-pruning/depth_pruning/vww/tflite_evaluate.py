"""int8 accuracy of a pruned VWW run on the clean validation split (the original ``tflite_evaluate.py``).

The original evaluated on the augmenting generator and set ``dtype=tf.int8`` on it (bug 5); here the
validation files are read un-augmented, quantized with the model's input scale/zero point, and the argmax of
the int8 output is compared with the labels and with the float model's argmax.
"""

import argparse
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from depth_pruning import common


def get_args_parser(add_help=True):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help)
    parser.add_argument("run_dir", help="run folder holding model.h5 and <name>_int8.tflite")
    parser.add_argument("--data_dir", required=True, help="folder with person/ and non_person/")
    parser.add_argument("--color_mode", default="rgb", choices=["rgb", "grayscale"])
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def evaluate(args):
    from depth_pruning.quantization import evaluate_run
    from depth_pruning.vww import vww_data

    vww_data.check_vww_dir(Path(args.data_dir), verify_images=False)
    images, labels = vww_data.load_clean_split(Path(args.data_dir), args.color_mode)
    return evaluate_run(args.run_dir, images, labels, progress=not args.no_progress)


def main(argv=None):
    return common.run_main(evaluate, argv, get_args_parser())


if __name__ == "__main__":
    main()
