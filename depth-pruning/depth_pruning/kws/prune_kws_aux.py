"""Depth pruning of the KWS DS-CNN with an auxiliary network (the original ``prune_kws_aux.py``).

    python -m depth_pruning.kws.prune_kws_aux --base_model_path runs/mlperf/kws/kws_ref_model.h5 \
        --attach_tensor_name block2 --data_dir data --train_dir runs/dp-kws

Takes every MLPerf KWS flag (mlperf_tiny ``kws_util``: data, features, --epochs, --batch_size, ...) plus the
pruning flags. Training: Adam, sparse cross-entropy, batch 100, 30 epochs (the scripts' value) with the MLPerf
step schedule (5e-4 / 1e-4 / 2e-5); the best validation accuracy is kept, then the test set is evaluated.
``--feature_type lfbe`` with a ``ds_cnn_flat`` base is the paper's "hardware" variant.

The paper computes MFCCs with 10 mel bins "to match the HW library" (MLPerf: 40): pass ``--num_mel_bins 10``
(an mlperf_tiny KWS flag) here and to the base's training; the value goes to ``mel_bins`` in result.json.

The base may be mlperf-tiny's or the MLPerf Tiny reference ``kws_ref_model`` SavedModel; a base of another task is
refused from its input shape before any work. The counts before and after the cut are printed (reference base,
block2: 24,908 -> 17,852 params).
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from depth_pruning import common

PAPER_EPOCHS = 30
NUM_CLASSES = 12
# The paper's MFCC mel filterbank size (MLPerf v0.5 and mlperf_tiny's default: 40).
PAPER_MEL_BINS = 10


def get_args_parser(add_help=True):
    from mlperf_tiny.keyword_spotting import kws_util

    parser = kws_util.get_args_parser(add_help=add_help)
    parser.set_defaults(epochs=PAPER_EPOCHS)
    group = parser.add_argument_group("depth pruning")
    common.add_pruning_args(group, default_arch="ds_cnn", with_seed=False)
    return parser


def build_fresh_base(arch):
    from depth_pruning.base_models import build_base_model

    variants = {"ds_cnn": "kws", "ds_cnn_flat": "kws_hw"}
    if arch not in variants:
        raise rc.UsageError(f"--arch {arch!r} is not supported with --nopretrained; choose {', '.join(variants)}")
    return build_base_model(variants[arch])


def _fit_input(dataset, model):
    """ds_cnn_flat takes the flat 490-value features: flatten the (49, 10, 1) batches for it."""
    import tensorflow as tf

    if len(model.inputs[0].shape) == 2:
        return dataset.map(lambda x, y: (tf.reshape(x, [tf.shape(x)[0], -1]), y))
    return dataset


def accuracy_of(model, dataset):
    """(accuracy, number of clips) of ``model`` on a batched (features, label) dataset."""
    hits = total = 0
    for x, y in dataset.as_numpy_iterator():
        hits += int((model.predict_on_batch(x).argmax(-1) == y).sum())
        total += len(y)
    return hits / max(total, 1), total


def prune(args):
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data
    from mlperf_tiny.keyword_spotting import kws_util

    from depth_pruning.pruning import build_pruned_model

    if not args.nopretrained:
        common.require_base_path(args.base_model_path, "kws")
    common.seed_run(args)  # first: loading and building draw initial values (imports TF: after the cheap checks)
    base = common.load_base_model(args, build_fresh_base, "kws")
    layer_name, cut = common.resolve_cut_or_usage_error(base, args.attach_tensor_name)
    kws_data.resolve_data_source(args.data_dir, args.data_source)  # a bad data folder: reported before the claim
    run_dir = common.run_dir_of(args)
    if common.claim_run(args, run_dir):
        return common.finished_result(run_dir)
    dataset = args.dataset_name or ("mini" if kws_data.is_mini(args) else "speech_commands_v0.02")
    model = build_pruned_model(base, layer_name, args.aux_arch, NUM_CLASSES, frozen_tail=args.frozen_head,
                               aux_bn_momentum=args.aux_bn_momentum)
    print(common.describe_cut(base, model, cut, args.aux_arch))
    common.write_model_info(run_dir, args.ckpt_name, base, model)

    ds_train, ds_test, ds_val = (_fit_input(ds, model) for ds in kws_data.get_training_data(args))
    import tensorflow as tf

    schedule = tf.keras.callbacks.LearningRateScheduler(kws_util.LR_SCHEDULES[args.lr_sched_name])
    model = common.train_stages(model, ds_train, ds_val, run_dir, [(args.epochs, args.learning_rate)],
                                "sparse_categorical_crossentropy", dataset, verbose=args.verbose,
                                extra_callbacks=[schedule])
    val_accuracy, val_samples = accuracy_of(model, ds_val)
    record = {"task": "kws_hw" if args.feature_type == "lfbe" else "kws", "cut": cut, "layer": layer_name,
              "aux_arch": args.aux_arch, "frozen_tail": args.frozen_head, "pretrained": not args.nopretrained,
              "base_model": args.base_model_path, "base_params": int(base.count_params()),
              "val_accuracy": val_accuracy, "val_split": "clean", "val_samples": val_samples,
              "feature_type": args.feature_type, "mel_bins": args.num_mel_bins if args.feature_type == "mfcc"
              else args.dct_coefficient_count, "seed": args.seed, "dataset": dataset}
    if args.run_test_set:
        record["test_accuracy"], record["test_samples"] = accuracy_of(model, ds_test)
    return common.finish_run(model, run_dir, record)


@rc.command
def main(argv=None):
    return prune(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
