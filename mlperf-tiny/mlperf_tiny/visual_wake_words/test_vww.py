"""Evaluate the VWW models (Keras float, TFLite float, TFLite int8) on the validation split, EEMBC style.

    python -m mlperf_tiny.visual_wake_words.test_vww runs/vww/vww_96.h5 --data_dir data/vw_coco2014_96

v0.5 has no test script: its reported number is the training-time validation accuracy (on augmented images, see
``train_vww.py``). This script measures the same split (the first 10% of each class's sorted file names)
without augmentation, for the Keras model and the ``<stem>_float.tflite`` / ``<stem>_int8.tflite`` written by
``convert_vww.py`` (skipped when absent), and writes ``<tag>_metrics.json``, confusion and ROC PNGs and
``metrics.json`` beside the model. A grayscale model (96x96x1) is evaluated on one-channel images (the colour
mode follows the Keras model's input). Reference: ~85% (Silicon Labs: 85.4%, AUC 0.931).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.run_utils import run_cli
from mlperf_tiny.visual_wake_words.train_vww import (
    CLASS_NAMES,
    MODEL_FILE_NAME,
    VALIDATION_SPLIT,
    DatasetError,
    check_vww_dir,
    color_mode_of,
    dataset_label,
    load_split,
)


def get_args_parser(add_help=True):
    parser = argparse.ArgumentParser(description="Evaluate the VWW models on the validation split",
                                     add_help=add_help, allow_abbrev=False)
    parser.add_argument("model_path", nargs="?", default=f"trained_models/{MODEL_FILE_NAME}")
    parser.add_argument("--data_dir", default="vw_coco2014_96")
    parser.add_argument("--validation_split", type=float, default=VALIDATION_SPLIT)
    parser.add_argument("--subset", choices=("validation", "training"), default="validation")
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini or vww_coco2014_96)")
    parser.add_argument("--no_progress", action="store_true")
    return parser


def evaluate(args):
    import tensorflow as tf

    from mlperf_tiny.eval_functions_eembc import classification_report
    from mlperf_tiny.tflite_utils import TFLiteModel

    model_path = Path(args.model_path)
    if not model_path.exists():
        raise FileNotFoundError(f"no model at {model_path}: train one first (`make mlperf-vww`)")
    check_vww_dir(args.data_dir, verify_images=False)
    keras_model = tf.keras.models.load_model(str(model_path))
    color_mode = color_mode_of(keras_model)
    images, labels = load_split(args.data_dir, args.subset, args.validation_split, color_mode=color_mode)
    dataset = dataset_label(args.data_dir, args.dataset_name)
    suffix = " (mini data)" if dataset == "mini" else ""
    common = {"dataset": dataset, "split": args.subset, "augmented": False, "color_mode": color_mode}
    keras_probabilities = keras_model.predict(images, batch_size=64, verbose=0)
    keras_argmax = keras_probabilities.argmax(axis=1)
    results = {"keras_float": classification_report(keras_probabilities, labels, list(CLASS_NAMES), model_path.parent,
                                                    "keras_float", {**common, "model": str(model_path)}, suffix)}
    for tag, path in (("tflite_float", model_path.with_name(f"{model_path.stem}_float.tflite")),
                      ("tflite_int8", model_path.with_name(f"{model_path.stem}_int8.tflite"))):
        if not path.exists():
            print(f"skipping {tag}: no {path} (run convert_vww.py)")
            continue
        tflite = TFLiteModel(model_path=path)
        probabilities = tflite.predict(images, progress=not args.no_progress)
        extra = {**common, "model": str(path), "size_bytes": tflite.size_bytes,
                 "input_dtype": np.dtype(tflite.input_dtype).name, "output_dtype": np.dtype(tflite.output_dtype).name,
                 "argmax_agreement_with_keras": float(np.mean(probabilities.argmax(axis=1) == keras_argmax))}
        results[tag] = classification_report(probabilities, labels, list(CLASS_NAMES), model_path.parent, tag, extra,
                                             suffix)
    for tag, metrics in results.items():
        print(f"{tag}: accuracy {metrics['accuracy']:.2f}%, EEMBC AUC {metrics['auc']:.4f} on "
              f"{metrics['num_samples']} {dataset} {args.subset} images")
    return results


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    return run_cli(evaluate, args, user_errors=(DatasetError, FileNotFoundError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
