"""Train a T-RECX (or baseline early-exit) ResNet-8 on CIFAR-10 (original ``train_resnet.py``).

    python -m trecx.image_classification.train_resnet --model_architecture resnet_ev --isEV --isTrecx \
        --W_aux 0.5 --model_save_name model_with_ev_assist --data_dir data/cifar-10-batches-py --out_dir runs/trecx/ic

MLPerf Tiny IC recipe (from mlperf_tiny): Adam, lr 1e-3 * 0.99^epoch, batch 32, 500 epochs, augmentation
(rotation 15, shifts 0.1, hflip), raw 0..255 pixels. Joint loss CE(final) + W_aux CE(EE) (+ L2). With --isEV
the EE depthwise weights are copied into the EV depthwise layer before every batch of epochs 0..(epochs // 5) * 4 + 1
(402 of 500, as the original callback).
Resumable: rerunning the same command continues after the last finished epoch (weights and optimizer state; with
--exact_resume each epoch's batch order and augmentation depend on (seed, epoch) only, so a resumed run trains on
what an uninterrupted one would); a different command on the same run folder is refused unless --overwrite.
"""

import argparse
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

from trecx import helpers

ARCHITECTURES = ("resnet_ev", "resnet_noev", "resnet_sdn", "resnet_branchynet", "resnet_baselineEE", "resnet_v1_eembc")
W_AUX = 0.5  # chosen in the paper to maximise the final exit's standalone accuracy (ResNet)
SDN_MAX_TAUS = (0.33, 0.66)  # SDN's C_i: relative cost of each internal classifier


def get_args_parser(add_help=True):
    from mlperf_tiny.image_classification import train as ic

    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--model_architecture", type=rc.name_in(ARCHITECTURES, "architecture"), default="resnet_ev",
                        help=f"which model to train: {', '.join(ARCHITECTURES)} (resnet_v1_eembc: the plain baseline "
                             "without early exit)")
    helpers.add_trecx_training_flags(parser, W_AUX)
    parser.add_argument("--data_dir", default="cifar-10-batches-py", help="folder with the CIFAR-10 python pickles")
    parser.add_argument("--out_dir", default="trained_models", help="parent folder of the run folder")
    parser.add_argument("--epochs", type=rc.positive_int, default=ic.EPOCHS)
    parser.add_argument("--batch_size", type=rc.positive_int, default=ic.BATCH_SIZE)
    parser.add_argument("--learning_rate", type=rc.positive_float, default=ic.LEARNING_RATE, help="lr of epoch 0")
    parser.add_argument("--lr_decay", type=rc.float_range(0, 1, lo_open=True), default=ic.LR_DECAY,
                        help="lr multiplier per epoch, in (0, 1]")
    parser.add_argument("--horizontal_flip", action=argparse.BooleanOptionalAction, default=True,
                        help="random horizontal flips (MLPerf recipe); the MINI recipe turns them off because the "
                             "mini CIFAR-10 classes are digits, which flipping turns into other shapes")
    parser.add_argument("--num_train_samples", type=rc.int_range(-1), default=-1,
                        help="use only the first N training images (-1: all)")
    parser.add_argument("--seed", type=rc.nonnegative_int, default=0)
    parser.add_argument("--distribute", choices=("default", "mirrored"), default="default",
                        help="tf.distribute strategy (mirrored: every local GPU)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    return parser


def train(args):
    from mlperf_tiny import run_utils
    from mlperf_tiny.image_classification import train as ic

    helpers.check_ev_flag(args)
    helpers.check_init_from_base(args)
    rc.check(args.num_train_samples != 0, "--num_train_samples 0 would train on nothing (-1: all)")
    out_dir = Path(args.out_dir) / args.model_save_name
    x_train, _, y_train, _, _, _, label_names = ic.load_cifar_10_data(args.data_dir)
    if args.num_train_samples > 0:
        x_train, y_train = x_train[: args.num_train_samples], y_train[: args.num_train_samples]
    y_train = y_train.argmax(1)
    dataset = ic.dataset_label(args.data_dir)
    if helpers.claim_training_run(args, out_dir, {"dataset": dataset, "num_train_images": len(x_train)}):
        return out_dir
    import tensorflow as tf  # after the checks: a refused run answers without loading TF
    from mlperf_tiny.registry import get_model

    run_utils.set_seed(args.seed)
    if args.exact_resume:
        run_utils.resumable_dropout()

    with run_utils.distribute_strategy(args.distribute).scope():
        model = get_model(args.model_architecture, input_shape=x_train.shape[1:], num_classes=len(label_names))
        helpers.init_from_base(args, model)
        loss_weights = helpers.compile_model(model, args.model_architecture, args.W_aux, args.learning_rate)
    initial_epoch = run_utils.resume_initial_epoch(out_dir, model)
    if initial_epoch:
        print(f"resuming {out_dir} after epoch {initial_epoch}")

    augmentation = {**ic.AUGMENTATION, "horizontal_flip": args.horizontal_flip}
    flow = tf.keras.preprocessing.image.ImageDataGenerator(**augmentation).flow(
        x_train.astype(np.float32), y_train, batch_size=args.batch_size, seed=args.seed)
    callbacks = [tf.keras.callbacks.LearningRateScheduler(
        lambda epoch: ic.lr_schedule(epoch, args.learning_rate, args.lr_decay))]
    callbacks += helpers.early_exit_callbacks(args, loss_weights, args.epochs, SDN_MAX_TAUS)
    callbacks += run_utils.training_callbacks(out_dir, extra_metrics={"dataset": dataset}, total_epochs=args.epochs)
    if initial_epoch < args.epochs:
        train_data, steps, _, _, _ = helpers.keras_fit_data(flow, None, model, args.seed, initial_epoch, args.epochs,
                                                            args.exact_resume)
        model.fit(train_data, steps_per_epoch=steps, epochs=args.epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=args.verbose)
    helpers.save_final(model, out_dir, f"{args.model_architecture}{' (mini data)' if dataset == 'mini' else ''}")
    return out_dir


@rc.command
def main(argv=None):
    return train(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
