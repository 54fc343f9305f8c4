"""Magnitude-pruning baseline for the VWW MobileNetV1-0.25 (the original ``prune_vww_mag.py``).

    python -m depth_pruning.vww.prune_vww_mag --base_model_path runs/mlperf/vww/vww_96.h5 \
        --data_dir data/vw_coco2014_96 --train_dir runs/dp-mag --pruning_scheme constant --end_sparsity 0.5

The whole trained base is wrapped with tfmot ``prune_low_magnitude`` and fine-tuned with the MLPerf VWW recipe
(Adam, batch 32, 20/10/20 epochs at 1e-3/5e-4/2.5e-4, Adam restarted per stage) plus ``UpdatePruningStep``;
the best validation accuracy is kept. Then the wrappers are stripped and ``model.h5`` / ``result.json``
(measured sparsity, params, val accuracy) are written; ``tflite_convert_quantize`` / ``tflite_evaluate`` take
the run folder as for the depth-pruned runs. Schedules and the end step: ``depth_pruning.magnitude``.
"""

import argparse
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from depth_pruning import common, magnitude
from depth_pruning.vww import vww_data
from depth_pruning.vww.prune_vww_aux import EPOCHS_PER_STAGE, LEARNING_RATES


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--base_model_path", required=True,
                        help="trained base model (.h5 or SavedModel): mlperf-tiny's, or the reference vww_96.h5")
    parser.add_argument("--data_dir", default="vw_coco2014_96", help="folder with person/ and non_person/")
    parser.add_argument("--train_dir", default="aux_models/test_models", help="output root")
    parser.add_argument("--ckpt_name", default=None, help="run name (default: mag_<scheme>_<end sparsity %%>)")
    magnitude.add_magnitude_args(parser)
    parser.add_argument("--color_mode", default="rgb", choices=["rgb", "grayscale"])
    parser.add_argument("--epochs_per_stage", type=rc.positive_int, nargs="+", default=list(EPOCHS_PER_STAGE))
    parser.add_argument("--learning_rates", type=rc.positive_float, nargs="+", default=list(LEARNING_RATES))
    parser.add_argument("--epochs", type=rc.positive_int, default=None,
                        help="accepted for the original mag_const sweep (--epochs=20), which the original script "
                             "ignored as well; the schedule is --epochs_per_stage")
    parser.add_argument("--batch_size", type=rc.positive_int, default=vww_data.BATCH_SIZE)
    parser.add_argument("--augmented_val", action="store_true",
                        help="validate on the augmented split as the original (default: clean split, same files)")
    parser.add_argument("--skip_image_check", action="store_true", help="do not open every image first")
    parser.add_argument("--seed", type=rc.nonnegative_int, default=0)
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini if the path says so)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    common.add_exact_resume_flag(parser)
    parser.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return parser


def prune(args):

    rc.check(len(args.epochs_per_stage) == len(args.learning_rates),
             f"--epochs_per_stage has {len(args.epochs_per_stage)} stages but --learning_rates "
             f"{len(args.learning_rates)}: give one learning rate per stage")
    magnitude.check_magnitude_args(args, sum(args.epochs_per_stage))
    data_dir = Path(args.data_dir)
    vww_data.check_data_dir(data_dir, verify_images=not args.skip_image_check)
    common.require_base_path(args.base_model_path, "vww")
    common.seed_run(args)  # first: loading and building draw initial values
    base = common.load_base_model(argparse.Namespace(nopretrained=False, base_model_path=args.base_model_path),
                                  None, "vww", channels=vww_data.CHANNELS[args.color_mode])
    args.ckpt_name = magnitude.run_name(args)
    run_dir = Path(args.train_dir) / args.ckpt_name
    if common.claim_run(args, run_dir):
        return common.finished_result(run_dir)
    dataset = common.dataset_label(data_dir, args.dataset_name)
    train_flow, val_flow = vww_data.make_generators(data_dir, args.color_mode, args.batch_size,
                                                    clean_validation=not args.augmented_val, seed=args.seed)
    wrapped, end_step = magnitude.wrap_for_pruning(base, args, sum(args.epochs_per_stage), len(train_flow))
    common.write_model_info(run_dir, args.ckpt_name, base, wrapped)
    stages = list(zip(args.epochs_per_stage, args.learning_rates))
    wrapped = common.train_stages(wrapped, train_flow, val_flow, run_dir, stages, "categorical_crossentropy",
                                  dataset, verbose=args.verbose, extra_callbacks=magnitude.pruning_callbacks(),
                                  seed=args.seed, exact_resume=args.exact_resume)
    model = magnitude.strip(wrapped)
    sparsity = magnitude.prunable_kernel_sparsity(wrapped, model)
    images, labels = vww_data.load_clean_split(data_dir, args.color_mode)
    val_accuracy = float((model.predict(images, verbose=0).argmax(-1) == labels).mean())
    record = {"task": "vww_gray" if args.color_mode == "grayscale" else "vww", "method": "magnitude",
              "cut": "none", "aux_arch": "none", "pruning_scheme": args.pruning_scheme,
              "end_sparsity": args.end_sparsity, "end_step": end_step, **sparsity, "val_accuracy": val_accuracy,
              "val_split": "augmented" if args.augmented_val else "clean", "val_samples": int(len(labels)),
              "seed": args.seed, "dataset": dataset}
    return common.finish_run(model, run_dir, record, title=f"magnitude {args.pruning_scheme} {args.end_sparsity:.2f}")


@rc.command
def main(argv=None):
    return prune(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
