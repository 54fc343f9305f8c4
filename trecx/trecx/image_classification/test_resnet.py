"""Evaluate trained T-RECX / baseline ResNet-8 models on the CIFAR-10 test set (original ``test_resnet.py``).

For each model found under --out_dir: standalone accuracy of every exit, per-sample traces
(``trace_data/trace_data_model_<name>_ee.json`` / ``_ef.json``), the rho sweep (exit rule ``score >= rho``,
``--strict_exit`` for the original ``>``), the 1/2/3-point trade-offs against the baseline, and the plots
``results/Fig4a.png`` (EV vs no EV) and ``results/Fig7a.png`` (T-RECX vs SDN vs BranchyNet), all into
``--out_dir``. Models that were not trained are skipped with a message (the original crashed on a missing
baseline-EE model).
"""

import argparse
import sys

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
from mlperf_tiny.run_utils import run_cli

# run folder name -> (architecture, label in plots); the names the original train_resnet.sh used.
MODELS = {
    "model_with_ev_assist": ("resnet_ev", "T-RECX (EE + EV)"),
    "model_without_ev_assist": ("resnet_noev", "EE, no EV"),
    "model_sdn": ("resnet_sdn", "SDN"),
    "model_branchynet": ("resnet_branchynet", "BranchyNet"),
    "model_baselineEE": ("resnet_baselineEE", "baseline EE"),
}
BASELINE = ("trainedResnet", "resnet_v1_eembc")
PAPER_BASELINE = {"accuracy": 0.872, "mflops": 25.28}  # Table 1, unmodified ResNet-8 on real CIFAR-10


def get_args_parser(add_help=True):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--data_dir", default="cifar-10-batches-py", help="folder with the CIFAR-10 python pickles")
    parser.add_argument("--out_dir", default="trained_models", help="folder holding the run folders of train_resnet")
    parser.add_argument("--num_test_samples", type=int, default=-1, help="use only the first N test images")
    parser.add_argument("--strict_exit", action="store_true", help="exit when score > rho (original code)")
    parser.add_argument("--get_trace", action="store_true", help="accepted for compatibility: traces are always written")
    parser.add_argument("--tflite", action="store_true",
                        help="also export T-RECX as two int8 TFLite parts and report the measured dynamic-exit run")
    return parser


FIGURES = {"Fig4a": ("model_with_ev_assist", "model_without_ev_assist"),
           "Fig7a": ("model_with_ev_assist", "model_sdn", "model_branchynet")}


def evaluate(args):
    from mlperf_tiny.image_classification import train as ic

    from trecx import helpers

    _, _, _, x_test, _, y_test, label_names = ic.load_cifar_10_data(args.data_dir)
    if args.num_test_samples > 0:
        x_test, y_test = x_test[: args.num_test_samples], y_test[: args.num_test_samples]
    x_test = x_test.astype(np.float32)
    return helpers.evaluate_task(args.out_dir, x_test, y_test.argmax(1), MODELS, BASELINE, FIGURES,
                                 "ResNet-8 / CIFAR-10", ic.dataset_label(args.data_dir), len(label_names),
                                 strict=args.strict_exit, tflite=args.tflite, calibration=x_test[:100])


def main(argv=None):
    from mlperf_tiny.image_classification.train import DatasetError

    args = get_args_parser().parse_args(argv)
    return run_cli(evaluate, args, user_errors=(DatasetError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
