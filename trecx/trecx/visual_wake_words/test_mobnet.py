"""Evaluate trained T-RECX / baseline MobileNetV1-0.25 models on Visual Wake Words (original ``test_mobnet.py``).

    python -m trecx.visual_wake_words.test_mobnet --data_dir data/vw_coco2014_96 --out_dir runs/trecx/vww [--tflite]

For each model under --out_dir: standalone accuracy of both exits, per-sample traces in the original format, the
rho sweep (``score >= rho``; ``--strict_exit`` for ``>``), the 1/2/3-point trade-offs against the plain MobileNet
(``train_mobnet vww_96 mobilenet_v1``) and ``results/Fig4c.png`` (EV vs no EV). When no early-exit model is
trained the run fails (exit 1) and writes nothing.

Which images: ``--split all`` (default) evaluates every image of ``--data_dir`` (a test folder such as the COCO
minival the original tested on, 4,448 images built by its own script); ``--split validation`` the un-augmented
held-out ``--validation_split`` of a training folder (``vw_coco2014_96``: what the make pipeline trains on, so it
evaluates the 10% the models did not train on). ``--data_dir`` may also be an EEMBC energyrunner folder
(``y_labels.csv`` + .bin, e.g. the fidelity kit's ``vww01``). The metrics name the set.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

MODELS = {
    "model_with_ev_assist": ("mobnet_ev", "T-RECX (EE + EV)"),
    "model_without_ev_assist": ("mobnet_noev", "EE, no EV"),
}
BASELINE = ("vww_96", "mobilenet_v1")
FIGURES = {"Fig4c": ("model_with_ev_assist", "model_without_ev_assist")}
PAPER_BASELINE = {"accuracy": 0.8581, "mflops": 15.69}  # Config.py: unmodified MobileNetV1-0.25 on minival


def get_args_parser(add_help=True):
    from mlperf_tiny.visual_wake_words import train_vww as vww

    from trecx import helpers

    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--data_dir", default="vw_coco2014_96",
                        help="folder with person/ and non_person/ (or an EEMBC folder: y_labels.csv + .bin)")
    parser.add_argument("--split", default="all", choices=("all", "validation"),
                        help="all: every image of --data_dir; validation: its held-out --validation_split, as in "
                             "training")
    parser.add_argument("--validation_split", type=rc.float_range(0, 1, lo_open=True), default=vww.VALIDATION_SPLIT,
                        help="the held-out fraction with --split validation (as in training; 1 = every image)")
    parser.add_argument("--num_test_samples", type=rc.int_range(-1), default=-1,
                        help="use only the first N test images (-1: all)")
    helpers.test_flags(parser)
    return parser


def load_test_set(args):
    """(images in [0, 1], labels, dataset label, what the set is)."""
    from mlperf_tiny.visual_wake_words import train_vww as vww

    from trecx import helpers

    rc.check(args.num_test_samples != 0, "--num_test_samples 0 would evaluate nothing (-1: all)")
    eembc = helpers.eembc_test_set(args.data_dir, "vww")
    if eembc is not None:
        images, labels, dataset, test_set = eembc
    else:
        try:
            vww.check_vww_dir(args.data_dir, verify_images=False)
        except vww.DatasetError as err:
            raise rc.UsageError(str(err)) from None
        dataset = vww.dataset_label(args.data_dir)
        if args.split == "all" or args.validation_split >= 1:
            images, labels = vww.load_split(args.data_dir, "training", 0.0)
            test_set = f"every image of {args.data_dir}"
        else:
            images, labels = vww.load_split(args.data_dir, "validation", args.validation_split)
            test_set = f"validation split {args.validation_split:g} of {args.data_dir} (held out in training)"
    if args.num_test_samples > 0:
        images, labels = images[: args.num_test_samples], labels[: args.num_test_samples]
        test_set += f", first {len(labels)}"
    return images, labels, dataset, test_set


def evaluate(args):
    from mlperf_tiny.visual_wake_words import train_vww as vww

    from trecx import helpers

    images, labels, dataset, test_set = load_test_set(args)
    return helpers.evaluate_task(args, images, labels, MODELS, BASELINE, FIGURES, "MobileNetV1-0.25 / VWW", dataset,
                                 test_set, len(vww.CLASS_NAMES), calibration=images[:100])


@rc.command
def main(argv=None):
    return evaluate(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
