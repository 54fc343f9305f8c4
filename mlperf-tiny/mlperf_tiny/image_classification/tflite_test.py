"""Evaluate the float and int8 TFLite ResNet-8 on the CIFAR-10 test set with ai_edge_litert (v0.5 ``tflite_test.py``).

    python -m mlperf_tiny.image_classification.tflite_test --model_path runs/ic/trainedResnet.h5 --data_dir ...

For each of ``<name>.tflite`` and ``<name>_quant.tflite`` (in ``--tflite_dir``, default the Keras model's folder):
EEMBC top-1 accuracy and AUC, the confusion matrix and ROC PNGs, and the agreement of its argmax with the Keras
model when that exists (``tflite_float_metrics.json`` / ``tflite_int8_metrics.json``, merged into ``metrics.json``
in ``--out_dir``, default ``runs/eval/ic/<model name>``). A missing file is skipped with a message; none at all is
a failure. ``--data_dir`` needs only ``test_batch``, or may be an EEMBC folder. Reference (Silicon Labs): 86.1%
int8, AUC 0.988.
"""

from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.image_classification import test as ic_test
from mlperf_tiny.image_classification.train import MODEL_FILE_NAME

IDENTITY = ("model_path", "tflite_dir", "data_dir")


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Evaluate the TFLite ResNet-8 models",
                               add_help=add_help, allow_abbrev=False)
    parser.add_argument("--model_path", default=f"trained_models/{MODEL_FILE_NAME}",
                        help="the Keras model; the .tflite files are found by its name")
    parser.add_argument("--tflite_dir", default=None, help="folder of the .tflite files (default: the model's)")
    parser.add_argument("--data_dir", default="cifar-10-batches-py",
                        help="folder with test_batch (CIFAR-10 python version) or an EEMBC folder (y_labels.csv)")
    ic_test.add_output_args(parser)
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def evaluate(args):
    from mlperf_tiny import model_io
    from mlperf_tiny.eval_functions_eembc import classification_report
    from mlperf_tiny.run_utils import claim_eval_dir, default_eval_dir

    model_path = Path(args.model_path)
    tflite_dir = Path(args.tflite_dir) if args.tflite_dir else model_path.parent
    candidates = (("tflite_float", tflite_dir / f"{model_path.stem}.tflite"),
                  ("tflite_int8", tflite_dir / f"{model_path.stem}_quant.tflite"))
    present = [(tag, path) for tag, path in candidates if path.exists()]
    if not present:
        raise rc.RunFailed(f"no TFLite model to evaluate: neither {candidates[0][1]} nor {candidates[1][1]} exists; "
                           f"run model_converter first (convert_to_tflite.sh)")
    models = {tag: model_io.check_model_task(model_io.load_model(path), "ic") for tag, path in present}
    images, labels, names, dataset, split = ic_test.evaluation_images(args.data_dir, args.dataset_name)
    out_dir = Path(args.out_dir) if args.out_dir else default_eval_dir("ic", model_path)
    keras_argmax = None
    if model_path.exists():
        keras_argmax = ic_test.load_model(model_path).predict(images, batch_size=256, verbose=0).argmax(axis=1)
    results = {}
    for tag, path in candidates:
        if tag not in models:
            print(f"skipping {tag}: no {path} (run model_converter)")
            continue
        claim_eval_dir(out_dir, tag, {**vars(args), "tflite": str(path)}, (*IDENTITY, "tflite"), args.overwrite)
        loaded = models[tag]
        probabilities = loaded.predict(images, progress=not args.no_progress)
        extra = {"dataset": dataset, "model": str(path), "split": split, "size_bytes": loaded.size_bytes,
                 "input_dtype": np.dtype(loaded.input_dtype).name,
                 "output_dtype": np.dtype(loaded.tflite.output_dtype).name}
        if keras_argmax is not None:
            extra["argmax_agreement_with_keras"] = float(np.mean(probabilities.argmax(axis=1) == keras_argmax))
        results[tag] = classification_report(probabilities, labels, names, out_dir, tag, extra=extra,
                                             title_suffix=" (mini data)" if dataset == "mini" else "")
        print(f"{tag}: accuracy {results[tag]['accuracy']:.2f}%, EEMBC AUC {results[tag]['auc']:.4f} "
              f"({loaded.size_bytes} B) -> {out_dir}")
    return results


@rc.command
def main(argv=None):
    evaluate(get_args_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    rc.entry(main)
