"""Depth pruning of the VWW MobileNetV1-0.25 with an auxiliary network (the original ``prune_vww_aux.py``).

    python -m depth_pruning.vww.prune_vww_aux --base_model_path runs/mlperf/vww/vww_96.h5 \
        --attach_tensor_name block5 --aux_arch dscnn32_16 --data_dir data/vw_coco2014_96 --train_dir runs/dp

Cuts the base after the chosen block's pointwise ReLU, attaches the head, freezes the tail (default) and trains
with the MLPerf VWW recipe (Adam, batch 32, 20/10/20 epochs at 1e-3/5e-4/2.5e-4, Adam restarted per stage),
keeping the weights of the best validation accuracy. The base may be mlperf-tiny's or the MLPerf Tiny reference
``vww_96.h5``; a base of another task (a KWS DS-CNN) is refused from its input shape before any work. The counts
before and after the cut are printed (reference base, block5: 221,794 -> 15,410 params).
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from depth_pruning import common
from depth_pruning.vww import vww_data

EPOCHS_PER_STAGE = (20, 10, 20)
LEARNING_RATES = (1e-3, 5e-4, 2.5e-4)
NUM_CLASSES = 2
# The original's --arch choices for --nopretrained; alexnet was never imported there (crash), so it is absent.
NOPRETRAINED_ARCHS = ("mobilenetV1", "mobilenetV2")
COLOR_MODE = "rgb"


def get_args_parser(add_help=True, color_mode=COLOR_MODE):
    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    common.add_pruning_args(parser, default_arch="mobilenetV1")
    parser.add_argument("--data_dir", default="vw_coco2014_96", help="folder with person/ and non_person/")
    parser.add_argument("--color_mode", default=color_mode, choices=["rgb", "grayscale"],
                        help="grayscale = the Pico4ML camera variant (prune_vww_aux_gray.py)")
    parser.add_argument("--epochs_per_stage", type=rc.positive_int, nargs="+", default=list(EPOCHS_PER_STAGE))
    parser.add_argument("--learning_rates", type=rc.positive_float, nargs="+", default=list(LEARNING_RATES))
    parser.add_argument("--batch_size", type=rc.positive_int, default=vww_data.BATCH_SIZE)
    parser.add_argument("--augmented_val", action="store_true",
                        help="validate on the augmented split as the original (default: clean split, same files)")
    parser.add_argument("--skip_image_check", action="store_true", help="do not open every image first")
    return parser


def build_fresh_base(arch, color_mode):
    import tensorflow as tf
    from mlperf_tiny.visual_wake_words.vww_model import mobilenet_v1

    input_shape = (vww_data.IMAGE_SIZE, vww_data.IMAGE_SIZE, 1 if color_mode == "grayscale" else 3)
    if arch == "mobilenetV1":
        return mobilenet_v1(input_shape=input_shape, num_classes=NUM_CLASSES)
    if arch == "mobilenetV2":
        return tf.keras.applications.MobileNetV2(input_shape=input_shape, alpha=0.25, include_top=True,
                                                 weights=None, classes=NUM_CLASSES)
    raise rc.UsageError(f"--arch {arch!r} is not supported with --nopretrained; choose "
                        f"{', '.join(NOPRETRAINED_ARCHS)}")


def prune(args):
    from depth_pruning.pruning import build_pruned_model

    rc.check(len(args.epochs_per_stage) == len(args.learning_rates),
             f"--epochs_per_stage has {len(args.epochs_per_stage)} stages but --learning_rates "
             f"{len(args.learning_rates)}: give one learning rate per stage")
    data_dir = Path(args.data_dir)
    vww_data.check_data_dir(data_dir, verify_images=not args.skip_image_check)
    if not args.nopretrained:
        common.require_base_path(args.base_model_path, "vww")
    common.seed_run(args)  # first: loading and building draw initial values
    base = common.load_base_model(args, lambda arch: build_fresh_base(arch, args.color_mode), "vww",
                                  channels=vww_data.CHANNELS[args.color_mode])
    layer_name, cut = common.resolve_cut_or_usage_error(base, args.attach_tensor_name)
    run_dir = common.run_dir_of(args)
    if common.claim_run(args, run_dir):
        return common.finished_result(run_dir)
    dataset = common.dataset_label(data_dir, args.dataset_name)
    model = build_pruned_model(base, layer_name, args.aux_arch, NUM_CLASSES, frozen_tail=args.frozen_head,
                               aux_bn_momentum=args.aux_bn_momentum)
    print(common.describe_cut(base, model, cut, args.aux_arch))
    common.write_model_info(run_dir, args.ckpt_name, base, model)

    train_flow, val_flow = vww_data.make_generators(data_dir, args.color_mode, args.batch_size,
                                                    clean_validation=not args.augmented_val, seed=args.seed)
    stages = list(zip(args.epochs_per_stage, args.learning_rates))
    model = common.train_stages(model, train_flow, val_flow, run_dir, stages, "categorical_crossentropy", dataset,
                                verbose=args.verbose, seed=args.seed,
                                exact_resume=args.exact_resume)
    images, labels = vww_data.load_clean_split(data_dir, args.color_mode)
    val_accuracy = float((model.predict(images, verbose=0).argmax(-1) == labels).mean())
    record = {"task": "vww_gray" if args.color_mode == "grayscale" else "vww", "cut": cut, "layer": layer_name,
              "aux_arch": args.aux_arch, "frozen_tail": args.frozen_head, "pretrained": not args.nopretrained,
              "base_model": args.base_model_path, "base_params": int(base.count_params()),
              "val_accuracy": val_accuracy, "val_split": "augmented" if args.augmented_val else "clean",
              "val_samples": int(len(labels)), "seed": args.seed, "dataset": dataset}
    return common.finish_run(model, run_dir, record)


@rc.command
def main(argv=None):
    return prune(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
