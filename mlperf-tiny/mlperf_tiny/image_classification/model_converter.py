"""Convert a trained ResNet-8 to TFLite: float32 and full-integer int8 with int8 I/O (v0.5 ``model_converter.py``).

    python -m mlperf_tiny.image_classification.model_converter --model_path runs/ic/trainedResnet.h5 --data_dir ...

Writes ``<name>.tflite`` (float) and ``<name>_quant.tflite`` (int8 in/out; input scale 1, zero point -128, i.e.
pixel - 128) into ``--out_dir`` (default: beside the model, as v0.5). Calibration (faithful default): the *test*
images at the indices of ``calibration_samples_idxs.npy`` (500 of them in the reference; the fidelity kit has the
file). Pass it with ``--calibration_idxs``; without it 500 indices are drawn with ``--calibration_seed`` and saved so
the run is reproducible. ``--calibrate_on train`` is the fix that calibrates on training images instead.

Fixed bug (not a numbers quirk, the reference crashes): v0.5 loads ``trained_models/<name>`` without ``.h5`` and
cuts 3 characters off the name; here ``--model_path`` is used as given and the name is its stem.
"""

from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.image_classification.test import load_model
from mlperf_tiny.image_classification.train import MODEL_FILE_NAME, load_cifar_10_data, load_cifar_10_test

NUM_CALIBRATION_SAMPLES = 500
CALIBRATION_IDXS_FILE = "calibration_samples_idxs.npy"
IDENTITY = ("model_path", "data_dir", "calibration_idxs", "calibrate_on", "num_calibration_samples",
            "calibration_seed")


def calibration_indices(num_images, idxs_path=None, num_samples=NUM_CALIBRATION_SAMPLES, seed=0):
    """Indices of the calibration images: the reference's file if given, else a seeded draw without repeats."""
    if idxs_path is not None:
        idxs_path = rc.require_file(idxs_path, "calibration index file")
        try:
            indices = np.asarray(np.load(idxs_path, allow_pickle=False)).astype(np.int64).ravel()
        except (ValueError, OSError) as err:
            raise rc.bad_file(idxs_path, f"not a .npy array of image indices ({err})") from None
        if not len(indices) or indices.min() < 0 or indices.max() >= num_images:
            raise rc.bad_file(idxs_path, f"indexes images {indices.min(initial=0)}..{indices.max(initial=0)} but "
                                         f"the calibration split has {num_images} images")
        return indices
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num_images, size=min(num_samples, num_images), replace=False))


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Convert ResNet-8 to float and int8 TFLite",
                               add_help=add_help, allow_abbrev=False)
    parser.add_argument("--model_path", default=f"trained_models/{MODEL_FILE_NAME}")
    parser.add_argument("--data_dir", default="cifar-10-batches-py")
    parser.add_argument("--out_dir", default=None, help="where the .tflite files go (default: the model's folder)")
    parser.add_argument("--calibration_idxs", default=None,
                        help=f"the reference's {CALIBRATION_IDXS_FILE} (indices into the calibration split)")
    parser.add_argument("--calibrate_on", choices=("test", "train"), default="test",
                        help="split the calibration images come from (reference: test)")
    parser.add_argument("--num_calibration_samples", type=rc.positive_int, default=NUM_CALIBRATION_SAMPLES)
    parser.add_argument("--calibration_seed", type=rc.nonnegative_int, default=0)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace TFLite files converted from another model or data in --out_dir")
    return parser


def convert(args):
    from mlperf_tiny.run_utils import claim_eval_dir
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    model_path = Path(args.model_path)
    model = load_model(model_path)
    if args.calibrate_on == "test":
        images = load_cifar_10_test(args.data_dir)[0]  # the reference calibrates on test images: test_batch suffices
    else:
        images = load_cifar_10_data(args.data_dir)[0]
    indices = calibration_indices(len(images), args.calibration_idxs, args.num_calibration_samples,
                                  args.calibration_seed)
    out_dir = Path(args.out_dir) if args.out_dir else model_path.parent
    claim_eval_dir(out_dir, "convert", args, IDENTITY, args.overwrite)
    with rc.atomic_path(out_dir / CALIBRATION_IDXS_FILE) as tmp:
        np.save(tmp, indices)
    calibration = images[indices].astype(np.float32)  # raw 0..255, like training
    float_path = save_tflite(convert_to_tflite(model, int8=False), out_dir / f"{model_path.stem}.tflite")
    quant_path = out_dir / f"{model_path.stem}_quant.tflite"
    save_tflite(convert_to_tflite(model, calibration, int8=True, int8_io=True), quant_path)
    rc.write_json(out_dir / "convert_args.json", {**vars(args), "num_calibration_images": len(indices),
                                                  "float_tflite_bytes": float_path.stat().st_size,
                                                  "int8_tflite_bytes": quant_path.stat().st_size})
    print(f"wrote {float_path} ({float_path.stat().st_size} B) and {quant_path} ({quant_path.stat().st_size} B), "
          f"calibrated on {len(indices)} {args.calibrate_on} images")
    return float_path, quant_path


@rc.command
def main(argv=None):
    convert(get_args_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    rc.entry(main)
