"""Evaluate trained T-RECX / baseline MobileNetV1-0.25 models on Visual Wake Words (original ``test_mobnet.py``).

    python -m trecx.visual_wake_words.test_mobnet --data_dir data/vw_coco2014_96 --out_dir runs/trecx/vww [--tflite]

For each model under --out_dir: standalone accuracy of both exits, per-sample traces in the original format, the
rho sweep (``score >= rho``; ``--strict_exit`` for ``>``), the 1/2/3-point trade-offs against the plain MobileNet
(``train_mobnet vww_96 mobilenet_v1``) and ``results/Fig4c.png`` (EV vs no EV). The original tested on COCO
minival (4,448 images, built by its own script); here the un-augmented 10% validation split of
``vw_coco2014_96`` (``mlperf_tiny.visual_wake_words.train_vww.load_split``) is the test set.
"""

import argparse
import sys

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.run_utils import run_cli

MODELS = {
    "model_with_ev_assist": ("mobnet_ev", "T-RECX (EE + EV)"),
    "model_without_ev_assist": ("mobnet_noev", "EE, no EV"),
}
BASELINE = ("vww_96", "mobilenet_v1")
FIGURES = {"Fig4c": ("model_with_ev_assist", "model_without_ev_assist")}
PAPER_BASELINE = {"accuracy": 0.8581, "mflops": 15.69}  # Config.py: unmodified MobileNetV1-0.25 on minival


def get_args_parser(add_help=True):
    from mlperf_tiny.visual_wake_words import train_vww as vww

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--data_dir", default="vw_coco2014_96", help="folder with person/ and non_person/")
    parser.add_argument("--out_dir", default="trained_models", help="folder holding the run folders of train_mobnet")
    parser.add_argument("--validation_split", type=float, default=vww.VALIDATION_SPLIT,
                        help="the split used as test set (as in training)")
    parser.add_argument("--num_test_samples", type=int, default=-1, help="use only the first N test images")
    parser.add_argument("--strict_exit", action="store_true", help="exit when score > rho (original code)")
    parser.add_argument("--tflite", action="store_true",
                        help="also export T-RECX as two int8 TFLite parts and report the measured dynamic-exit run")
    return parser


def evaluate(args):
    from mlperf_tiny.visual_wake_words import train_vww as vww

    from trecx import helpers

    vww.check_vww_dir(args.data_dir, verify_images=False)
    images, labels = vww.load_split(args.data_dir, "validation", args.validation_split)
    if args.num_test_samples > 0:
        images, labels = images[: args.num_test_samples], labels[: args.num_test_samples]
    return helpers.evaluate_task(args.out_dir, images, labels, MODELS, BASELINE, FIGURES,
                                 "MobileNetV1-0.25 / VWW", vww.dataset_label(args.data_dir), len(vww.CLASS_NAMES),
                                 strict=args.strict_exit, tflite=args.tflite, calibration=images[:100])


def main(argv=None):
    from mlperf_tiny.visual_wake_words.train_vww import DatasetError

    args = get_args_parser().parse_args(argv)
    return run_cli(evaluate, args, user_errors=(DatasetError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
