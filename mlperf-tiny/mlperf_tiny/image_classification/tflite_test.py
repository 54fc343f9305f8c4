"""Evaluate the float and int8 TFLite ResNet-8 on the CIFAR-10 test set with ai_edge_litert (v0.5 ``tflite_test.py``).

    python -m mlperf_tiny.image_classification.tflite_test --model_path runs/ic/trainedResnet.h5 --data_dir ...

For each of ``<name>.tflite`` and ``<name>_quant.tflite`` beside the model: EEMBC top-1 accuracy and AUC, the
confusion matrix and ROC PNGs, and the agreement of its argmax with the Keras model when that exists
(``tflite_float_metrics.json`` / ``tflite_int8_metrics.json``, merged into ``metrics.json``).
Reference (Silicon Labs): 86.1% int8, AUC 0.988.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.image_classification.train import (
    MODEL_FILE_NAME,
    DatasetError,
    dataset_label,
    label_names_str,
    load_cifar_10_data,
)
from mlperf_tiny.run_utils import run_cli


def get_args_parser(add_help=True):
    parser = argparse.ArgumentParser(description="Evaluate the TFLite ResNet-8 models",
                                     add_help=add_help, allow_abbrev=False)
    parser.add_argument("--model_path", default=f"trained_models/{MODEL_FILE_NAME}",
                        help="the Keras model; the .tflite files are found beside it by name")
    parser.add_argument("--data_dir", default="cifar-10-batches-py")
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini or cifar10)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def evaluate(args):
    from mlperf_tiny.eval_functions_eembc import classification_report
    from mlperf_tiny.tflite_utils import TFLiteModel

    model_path = Path(args.model_path)
    out_dir = model_path.parent
    _, _, _, test_data, _, test_labels, label_names = load_cifar_10_data(args.data_dir)
    dataset = dataset_label(args.data_dir, args.dataset_name)
    x = test_data.astype(np.float32)
    keras_argmax = None
    if model_path.exists():
        from mlperf_tiny.image_classification.test import load_model

        keras_argmax = load_model(model_path).predict(x, batch_size=256, verbose=0).argmax(axis=1)
    results = {}
    for tag, path in (("tflite_float", out_dir / f"{model_path.stem}.tflite"),
                      ("tflite_int8", out_dir / f"{model_path.stem}_quant.tflite")):
        if not path.exists():
            raise FileNotFoundError(f"no {path}: run model_converter first (convert_to_tflite.sh)")
        tflite = TFLiteModel(model_path=path)
        probabilities = tflite.predict(x, progress=not args.no_progress)
        extra = {"dataset": dataset, "model": str(path), "split": "test", "size_bytes": tflite.size_bytes,
                 "input_dtype": np.dtype(tflite.input_dtype).name, "output_dtype": np.dtype(tflite.output_dtype).name}
        if keras_argmax is not None:
            extra["argmax_agreement_with_keras"] = float(np.mean(probabilities.argmax(axis=1) == keras_argmax))
        results[tag] = classification_report(probabilities, test_labels, label_names_str(label_names), out_dir, tag,
                                             extra=extra, title_suffix=" (mini data)" if dataset == "mini" else "")
        print(f"{tag}: accuracy {results[tag]['accuracy']:.2f}%, EEMBC AUC {results[tag]['auc']:.4f} "
              f"({tflite.size_bytes} B)")
    return results


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    return run_cli(evaluate, args, user_errors=(DatasetError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
