"""Train a T-RECX (or baseline early-exit) DS-CNN on Speech Commands (original ``keyword_spotting/train_dscnn.py``).

    python -m trecx.keyword_spotting.train_dscnn --data_dir data/ --model_architecture ds_cnn_ev --isTrecx --isEV \
        --model_save_name model_with_ev_assist --out_dir runs/trecx/kws

Flags are ``mlperf_tiny.keyword_spotting.kws_util``'s (data, MFCC, ``--epochs 36``, ``--batch_size 100``, step
LR 5e-4/1e-4/2e-5) plus the T-RECX ones (``--W_aux 0.3``, ``--isEV``, ``--isTrecx``, ``--model_save_name``). Data
comes from ``mlperf_tiny.keyword_spotting.get_dataset`` (tfds or the extracted tarballs; v0.5 batch shuffling).
Joint loss CE(final) + W_aux CE(EE) (``ds_cnn_eefmaps_concat``: weights (1, 1) as the original); with --isEV the
EE depthwise weights are copied into the EV layer before every batch of epochs 0..(epochs // 5) * 4 + 1 (30 of 36). Writes
``<out_dir>/<model_save_name>/``: args.json, history.csv, metrics.json, last.weights.h5 (resume),
model.weights.h5, training_curves.png. ``ds_cnn`` trains the plain MLPerf baseline with the same recipe.
Resumable: rerunning the same command continues after the last finished epoch (weights and optimizer state;
--exact_resume also draws each epoch's order and the dropout masks from (seed, epoch), so a resumed run ends as an
uninterrupted one); another command on the run folder is refused unless --overwrite.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from trecx import helpers

ARCHITECTURES = ("ds_cnn_ev", "ds_cnn_noev", "ds_cnn_eefmaps_concat", "ds_cnn_sdn", "ds_cnn_branchynet", "ds_cnn")
W_AUX = 0.3  # chosen in the paper to maximise the final exit's standalone accuracy (DS-CNN)
SDN_MAX_TAUS = (0.25, 0.5, 0.75)  # SDN's C_i of the three DS-CNN internal classifiers
SHUFFLE_BUFFER = 100_000  # shuffles the order of all batches (v0.5 shuffles batches, not clips)


def get_args_parser(add_help=True):
    from mlperf_tiny.keyword_spotting import kws_util

    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False,
                               parents=[kws_util.get_args_parser(add_help=False)], conflict_handler="resolve")
    parser.add_argument("--model_architecture", type=rc.name_in(ARCHITECTURES, "architecture"), default="ds_cnn_ev",
                        help=f"which model to train: {', '.join(ARCHITECTURES)} (ds_cnn: the plain MLPerf baseline "
                             "without early exit)")
    helpers.add_trecx_training_flags(parser, W_AUX)
    parser.add_argument("--eefmaps_w_aux", action="store_true",
                        help="fix: train ds_cnn_eefmaps_concat with W_aux (original: EE weight 1)")
    parser.add_argument("--out_dir", default="trained_models", help="parent folder of the run folder")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    return parser


def multi_output(dataset, model):
    """(features, label) batches -> (features, {exit: label}) for multi-exit models."""
    return helpers.multi_output_batches(dataset, model)


def train(Flags):  # noqa: N803 (v0.5 name)
    from mlperf_tiny import run_utils
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data

    helpers.check_ev_flag(Flags)
    helpers.check_init_from_base(Flags)
    out_dir = Path(Flags.out_dir) / Flags.model_save_name
    kws_data.resolve_data_source(Flags.data_dir, Flags.data_source)  # a bad data folder: reported before the claim
    dataset = "mini" if kws_data.is_mini(Flags) else "speech_commands_v0.02"
    if helpers.claim_training_run(Flags, out_dir, {"dataset": dataset}):
        return out_dir
    import tensorflow as tf  # after the checks: a refused run answers without loading TF
    from mlperf_tiny.keyword_spotting import kws_util
    from mlperf_tiny.registry import get_model

    run_utils.set_seed(Flags.seed)
    if Flags.exact_resume:
        run_utils.resumable_dropout()
    print(f"data: {Flags.data_dir}; training {Flags.model_architecture} for {Flags.epochs} epochs -> {out_dir}")
    ds_train, _, ds_val = kws_data.get_training_data(Flags)

    with run_utils.distribute_strategy(Flags.strategy).scope():
        model = get_model(Flags.model_architecture, input_shape=(49, Flags.dct_coefficient_count, 1),
                          num_classes=len(kws_data.LABELS))
        helpers.init_from_base(Flags, model)
        loss_weights = helpers.compile_model(model, Flags.model_architecture, Flags.W_aux, Flags.learning_rate,
                                             eefmaps_faithful=not Flags.eefmaps_w_aux)
    initial_epoch = run_utils.resume_initial_epoch(out_dir, model)
    if initial_epoch:
        print(f"resuming {out_dir} after epoch {initial_epoch}")
    callbacks = kws_util.get_callbacks(Flags)
    callbacks += helpers.early_exit_callbacks(Flags, loss_weights, Flags.epochs, SDN_MAX_TAUS)
    callbacks += run_utils.training_callbacks(out_dir, extra_metrics={"dataset": dataset}, total_epochs=Flags.epochs)
    if initial_epoch < Flags.epochs:
        if Flags.exact_resume:  # each epoch's order from (seed, epoch): a resumed run sees the batches it would have
            batches = (run_utils.epoch_seeded_shuffle(ds_train.unbatch(), SHUFFLE_BUFFER, Flags.seed, initial_epoch,
                                                      Flags.epochs, batch_size=Flags.batch_size)
                       if Flags.shuffle_examples else
                       run_utils.epoch_seeded_shuffle(ds_train, SHUFFLE_BUFFER, Flags.seed, initial_epoch, Flags.epochs))
            steps = int(tf.data.experimental.cardinality(ds_train))
            steps = steps if steps >= 0 else sum(1 for _ in ds_train)  # unknown cardinality: count one pass
        elif Flags.shuffle_examples:
            batches, steps = ds_train.unbatch().shuffle(SHUFFLE_BUFFER, seed=Flags.seed).batch(Flags.batch_size), None
        else:  # v0.5 shuffles whole batches of a fixed order
            batches, steps = ds_train.shuffle(SHUFFLE_BUFFER, seed=Flags.seed), None
        model.fit(multi_output(batches, model).prefetch(tf.data.AUTOTUNE), steps_per_epoch=steps,
                  validation_data=multi_output(ds_val, model), epochs=Flags.epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=Flags.verbose)
    helpers.save_final(model, out_dir, f"{Flags.model_architecture}{' (mini data)' if dataset == 'mini' else ''}")
    return out_dir


@rc.command
def main(argv=None):
    return train(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
