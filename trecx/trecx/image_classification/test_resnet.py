"""Evaluate trained T-RECX / baseline ResNet-8 models on the CIFAR-10 test set (original ``test_resnet.py``).

For each model found under --out_dir: standalone accuracy of every exit, per-sample traces
(``trace_data/trace_data_model_<name>_ee.json`` / ``_ef.json``), the rho sweep (exit rule ``score >= rho``,
``--strict_exit`` for the original ``>``), the 1/2/3-point trade-offs against the baseline, and the plots
``results/Fig4a.png`` (EV vs no EV) and ``results/Fig7a.png`` (T-RECX vs SDN vs BranchyNet), all into
``--out_dir``. Models that were not trained are skipped with a message (the original crashed on a missing
baseline-EE model); when none is trained, the run fails (exit 1) and writes nothing.

Data: the CIFAR-10 ``test_batch`` alone is enough (no training batches needed); ``--data_dir`` may also be an
EEMBC energyrunner folder (``y_labels.csv`` + .bin, e.g. the fidelity kit's ``ic01``).
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

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
    from trecx import helpers

    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--data_dir", default="cifar-10-batches-py",
                        help="folder with the CIFAR-10 test_batch (or an EEMBC folder: y_labels.csv + .bin)")
    parser.add_argument("--num_test_samples", type=rc.int_range(-1), default=-1,
                        help="use only the first N test images (-1: all)")
    parser.add_argument("--get_trace", action="store_true", help="accepted for compatibility: traces are always written")
    helpers.test_flags(parser)
    return parser


FIGURES = {"Fig4a": ("model_with_ev_assist", "model_without_ev_assist"),
           "Fig7a": ("model_with_ev_assist", "model_sdn", "model_branchynet")}


def load_test_set(data_dir, num_test_samples=-1):
    """(float images 0..255, labels, dataset label, what the set is, number of classes)."""
    from mlperf_tiny.image_classification import train as ic

    from trecx import helpers

    rc.check(num_test_samples != 0, "--num_test_samples 0 would evaluate nothing (-1: all)")
    eembc = helpers.eembc_test_set(data_dir, "ic")
    if eembc is not None:
        x, y, dataset, test_set = eembc
        num_classes = 10
    else:
        x, y_onehot, label_names, _ = ic.load_cifar_10_test(data_dir)
        x, y, num_classes = x.astype(np.float32), y_onehot.argmax(1), len(label_names)
        dataset, test_set = ic.dataset_label(data_dir), f"CIFAR-10 test_batch of {data_dir}"
    if num_test_samples > 0:
        x, y = x[:num_test_samples], y[:num_test_samples]
        test_set += f", first {len(y)}"
    return x, y, dataset, test_set, num_classes


def evaluate(args):
    from trecx import helpers

    x_test, y_test, dataset, test_set, num_classes = load_test_set(args.data_dir, args.num_test_samples)
    return helpers.evaluate_task(args, x_test, y_test, MODELS, BASELINE, FIGURES, "ResNet-8 / CIFAR-10", dataset,
                                 test_set, num_classes, calibration=x_test[:100])


@rc.command
def main(argv=None):
    return evaluate(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
