"""Evaluate the VWW models (Keras float, TFLite float, TFLite int8) on the validation split, EEMBC style.

    python -m mlperf_tiny.visual_wake_words.test_vww runs/vww/vww_96.h5 --data_dir data/vw_coco2014_96

v0.5 has no test script: its reported number is the training-time validation accuracy (on augmented images, see
``train_vww.py``). This script measures the same split (the first 10% of each class's sorted file names) without
augmentation, or ``--subset all`` (every image of a person/non_person folder, e.g. a held-out test set), or an
EEMBC folder given as ``--data_dir`` (``y_labels.csv`` + 96x96x3 ``.bin``). It evaluates the model (any file
``mlperf_tiny.model_io`` loads) and the ``<stem>_float.tflite`` / ``<stem>_int8.tflite`` written by
``convert_vww.py`` in ``--tflite_dir`` (default: beside the model; skipped when absent), and writes
``<tag>_metrics.json``, confusion and ROC PNGs and ``metrics.json`` into ``--out_dir`` (default
``runs/eval/vww/<model name>``, never the model's folder). A grayscale model (96x96x1) is evaluated on one-channel
images. Reference: ~85% (Silicon Labs: 85.4%, AUC 0.931).
"""

from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.run_utils import add_eval_output_args
from mlperf_tiny.visual_wake_words.train_vww import (
    CLASS_NAMES,
    COLOR_MODES,
    MODEL_FILE_NAME,
    VALIDATION_SPLIT,
    check_vww_dir,
    dataset_label,
    load_split,
)

IDENTITY = ("model_path", "tflite_dir", "data_dir", "subset", "validation_split")


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Evaluate the VWW models on the validation split",
                               add_help=add_help, allow_abbrev=False)
    parser.add_argument("model_path", nargs="?", default=f"trained_models/{MODEL_FILE_NAME}")
    parser.add_argument("--data_dir", default="vw_coco2014_96",
                        help="folder with person/ and non_person/, or an EEMBC folder (y_labels.csv)")
    parser.add_argument("--validation_split", type=rc.open_fraction, default=VALIDATION_SPLIT)
    parser.add_argument("--subset", choices=("validation", "training", "all"), default="validation",
                        help="all: every image of --data_dir (a held-out test folder)")
    parser.add_argument("--tflite_dir", default=None, help="folder of the .tflite files (default: the model's)")
    add_eval_output_args(parser, "vww")
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini or vww_coco2014_96)")
    parser.add_argument("--no_progress", action="store_true")
    return parser


def evaluation_images(args, channels):
    """(float images in [0, 1], labels, dataset label, split) of an EEMBC folder or the chosen subset."""
    from mlperf_tiny import eembc

    color_mode = next(mode for mode, count in COLOR_MODES.items() if count == channels)
    if (Path(args.data_dir) / eembc.LABELS_FILE).is_file():
        stimuli = eembc.load_stimuli(args.data_dir, "vww")
        images = eembc.grayscale(stimuli.raw) / np.float32(255) if channels == 1 else stimuli.x
        return images.astype(np.float32), stimuli.labels, args.dataset_name or "eembc_vww01", "eembc"
    check_vww_dir(args.data_dir, verify_images=False)
    if args.subset == "all":
        images, labels = load_split(args.data_dir, None, 0.0, color_mode=color_mode)
    else:
        images, labels = load_split(args.data_dir, args.subset, args.validation_split, color_mode=color_mode)
    if not len(labels):
        raise rc.RunFailed(f"the {args.subset} subset of {args.data_dir} holds no images: nothing to evaluate")
    return images, labels, dataset_label(args.data_dir, args.dataset_name), args.subset


def evaluate(args):
    from mlperf_tiny import model_io
    from mlperf_tiny.eval_functions_eembc import classification_report
    from mlperf_tiny.run_utils import claim_eval_dir, default_eval_dir

    model_path = Path(args.model_path)
    hint = "train one first (`make mlperf-vww`)"
    model = model_io.check_model_task(model_io.load_model(model_path, hint), "vww")
    tflite_dir = Path(args.tflite_dir) if args.tflite_dir else model_path.parent
    images, labels, dataset, split = evaluation_images(args, model.input_shape[-1])
    out_dir = Path(args.out_dir) if args.out_dir else default_eval_dir("vww", model_path)
    suffix = " (mini data)" if dataset == "mini" else ""
    common = {"dataset": dataset, "split": split, "augmented": False,
              "color_mode": "grayscale" if model.input_shape[-1] == 1 else "rgb"}
    claim_eval_dir(out_dir, "keras_float", args, IDENTITY, args.overwrite)
    probabilities = model.predict(images, batch_size=64)
    reference_argmax = probabilities.argmax(axis=1)
    results = {"keras_float": classification_report(probabilities, labels, list(CLASS_NAMES), out_dir, "keras_float",
                                                    {**common, "model": str(model_path), "model_kind": model.kind},
                                                    suffix)}
    for tag, path in (("tflite_float", tflite_dir / f"{model_path.stem}_float.tflite"),
                      ("tflite_int8", tflite_dir / f"{model_path.stem}_int8.tflite")):
        if not path.exists():
            print(f"skipping {tag}: no {path} (run convert_vww.py)")
            continue
        tflite = model_io.check_model_task(model_io.load_model(path), "vww")
        claim_eval_dir(out_dir, tag, args, IDENTITY, args.overwrite)
        probabilities = tflite.predict(images, progress=not args.no_progress)
        extra = {**common, "model": str(path), "size_bytes": tflite.size_bytes,
                 "input_dtype": np.dtype(tflite.input_dtype).name,
                 "output_dtype": np.dtype(tflite.tflite.output_dtype).name,
                 "argmax_agreement_with_keras": float(np.mean(probabilities.argmax(axis=1) == reference_argmax))}
        results[tag] = classification_report(probabilities, labels, list(CLASS_NAMES), out_dir, tag, extra, suffix)
    for tag, metrics in results.items():
        print(f"{tag}: accuracy {metrics['accuracy']:.2f}%, EEMBC AUC {metrics['auc']:.4f} on "
              f"{metrics['num_samples']} {dataset} {split} images -> {out_dir}")
    return results


@rc.command
def main(argv=None):
    evaluate(get_args_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    rc.entry(main)
