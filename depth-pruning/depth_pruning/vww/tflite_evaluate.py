"""int8 accuracy of a pruned VWW run (the original ``tflite_evaluate.py``).

The original evaluated on the augmenting generator and set ``dtype=tf.int8`` on it (bug 5); here the images are
read un-augmented, quantized with the model's input scale/zero point, and the argmax of the int8 output is
compared with the labels and with the float model's argmax. Which images: ``--split validation`` (default) is
the run's own held-out 10% of ``--data_dir`` (the sweep's ``acc_int8``); ``--split all`` every image of the
folder (a separate test folder such as COCO minival); an EEMBC energyrunner folder (``y_labels.csv``, e.g. the
fidelity kit's ``vww01``) is read as such. Other sets than the run's own are recorded under ``evaluations``.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc
from mlperf_tiny.visual_wake_words.train_vww import VALIDATION_SPLIT


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("run_dir", help="run folder holding model.h5 and <name>_int8.tflite")
    parser.add_argument("--data_dir", required=True,
                        help="folder with person/ and non_person/, or an EEMBC folder (y_labels.csv + .bin)")
    parser.add_argument("--split", default="validation", choices=["validation", "all"],
                        help="validation: the held-out --validation_split of the folder, as in training; all: "
                             "every image (ignored for an EEMBC folder, which is evaluated whole)")
    parser.add_argument("--validation_split", type=rc.float_range(0, 1, lo_open=True, hi_open=True),
                        default=VALIDATION_SPLIT, help="held-out fraction used in training (default 0.1)")
    parser.add_argument("--color_mode", default="rgb", choices=["rgb", "grayscale"])
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def load_eval_set(data_dir, color_mode, split, validation_split=VALIDATION_SPLIT):
    """(images in [0, 1], labels, what they are, whether they are the run's own validation split)."""
    from mlperf_tiny import eembc

    from depth_pruning.vww import vww_data

    data_dir = Path(data_dir)
    if (data_dir / eembc.LABELS_FILE).is_file():
        stimuli = eembc.load_stimuli(data_dir, "vww")
        rgb = np.stack(stimuli.raw)
        images = eembc.grayscale(rgb) if color_mode == "grayscale" else rgb
        return images.astype(np.float32) / 255.0, stimuli.labels, f"EEMBC folder {data_dir}", False
    vww_data.check_data_dir(data_dir, verify_images=False)
    if split == "all":
        images, labels = vww_data.load_clean_split(data_dir, color_mode, subset="training", validation_split=0.0)
        return images, labels, f"every image of {data_dir}", False
    images, labels = vww_data.load_clean_split(data_dir, color_mode, validation_split=validation_split)
    primary = validation_split == VALIDATION_SPLIT
    return images, labels, f"validation split {validation_split:g} of {data_dir}", primary


def evaluate(args):
    from depth_pruning.quantization import evaluate_run, require_run

    require_run(args.run_dir, int8=True)  # before the images are read
    images, labels, eval_set, primary = load_eval_set(args.data_dir, args.color_mode, args.split,
                                                      args.validation_split)
    return evaluate_run(args.run_dir, images, labels, eval_set, primary=primary, progress=not args.no_progress)


@rc.command
def main(argv=None):
    return evaluate(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
