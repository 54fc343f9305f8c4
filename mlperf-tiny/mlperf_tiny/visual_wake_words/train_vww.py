"""Train MobileNetV1-0.25 on the 96x96 Visual Wake Words images as MLPerf Tiny v0.5 does (``train_vww.py``).

    python -m mlperf_tiny.visual_wake_words.train_vww --data_dir data/vw_coco2014_96 --out_dir runs/vww
    python -m mlperf_tiny.visual_wake_words.train_vww [init_model.h5 [saved_model.h5]]   # the v0.5 spelling

Recipe (v0.5): ``flow_from_directory`` on ``<data_dir>/{non_person,person}`` (classes 0 and 1) at 96x96 RGB,
rescale 1/255, augmentation rotation 10, width/height shift 0.05, zoom 0.1, horizontal flip;
``validation_split=0.1`` (the first 10% of each class's sorted file names validate); batch 32; categorical
cross-entropy; three stages of Adam, recompiled (so its state resets) at 1e-3 for 20 epochs, 5e-4 for 10,
2.5e-4 for 20. The reported number (~85%) is the validation accuracy: there is no test split.

Quirk (faithful default): the validation generator comes from the same augmenting ImageDataGenerator, so the
validation accuracy logged during training is measured on randomly augmented images. ``--clean_validation``
validates on un-augmented images (``test_vww.py`` always evaluates un-augmented).

``--color_mode grayscale`` (not in v0.5; the depth-pruning paper's Pico4ML variant) reads the images as one
luminance channel (PIL ``L``), so the model input is 96x96x1; ``convert_vww`` and ``test_vww`` read the channel
count from the model. Default ``rgb`` (faithful).

Writes into ``--out_dir``: ``vww_96.h5``, ``args.json``, ``history.csv``, per-epoch ``metrics.json``,
``last.weights.h5`` (rerunning the command resumes at the next epoch, in the right stage), ``training_curves.png``.
"""

from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import model_name

IMAGE_SIZE = 96
BATCH_SIZE = 32
VALIDATION_SPLIT = 0.1
EPOCHS_PER_STAGE = (20, 10, 20)
LEARNING_RATES = (1e-3, 5e-4, 2.5e-4)
CLASS_NAMES = ("non_person", "person")  # flow_from_directory sorts the folders: non_person=0, person=1
AUGMENTATION = dict(rotation_range=10, width_shift_range=0.05, height_shift_range=0.05, zoom_range=0.1,
                    horizontal_flip=True)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff")
MODEL_FILE_NAME = "vww_96.h5"
DOWNLOAD_TARGET = "mlperf-vww-data"
COLOR_MODES = {"rgb": 3, "grayscale": 1}  # flow_from_directory color_mode -> input channels


def input_channels(color_mode):
    if color_mode not in COLOR_MODES:
        raise ValueError(f"unknown color_mode {color_mode!r}: use one of {', '.join(COLOR_MODES)}")
    return COLOR_MODES[color_mode]


def color_mode_of(model):
    """The color_mode matching a Keras model's input channels (3: rgb, 1: grayscale)."""
    channels = int(model.input_shape[-1])
    for mode, count in COLOR_MODES.items():
        if count == channels:
            return mode
    raise ValueError(f"model input {model.input_shape} has {channels} channels: expected 3 (rgb) or 1 (grayscale)")


class DatasetError(rc.UsageError):
    """The dataset directory is missing, laid out wrongly or holds a corrupt image; the message says what to do."""


def layout_error(data_dir, problem):
    return DatasetError(
        f"{problem}. Expected the MLPerf Tiny Visual Wake Words images in {data_dir}: two folders "
        f"{data_dir}/person/ and {data_dir}/non_person/ of 96x96 RGB JPEGs (the folder vw_coco2014_96/ of "
        f"Silicon Labs' vw_coco2014_96.tar.gz). Download it with `make {DOWNLOAD_TARGET}` (or `python -m "
        f"mlperf_tiny.download vww --data_dir data`, then pass --data_dir data/vw_coco2014_96), or generate the "
        f"offline mini version with `make mini-data` and use data/mini/vw_coco2014_96."
    )


def image_files(class_dir):
    return sorted(p for p in Path(class_dir).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def check_vww_dir(data_dir, verify_images=True):
    """Raise DatasetError unless ``data_dir`` has non-empty person/ and non_person/ folders of readable images.

    verify_images=True opens every file's header with PIL, so a corrupt image is reported with its path
    before training instead of crashing a generator thread mid-epoch.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise layout_error(data_dir, f"data directory {data_dir} does not exist")
    subdirs = sorted(p.name for p in data_dir.iterdir() if p.is_dir())
    missing = [name for name in CLASS_NAMES if name not in subdirs]
    if missing:  # other folders are ignored: the generators are given the two class names explicitly
        raise layout_error(data_dir, f"{data_dir} has the folders {subdirs or 'none'} but no {' or '.join(missing)}")
    files = {name: image_files(data_dir / name) for name in CLASS_NAMES}
    for name, paths in files.items():
        if not paths:
            raise layout_error(data_dir, f"{data_dir / name} holds no images")
    if verify_images:
        from PIL import Image, UnidentifiedImageError
        from tqdm import tqdm

        all_files = [p for paths in files.values() for p in paths]
        for path in tqdm(all_files, desc="checking images", unit="img", disable=len(all_files) < 5000):
            try:
                with Image.open(path) as image:
                    image.verify()
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
                raise DatasetError(f"corrupt image {path}: {err}. Delete or replace it (or re-extract the "
                                   f"dataset with `make {DOWNLOAD_TARGET}`).") from err
    return {name: len(paths) for name, paths in files.items()}


def make_generators(data_dir, batch_size=BATCH_SIZE, validation_split=VALIDATION_SPLIT, seed=0,
                    clean_validation=False, augment=True, color_mode="rgb"):
    """(train, validation) DirectoryIterators as the reference builds them (see the module docstring);
    ``color_mode="grayscale"`` yields (B, 96, 96, 1) batches."""
    import tensorflow as tf

    input_channels(color_mode)
    image_generator = tf.keras.preprocessing.image.ImageDataGenerator
    datagen = image_generator(**(AUGMENTATION if augment else {}), validation_split=validation_split,
                              rescale=1.0 / 255)
    val_datagen = image_generator(validation_split=validation_split, rescale=1.0 / 255) if clean_validation else datagen
    common = dict(target_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=batch_size, color_mode=color_mode,
                  classes=list(CLASS_NAMES), class_mode="categorical", seed=seed)
    train = datagen.flow_from_directory(str(data_dir), subset="training", **common)
    val = val_datagen.flow_from_directory(str(data_dir), subset="validation", **common)
    return train, val


def load_split(data_dir, subset="validation", validation_split=VALIDATION_SPLIT, batch_size=64, color_mode="rgb"):
    """Un-augmented images (float32 in [0, 1]) and integer labels of a split, in file order."""
    import tensorflow as tf

    input_channels(color_mode)
    datagen = tf.keras.preprocessing.image.ImageDataGenerator(validation_split=validation_split, rescale=1.0 / 255)
    flow = datagen.flow_from_directory(str(data_dir), target_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=batch_size,
                                       color_mode=color_mode, classes=list(CLASS_NAMES), class_mode="sparse",
                                       subset=subset, shuffle=False)
    images, labels = [], []
    for i in range(len(flow)):
        x, y = flow[i]
        images.append(x)
        labels.append(y)
    if not images:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, input_channels(color_mode)), np.float32), np.zeros(0, np.int64)
    return np.concatenate(images).astype(np.float32), np.concatenate(labels).astype(np.int64)


def stage_bounds(epochs_per_stage):
    """[(first_epoch, end_epoch)] of each stage in the global epoch count."""
    ends = np.cumsum(epochs_per_stage).tolist()
    return list(zip([0, *ends[:-1]], ends))


def dataset_label(data_dir, explicit=None):
    if explicit:
        return explicit
    return "mini" if "mini" in Path(data_dir).resolve().parts else "vww_coco2014_96"


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Train MobileNetV1-0.25 on Visual Wake Words (MLPerf Tiny v0.5)",
                               add_help=add_help, allow_abbrev=False)
    parser.add_argument("init_model", nargs="?", default=None,
                        help="(v0.5 argv[1]) an .h5 model to continue training instead of a fresh one")
    parser.add_argument("saved_model_path", nargs="?", default=None,
                        help=f"(v0.5 argv[2]) where the trained model goes (default: <out_dir>/{MODEL_FILE_NAME})")
    parser.add_argument("--data_dir", default="vw_coco2014_96", help="folder with person/ and non_person/")
    parser.add_argument("--out_dir", default="trained_models", help="run folder (model, args, metrics, plots)")
    parser.add_argument("--model_architecture", type=model_name, default="mobilenet_v1",
                        help="registry name of the model")
    parser.add_argument("--color_mode", choices=tuple(COLOR_MODES), default="rgb",
                        help="grayscale: one-channel 96x96x1 input (the depth-pruning paper's Pico4ML variant; "
                             "reference: rgb)")
    parser.add_argument("--epochs_per_stage", type=rc.positive_int, nargs="+", default=list(EPOCHS_PER_STAGE))
    parser.add_argument("--learning_rates", type=rc.positive_float, nargs="+", default=list(LEARNING_RATES),
                        help="Adam learning rate of each stage (Adam is recompiled per stage)")
    parser.add_argument("--batch_size", type=rc.positive_int, default=BATCH_SIZE)
    parser.add_argument("--validation_split", type=rc.open_fraction, default=VALIDATION_SPLIT)
    parser.add_argument("--clean_validation", action="store_true",
                        help="fix: validate on un-augmented images (reference: augmented)")
    parser.add_argument("--regularize_depthwise", action="store_true",
                        help="fix: he_normal + L2 on depthwise kernels (reference: ignored by Keras 2)")
    parser.add_argument("--skip_image_check", action="store_true", help="do not open every image before training")
    parser.add_argument("--seed", type=rc.nonnegative_int, default=0)
    parser.add_argument("--distribute", choices=("default", "mirrored"), default="default",
                        help="tf.distribute strategy (mirrored: every local GPU)")
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini or vww_coco2014_96)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    parser.add_argument("--exact_resume", action="store_true",
                        help="draw each epoch's order and augmentation from (seed, epoch), so a resumed run ends as "
                             "an uninterrupted one (another random stream than Keras': other numbers)")
    parser.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return parser


# Flags that never make two training runs different.
NOT_IDENTITY = ("verbose", "distribute", "skip_image_check")


def train(args):
    from mlperf_tiny import model_io, run_utils
    from mlperf_tiny.registry import get_model

    rc.check(len(args.epochs_per_stage) == len(args.learning_rates),
             f"--epochs_per_stage has {len(args.epochs_per_stage)} stages but --learning_rates "
             f"{len(args.learning_rates)}: give one learning rate per stage")
    if args.init_model:
        init = model_io.check_model_task(args.init_model, "vww")
        rc.check(init.keras_model is not None and init.input_shape[-1] == input_channels(args.color_mode),
                 f"{args.init_model}: a Keras model with {input_channels(args.color_mode)}-channel input is needed "
                 f"(--color_mode {args.color_mode}); it is a {init.kind} model with input {init.input_shape}")
    out_dir = Path(args.out_dir)
    counts = check_vww_dir(args.data_dir, verify_images=not args.skip_image_check)
    dataset = dataset_label(args.data_dir, args.dataset_name)
    rc.claim_run_dir(out_dir, {**vars(args), "dataset": dataset, "images_per_class": counts}, ignore=NOT_IDENTITY,
                     overwrite=args.overwrite)
    import tensorflow as tf

    run_utils.set_seed(args.seed)
    train_flow, val_flow = make_generators(args.data_dir, args.batch_size, args.validation_split, args.seed,
                                           args.clean_validation, color_mode=args.color_mode)
    print(f"classes: {train_flow.class_indices}; {train_flow.samples} training, {val_flow.samples} validation images")
    rc.check(train_flow.samples > 0 and val_flow.samples > 0,
             f"--validation_split {args.validation_split} leaves {train_flow.samples} training and "
             f"{val_flow.samples} validation images in {args.data_dir}")

    strategy = run_utils.distribute_strategy(args.distribute)
    with strategy.scope():
        if args.init_model:
            model = init.keras_model
        else:
            kwargs = {"regularize_depthwise": True} if args.regularize_depthwise else {}
            model = get_model(args.model_architecture, input_shape=(IMAGE_SIZE, IMAGE_SIZE, input_channels(args.color_mode)),
                              num_classes=len(CLASS_NAMES), **kwargs)
    epochs_done = run_utils.resume_initial_epoch(out_dir, model)
    if epochs_done:
        print(f"resuming {out_dir} after epoch {epochs_done}")
    total_epochs = int(sum(args.epochs_per_stage))
    callbacks = run_utils.training_callbacks(out_dir, extra_metrics={"dataset": dataset}, total_epochs=total_epochs)
    for (first, end), learning_rate in zip(stage_bounds(args.epochs_per_stage), args.learning_rates):
        if epochs_done >= end:
            continue
        with strategy.scope():
            # A fresh Adam per stage, as the reference recompiles the model.
            model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                          metrics=["accuracy"])
        if epochs_done > first:  # resumed inside this stage: its Adam state is in the resume point
            run_utils.resume_initial_epoch(out_dir, model)
        start = max(epochs_done, first)
        train_data, steps, val_data, val_steps, extra = run_utils.keras_iterator_fit_data(
            train_flow, val_flow, args.seed, start, end, args.exact_resume)
        model.fit(train_data, steps_per_epoch=steps, epochs=end, initial_epoch=start, validation_data=val_data,
                  validation_steps=val_steps, callbacks=[*extra, *callbacks], verbose=args.verbose)
        epochs_done = end
    saved_model_path = Path(args.saved_model_path or out_dir / MODEL_FILE_NAME)
    run_utils.save_model(model, saved_model_path)
    if (out_dir / run_utils.HISTORY_CSV).exists():
        run_utils.plot_history(out_dir / run_utils.HISTORY_CSV, out_dir / "training_curves.png",
                               f"MobileNetV1-0.25 on VWW{' grayscale' if args.color_mode == 'grayscale' else ''}"
                               f"{' (mini data)' if dataset == 'mini' else ''}")
    return saved_model_path


@rc.command
def main(argv=None):
    train(get_args_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    rc.entry(main)
