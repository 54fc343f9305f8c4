"""Convert a trained ResNet-8 to TFLite: float32 and full-integer int8 with int8 I/O (v0.5 ``model_converter.py``).

    python -m mlperf_tiny.image_classification.model_converter --model_path runs/ic/trainedResnet.h5 --data_dir ...

Writes ``<name>.tflite`` (float) and ``<name>_quant.tflite`` (int8 in/out; input scale 1, zero point -128, i.e.
pixel - 128) beside the model. Calibration (faithful default): the *test* images at the indices of
``calibration_samples_idxs.npy`` (500 of them in the reference). That file is not redistributed here: pass it with
``--calibration_idxs``; without it 500 indices are drawn with ``--calibration_seed`` and saved beside the model so
the run is reproducible. ``--calibrate_on train`` is the fix that calibrates on training images instead.

Fixed bug (not a numbers quirk, the reference crashes): v0.5 loads ``trained_models/<name>`` without ``.h5`` and
cuts 3 characters off the name; here ``--model_path`` is used as given and the name is its stem.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.image_classification.test import load_model
from mlperf_tiny.image_classification.train import MODEL_FILE_NAME, DatasetError, load_cifar_10_data
from mlperf_tiny.run_utils import run_cli

NUM_CALIBRATION_SAMPLES = 500
CALIBRATION_IDXS_FILE = "calibration_samples_idxs.npy"


def calibration_indices(num_images, idxs_path=None, num_samples=NUM_CALIBRATION_SAMPLES, seed=0):
    """Indices of the calibration images: the reference's file if given, else a seeded draw without repeats."""
    if idxs_path is not None:
        indices = np.load(idxs_path).astype(np.int64)
        if indices.max(initial=0) >= num_images:
            raise ValueError(f"{idxs_path} indexes image {indices.max()} but the set has {num_images} images")
        return indices
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num_images, size=min(num_samples, num_images), replace=False))


def get_args_parser(add_help=True):
    parser = argparse.ArgumentParser(description="Convert ResNet-8 to float and int8 TFLite",
                                     add_help=add_help, allow_abbrev=False)
    parser.add_argument("--model_path", default=f"trained_models/{MODEL_FILE_NAME}")
    parser.add_argument("--data_dir", default="cifar-10-batches-py")
    parser.add_argument("--calibration_idxs", default=None,
                        help=f"the reference's {CALIBRATION_IDXS_FILE} (indices into the calibration split)")
    parser.add_argument("--calibrate_on", choices=("test", "train"), default="test",
                        help="split the calibration images come from (reference: test)")
    parser.add_argument("--num_calibration_samples", type=int, default=NUM_CALIBRATION_SAMPLES)
    parser.add_argument("--calibration_seed", type=int, default=0)
    return parser


def convert(args):
    from mlperf_tiny.run_utils import write_json
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    train_data, _, _, test_data, _, _, _ = load_cifar_10_data(args.data_dir)
    images = test_data if args.calibrate_on == "test" else train_data
    indices = calibration_indices(len(images), args.calibration_idxs, args.num_calibration_samples,
                                  args.calibration_seed)
    model_path = Path(args.model_path)
    model = load_model(model_path)
    out_dir = model_path.parent
    np.save(out_dir / CALIBRATION_IDXS_FILE, indices)
    calibration = images[indices].astype(np.float32)  # raw 0..255, like training
    float_path = save_tflite(convert_to_tflite(model, int8=False), out_dir / f"{model_path.stem}.tflite")
    quant_path = out_dir / f"{model_path.stem}_quant.tflite"
    save_tflite(convert_to_tflite(model, calibration, int8=True, int8_io=True), quant_path)
    write_json(out_dir / "convert_args.json", {**vars(args), "num_calibration_images": len(indices),
                                               "float_tflite_bytes": float_path.stat().st_size,
                                               "int8_tflite_bytes": quant_path.stat().st_size})
    print(f"wrote {float_path} ({float_path.stat().st_size} B) and {quant_path} ({quant_path.stat().st_size} B), "
          f"calibrated on {len(indices)} {args.calibrate_on} images")
    return float_path, quant_path


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    return run_cli(convert, args, user_errors=(DatasetError, FileNotFoundError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
