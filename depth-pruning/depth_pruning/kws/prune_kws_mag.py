"""Magnitude-pruning baseline for the KWS DS-CNN (the original ``prune_kws_mag.py``).

    python -m depth_pruning.kws.prune_kws_mag --base_model_path runs/mlperf/kws/kws_ref_model.h5 \
        --data_dir data --train_dir runs/dp-kws-mag --pruning_scheme constant --end_sparsity 0.5 --epochs 30

Takes every MLPerf KWS flag plus the magnitude flags. The trained base is wrapped with tfmot
``prune_low_magnitude`` and fine-tuned as the original: Adam, sparse cross-entropy, the MLPerf step LR
(5e-4 / 1e-4 / 2e-5), ``UpdatePruningStep``, best validation accuracy kept. The original hard-coded 856
batches per epoch for the schedule's end step; here it is the training set's batch count. Then the wrappers are
stripped, and ``model.h5`` / ``result.json`` (measured sparsity, val and test accuracy) are written;
``kws.quantize`` / ``kws.eval_quantized_model --run_dir`` convert and evaluate it like a depth-pruned run.
"""

import argparse

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from depth_pruning import common, magnitude
from depth_pruning.kws.prune_kws_aux import PAPER_EPOCHS, _fit_input, accuracy_of


def get_args_parser(add_help=True):
    from mlperf_tiny.keyword_spotting import kws_util

    parser = kws_util.get_args_parser(add_help=add_help)
    parser.set_defaults(epochs=PAPER_EPOCHS)
    group = parser.add_argument_group("magnitude pruning")
    group.add_argument("--base_model_path", required=True,
                       help="trained base model (.h5 or SavedModel): mlperf-tiny's, or the reference kws_ref_model/")
    group.add_argument("--train_dir", default="aux_models/test_models", help="output root")
    group.add_argument("--ckpt_name", default=None, help="run name (default: mag_<scheme>_<end sparsity %%>)")
    magnitude.add_magnitude_args(group)
    group.add_argument("--dataset_name", default=None, help="label for metrics (default: mini with --mini)")
    group.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    common.add_exact_resume_flag(group)
    group.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return parser


def batches_per_epoch(dataset):
    """Number of batches of a (finite) tf.data dataset: its cardinality, or one pass when unknown."""
    import tensorflow as tf

    count = int(tf.data.experimental.cardinality(dataset))
    if count >= 0:
        return count
    return sum(1 for _ in dataset)


def prune(args):
    from pathlib import Path

    from mlperf_tiny.keyword_spotting import get_dataset as kws_data
    from mlperf_tiny.keyword_spotting import kws_util

    magnitude.check_magnitude_args(args, args.epochs)
    common.require_base_path(args.base_model_path, "kws")
    common.seed_run(args)  # first: loading and building draw initial values (imports TF: after the cheap checks)
    base = common.load_base_model(argparse.Namespace(nopretrained=False, base_model_path=args.base_model_path),
                                  None, "kws")
    splits = kws_data.get_training_data(args)  # a bad data folder is reported before the run dir is claimed
    args.ckpt_name = magnitude.run_name(args)
    run_dir = Path(args.train_dir) / args.ckpt_name
    if common.claim_run(args, run_dir):
        return common.finished_result(run_dir)
    dataset = args.dataset_name or ("mini" if kws_data.is_mini(args) else "speech_commands_v0.02")
    ds_train, ds_test, ds_val = (_fit_input(ds, base) for ds in splits)
    wrapped, end_step = magnitude.wrap_for_pruning(base, args, args.epochs, batches_per_epoch(ds_train))
    common.write_model_info(run_dir, args.ckpt_name, base, wrapped)
    import tensorflow as tf

    schedule = tf.keras.callbacks.LearningRateScheduler(kws_util.LR_SCHEDULES[args.lr_sched_name])
    wrapped = common.train_stages(wrapped, ds_train, ds_val, run_dir, [(args.epochs, args.learning_rate)],
                                  "sparse_categorical_crossentropy", dataset, verbose=args.verbose,
                                  extra_callbacks=[schedule, *magnitude.pruning_callbacks()])
    model = magnitude.strip(wrapped)
    sparsity = magnitude.prunable_kernel_sparsity(wrapped, model)
    val_accuracy, val_samples = accuracy_of(model, ds_val)
    record = {"task": "kws_hw" if args.feature_type == "lfbe" else "kws", "method": "magnitude", "cut": "none",
              "aux_arch": "none", "pruning_scheme": args.pruning_scheme, "end_sparsity": args.end_sparsity,
              "end_step": end_step, **sparsity, "val_accuracy": val_accuracy, "val_split": "clean",
              "val_samples": val_samples, "feature_type": args.feature_type,
              "mel_bins": args.num_mel_bins if args.feature_type == "mfcc" else args.dct_coefficient_count,
              "seed": args.seed, "dataset": dataset}
    if args.run_test_set:
        record["test_accuracy"], record["test_samples"] = accuracy_of(model, ds_test)
    return common.finish_run(model, run_dir, record, title=f"magnitude {args.pruning_scheme} {args.end_sparsity:.2f}")


@rc.command
def main(argv=None):
    return prune(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
