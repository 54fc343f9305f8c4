"""Train a T-RECX MobileNetV1-0.25 on Visual Wake Words (original ``visual_wake_words/train_mobnet.py``).

    python -m trecx.visual_wake_words.train_mobnet model_with_ev_assist mobnet_ev [0.4 [lossNone]] \
        --data_dir data/vw_coco2014_96 --out_dir runs/trecx/vww

The original positional arguments: ``<model_save_name> <model_architecture> [W_aux] [lossNone]`` (``lossNone``:
no loss on the EE, the original's ``loss=[None, CE]``). MLPerf Tiny VWW recipe from ``mlperf_tiny``: three stages
of 20/10/20 epochs at Adam 1e-3/5e-4/2.5e-4 (Adam recompiled per stage), batch 32, rescale 1/255, augmentation,
10% validation split. With mobnet_ev the EE depthwise weights are copied into the EV layer before every batch
of stages 1-2 and of the first ``last_stage // 2 + 2`` epochs of stage 3 (the original's counter: 42 of 50).
``mobilenet_v1`` trains the plain MLPerf baseline with the same recipe. Writes ``<out_dir>/<model_save_name>/``:
args.json, history.csv, metrics.json, last.weights.h5 (resume), model.weights.h5, training_curves.png.
Resumable: rerunning the same command continues after the last finished epoch, in the right stage, with that
stage's Adam state (--exact_resume: each epoch's batches and augmentation depend on (seed, epoch) only, so the
resumed run ends as an uninterrupted one); another command on the run folder is refused unless --overwrite.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from trecx import helpers

ARCHITECTURES = ("mobnet_ev", "mobnet_noev", "mobilenet_v1")
W_AUX = 0.4  # the paper's choice for MobileNet (the original script's fallback was 0.3)
NO_EE_LOSS = "lossNone"


def transfer_epochs_vww(epochs_per_stage):
    """Epochs with weight transfer in the original 3-stage schedule: every epoch of the earlier stages, then
    epochs 0..last//2 + 1 of the last one (its callback stops after ``epoch > last // 2``)."""
    *earlier, last = epochs_per_stage
    return int(sum(earlier) + min(last // 2 + 2, last))


def get_args_parser(add_help=True):
    from mlperf_tiny.visual_wake_words import train_vww as vww

    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("model_save_name", help="name of the run folder under --out_dir (and of the trace files)")
    parser.add_argument("model_architecture", type=rc.name_in(ARCHITECTURES, "architecture"),
                        help=f"which model to train: {', '.join(ARCHITECTURES)} (mobilenet_v1: the plain MLPerf "
                             "baseline without early exit)")
    parser.add_argument("W_aux", nargs="?", type=rc.nonnegative_float, default=W_AUX,
                        help="weight (>= 0) of the early exit's cross-entropy")
    parser.add_argument("loss_mode", nargs="?", choices=(NO_EE_LOSS, "lossEE"), default="lossEE",
                        help="lossNone: train without the EE loss (original 4th argument)")
    parser.add_argument("--data_dir", default="vw_coco2014_96", help="folder with person/ and non_person/")
    parser.add_argument("--out_dir", default="trained_models", help="parent folder of the run folder")
    parser.add_argument("--epochs_per_stage", type=rc.positive_int, nargs="+", default=list(vww.EPOCHS_PER_STAGE))
    parser.add_argument("--learning_rates", type=rc.positive_float, nargs="+", default=list(vww.LEARNING_RATES),
                        help="Adam learning rate of each stage (Adam is recompiled per stage)")
    parser.add_argument("--batch_size", type=rc.positive_int, default=vww.BATCH_SIZE)
    parser.add_argument("--validation_split", type=rc.open_fraction, default=vww.VALIDATION_SPLIT,
                        help="held-out fraction, in (0, 1)")
    parser.add_argument("--seed", type=rc.nonnegative_int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    parser.add_argument("--exact_resume", action="store_true", help=helpers.EXACT_RESUME_HELP)
    helpers.add_init_from_base_flag(parser)
    parser.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return parser


def train(args):
    from mlperf_tiny import run_utils
    from mlperf_tiny.registry import get_model
    from mlperf_tiny.visual_wake_words import train_vww as vww

    rc.check(len(args.epochs_per_stage) == len(args.learning_rates),
             f"--epochs_per_stage has {len(args.epochs_per_stage)} stages but --learning_rates "
             f"{len(args.learning_rates)}: give one learning rate per stage")
    helpers.check_init_from_base(args)
    out_dir = Path(args.out_dir) / args.model_save_name
    try:
        counts = vww.check_vww_dir(args.data_dir, verify_images=False)
    except vww.DatasetError as err:
        raise rc.UsageError(str(err)) from None
    dataset = vww.dataset_label(args.data_dir)
    if helpers.claim_training_run(args, out_dir, {"dataset": dataset, "images_per_class": counts}):
        return out_dir
    run_utils.set_seed(args.seed)
    if args.exact_resume:
        run_utils.resumable_dropout()
    train_flow, val_flow = vww.make_generators(args.data_dir, args.batch_size, args.validation_split, args.seed)
    w_aux = 0.0 if args.loss_mode == NO_EE_LOSS else args.W_aux
    model = get_model(args.model_architecture, input_shape=(vww.IMAGE_SIZE, vww.IMAGE_SIZE, 3),
                      num_classes=len(vww.CLASS_NAMES))
    helpers.init_from_base(args, model)
    total_epochs = int(sum(args.epochs_per_stage))
    args.isEV = args.model_architecture.endswith("_ev")  # the original always transfers for mobnet_ev
    epochs_done = None
    for (first, end), learning_rate in zip(vww.stage_bounds(args.epochs_per_stage), args.learning_rates):
        loss_weights = helpers.compile_model(model, args.model_architecture, w_aux, learning_rate)  # fresh Adam
        if epochs_done is None:  # the weights of the resume point (0: a new run)
            epochs_done = run_utils.resume_initial_epoch(out_dir, model, restore_optimizer=False)
            if epochs_done:
                print(f"resuming {out_dir} after epoch {epochs_done}")
        if epochs_done >= end:
            continue
        if epochs_done > first:  # resumed inside this stage: its Adam state is in the resume point
            run_utils.resume_initial_epoch(out_dir, model)
        callbacks = helpers.early_exit_callbacks(args, loss_weights, total_epochs, (),
                                                 transfer_epochs_vww(args.epochs_per_stage))
        callbacks += run_utils.training_callbacks(out_dir, extra_metrics={"dataset": dataset},
                                                  total_epochs=total_epochs)
        start = max(epochs_done, first)
        train_data, steps, val_data, val_steps, extra = helpers.keras_fit_data(
            train_flow, val_flow, model, args.seed, start, end, args.exact_resume, one_hot=True)
        model.fit(train_data, steps_per_epoch=steps, epochs=end, initial_epoch=start, validation_data=val_data,
                  validation_steps=val_steps, callbacks=[*extra, *callbacks], verbose=args.verbose)
        epochs_done = end
    helpers.save_final(model, out_dir, f"{args.model_architecture}{' (mini data)' if dataset == 'mini' else ''}")
    return out_dir


@rc.command
def main(argv=None):
    return train(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
