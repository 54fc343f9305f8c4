"""Convert a trained VWW MobileNet to TFLite: float32 and full-integer int8 with int8 I/O (v0.5 ``convert_vww.py``).

    python -m mlperf_tiny.visual_wake_words.convert_vww runs/vww/vww_96.h5 --data_dir data/vw_coco2014_96

Writes ``<stem>_float.tflite`` and ``<stem>_int8.tflite`` (input scale 1/255, zero point -128, i.e. pixel - 128)
beside the model, and ``calibration_data.txt`` listing the calibration images.

Calibration (faithful default): the first 11 images of ``person/`` only, decoded, resized to 96x96 and divided by
255. The reference takes them in ``os.listdir`` order, which depends on the file system; here the names are
sorted so the result is reproducible. ``--calibration_file`` reuses a list (e.g. the reference's
``calibration_data.txt``); ``--calibration_classes person non_person`` / ``--num_calibration_images`` widen the set.
Sorted, the first files are validation images (``train_vww`` validates on the first 10% of each class);
``--calibrate_on train`` (fix) takes ``--num_calibration_images`` evenly spaced files of each class's training
split instead. A grayscale model (96x96x1, ``train_vww --color_mode grayscale``) is calibrated on one-channel
decodes of the same files; the colour mode follows the model's input unless ``--color_mode`` is given.
"""

from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.visual_wake_words.train_vww import (
    COLOR_MODES,
    IMAGE_EXTENSIONS,
    IMAGE_SIZE,
    MODEL_FILE_NAME,
    VALIDATION_SPLIT,
    check_vww_dir,
    color_mode_of,
    image_files,
    input_channels,
)

NUM_CALIBRATION_IMAGES = 11  # the reference stops after index 10
CALIBRATION_LIST = "calibration_data.txt"


def calibration_files(data_dir, classes=("person",), num_images=NUM_CALIBRATION_IMAGES, calibration_file=None,
                      calibrate_on="reference", validation_split=VALIDATION_SPLIT):
    """Paths of the calibration images: those listed in ``calibration_file`` (relative to ``data_dir`` or to
    ``person/``), else per class in ``classes``: the first ``num_images`` sorted files (``calibrate_on=
    "reference"``) or ``num_images`` evenly spaced files of the training split (``"train"``: the files after the
    first ``validation_split`` fraction, as ``flow_from_directory`` splits them)."""
    data_dir = Path(data_dir)
    if calibration_file:
        names = read_calibration_list(calibration_file)
        paths = [data_dir / n if (data_dir / n).exists() else data_dir / "person" / n for n in names]
        missing = [p.name for p in paths if not p.exists()]
        if missing:
            raise rc.bad_file(calibration_file, f"lists {len(missing)} images that are in neither {data_dir} nor "
                                                f"{data_dir / 'person'}: {', '.join(missing[:3])}"
                                                f"{', ...' if len(missing) > 3 else ''}",
                              "pass the --data_dir of the dataset the list was made from")
        return paths
    if calibrate_on == "reference":
        return [p for name in classes for p in image_files(data_dir / name)[:num_images]]
    if calibrate_on != "train":
        raise ValueError(f"unknown calibrate_on {calibrate_on!r}: use reference or train")
    paths = []
    for name in classes:
        files = image_files(data_dir / name)
        train_files = files[int(validation_split * len(files)):]
        if len(train_files) < num_images:
            raise rc.UsageError(f"{data_dir / name} has {len(train_files)} training images, fewer than "
                             f"--num_calibration_images {num_images}")
        paths += [train_files[i] for i in np.linspace(0, len(train_files) - 1, num_images).round().astype(int)]
    return paths


def read_calibration_list(path):
    """Image names of a calibration list, one per line. Lines that are not image file names are skipped: the
    reference ``calibration_data.txt`` starts with a sentence ("The following files were used to calibrate ...")."""
    path = rc.require_file(path, "calibration list")
    names = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    names = [name for name in names if Path(name).suffix.lower() in IMAGE_EXTENSIONS and " " not in name]
    if not names:
        raise rc.bad_file(path, f"lists no image files (expected one name ending in "
                                f"{'/'.join(IMAGE_EXTENSIONS)} per line)")
    return names


def load_calibration_image(path, color_mode="rgb"):
    """As the reference: decode as RGB (or one gray channel), resize to 96x96 (bilinear), scale to [0, 1]."""
    import tensorflow as tf

    channels = input_channels(color_mode)
    image = tf.io.decode_image(tf.io.read_file(str(path)), channels=channels, expand_animations=False)
    image = tf.image.resize(image, [IMAGE_SIZE, IMAGE_SIZE])
    return (image / 255.0).numpy().astype(np.float32)


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Convert the VWW model to float and int8 TFLite",
                               add_help=add_help, allow_abbrev=False)
    parser.add_argument("model_path", nargs="?", default=f"trained_models/{MODEL_FILE_NAME}",
                        help="(v0.5 argv[1]) the trained .h5 model")
    parser.add_argument("--data_dir", default="vw_coco2014_96", help="folder with person/ and non_person/")
    parser.add_argument("--out_dir", default=None, help="where the .tflite files go (default: the model's folder)")
    parser.add_argument("--calibration_file", default=None, help="list of calibration images (calibration_data.txt)")
    parser.add_argument("--calibration_classes", nargs="+", default=["person"], choices=["person", "non_person"])
    parser.add_argument("--num_calibration_images", type=rc.positive_int, default=NUM_CALIBRATION_IMAGES,
                        help="per class")
    parser.add_argument("--calibrate_on", choices=("reference", "train"), default="reference",
                        help="reference: the first sorted files (faithful; on the mini data they are validation "
                             "images); train (fix): evenly spaced files of the training split")
    parser.add_argument("--validation_split", type=rc.open_fraction, default=VALIDATION_SPLIT,
                        help="the training run's split (for --calibrate_on train)")
    parser.add_argument("--color_mode", choices=tuple(COLOR_MODES), default=None,
                        help="calibration image channels (default: from the model's input: 3 rgb, 1 grayscale)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace TFLite files converted from another model or data in --out_dir")
    return parser


IDENTITY = ("model_path", "data_dir", "calibration_file", "calibration_classes", "num_calibration_images",
            "calibrate_on", "validation_split", "color_mode")


def convert(args):
    from mlperf_tiny import model_io
    from mlperf_tiny.run_utils import claim_eval_dir
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    model_path = Path(args.model_path)
    hint = "train one first (python -m mlperf_tiny.visual_wake_words.train_vww, or `make mlperf-vww`)"
    loaded = model_io.check_model_task(model_io.load_model(model_path, hint), "vww")
    if loaded.keras_model is None:
        raise rc.bad_file(model_path, f"is a {loaded.kind} model; convert_vww converts a Keras model (.h5)")
    model = loaded.keras_model
    check_vww_dir(args.data_dir, verify_images=False)
    paths = calibration_files(args.data_dir, args.calibration_classes, args.num_calibration_images,
                              args.calibration_file, args.calibrate_on, args.validation_split)
    color_mode = args.color_mode or color_mode_of(model)
    rc.check(input_channels(color_mode) == model.input_shape[-1],
             f"--color_mode {color_mode} does not match the model input {model.input_shape}")
    out_dir = Path(args.out_dir) if args.out_dir else model_path.parent
    claim_eval_dir(out_dir, "convert", args, IDENTITY, args.overwrite)
    calibration = [load_calibration_image(p, color_mode) for p in paths]
    float_path = save_tflite(convert_to_tflite(model, int8=False), out_dir / f"{model_path.stem}_float.tflite")
    int8_path = save_tflite(convert_to_tflite(model, calibration, int8=True, int8_io=True),
                            out_dir / f"{model_path.stem}_int8.tflite")
    rc.write_text(out_dir / CALIBRATION_LIST, "".join(f"{p.relative_to(args.data_dir)}\n" for p in paths))
    rc.write_json(out_dir / "convert_args.json", {**vars(args), "color_mode": color_mode,
                                                  "num_calibration_images_used": len(paths),
                                                  "float_tflite_bytes": float_path.stat().st_size,
                                                  "int8_tflite_bytes": int8_path.stat().st_size})
    print(f"wrote {float_path} ({float_path.stat().st_size} B) and {int8_path} ({int8_path.stat().st_size} B), "
          f"calibrated on {len(paths)} images")
    return float_path, int8_path


@rc.command
def main(argv=None):
    convert(get_args_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    rc.entry(main)
