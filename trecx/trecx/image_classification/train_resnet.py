"""Train a T-RECX (or baseline early-exit) ResNet-8 on CIFAR-10 (original ``train_resnet.py``).

    python -m trecx.image_classification.train_resnet --model_architecture resnet_ev --isEV --isTrecx \
        --W_aux 0.5 --model_save_name model_with_ev_assist --data_dir data/cifar-10-batches-py --out_dir runs/trecx/ic

MLPerf Tiny IC recipe (from mlperf_tiny): Adam, lr 1e-3 * 0.99^epoch, batch 32, 500 epochs, augmentation
(rotation 15, shifts 0.1, hflip), raw 0..255 pixels. Joint loss CE(final) + W_aux CE(EE) (+ L2). With --isEV
the EE depthwise weights are copied into the EV depthwise layer before every batch of epochs 0..(epochs // 5) * 4 + 1
(402 of 500, as the original callback).
Resumable: rerunning the same command continues after the last finished epoch.
"""

import argparse
import sys
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
from mlperf_tiny.run_utils import run_cli

from trecx import helpers

ARCHITECTURES = ("resnet_ev", "resnet_noev", "resnet_sdn", "resnet_branchynet", "resnet_baselineEE", "resnet_v1_eembc")
W_AUX = 0.5  # chosen in the paper to maximise the final exit's standalone accuracy (ResNet)
SDN_MAX_TAUS = (0.33, 0.66)  # SDN's C_i: relative cost of each internal classifier


def get_args_parser(add_help=True):
    from mlperf_tiny.image_classification import train as ic

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False)
    parser.add_argument("--model_architecture", choices=ARCHITECTURES, default="resnet_ev",
                        help="which model to train (resnet_v1_eembc: the plain baseline without early exit)")
    helpers.add_trecx_training_flags(parser, W_AUX)
    parser.add_argument("--data_dir", default="cifar-10-batches-py", help="folder with the CIFAR-10 python pickles")
    parser.add_argument("--out_dir", default="trained_models", help="parent folder of the run folder")
    parser.add_argument("--epochs", type=int, default=ic.EPOCHS)
    parser.add_argument("--batch_size", type=int, default=ic.BATCH_SIZE)
    parser.add_argument("--learning_rate", type=float, default=ic.LEARNING_RATE, help="lr of epoch 0")
    parser.add_argument("--lr_decay", type=float, default=ic.LR_DECAY, help="lr multiplier per epoch")
    parser.add_argument("--horizontal_flip", action=argparse.BooleanOptionalAction, default=True,
                        help="random horizontal flips (MLPerf recipe); the MINI recipe turns them off because the "
                             "mini CIFAR-10 classes are digits, which flipping turns into other shapes")
    parser.add_argument("--num_train_samples", type=int, default=-1, help="use only the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--distribute", choices=("default", "mirrored"), default="default",
                        help="tf.distribute strategy (mirrored: every local GPU)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    return parser


def train(args):
    import tensorflow as tf
    from mlperf_tiny import run_utils
    from mlperf_tiny.image_classification import train as ic
    from mlperf_tiny.registry import get_model

    helpers.check_ev_flag(args)
    out_dir = Path(args.out_dir) / args.model_save_name
    out_dir.mkdir(parents=True, exist_ok=True)
    run_utils.set_seed(args.seed)
    x_train, _, y_train, _, _, _, label_names = ic.load_cifar_10_data(args.data_dir)
    if args.num_train_samples > 0:
        x_train, y_train = x_train[: args.num_train_samples], y_train[: args.num_train_samples]
    y_train = y_train.argmax(1)
    dataset = ic.dataset_label(args.data_dir)
    run_utils.save_args({**vars(args), "dataset": dataset, "num_train_images": len(x_train)}, out_dir)

    with ic.distribute_strategy(args.distribute).scope():
        model = get_model(args.model_architecture, input_shape=x_train.shape[1:], num_classes=len(label_names))
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
        model.fit(helpers.make_multi_output_sequence(flow, model), epochs=args.epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=args.verbose)
    helpers.save_final(model, out_dir, f"{args.model_architecture}{' (mini data)' if dataset == 'mini' else ''}")
    return out_dir


def main(argv=None):
    from mlperf_tiny.image_classification.train import DatasetError

    args = get_args_parser().parse_args(argv)
    return run_cli(train, args, user_errors=(DatasetError,))


if __name__ == "__main__":
    sys.exit(main())
