"""Flags shared by the KWS scripts (v0.5 ``kws_util.py``), the LR schedule and training callbacks.

The v0.5 flag names and defaults are kept. Differences: unknown flags are errors (v0.5 used
``parse_known_args``); ``--run_test_set False`` now means False (v0.5 ``type=bool`` made any string True);
``--data_dir`` / ``--bg_path`` default to ``~/data`` / the working directory at parse time, as before. Flags
after "added" are not in v0.5: they select the data source and switch on the fixes of the reference quirks.
"""

import argparse
import os

import run_contract as rc

from mlperf_tiny.registry import model_name


def str2bool(value):
    if isinstance(value, bool):
        return value
    if value.lower() in ("true", "1", "yes", "y"):
        return True
    if value.lower() in ("false", "0", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {value!r}")


def sample_count(text):
    """-1 (all) or a count >= 1 (0 would train or evaluate nothing)."""
    value = rc.int_range(-1)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 is not -1 (all) or a count >= 1")
    return value


sample_count.__name__ = "sample count"


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="MLPerf Tiny keyword spotting (DS-CNN on Speech Commands)",
                               add_help=add_help, allow_abbrev=False)
    add = parser.add_argument
    add("--data_dir", type=str, default=os.path.join(os.path.expanduser("~"), "data"),
        help="tfds data_dir, or the folder holding the extracted speech_commands tarballs")
    add("--bg_path", type=str, default=None,
        help="folder whose _background_noise_/ is mixed into training clips (default: the working directory, "
             "as v0.5; tfds does not put the noise files there, so a default run trains without noise)")
    add("--background_volume", type=rc.fraction, default=0.1, help="unused, as in v0.5 (0.1 is hard-coded)")
    add("--background_frequency", type=rc.fraction, default=0.8, help="unused, as in v0.5 (0.8 is hard-coded)")
    add("--silence_percentage", type=rc.float_range(0, 100), default=10.0, help="unused, as in v0.5")
    add("--unknown_percentage", type=rc.float_range(0, 100), default=10.0, help="unused, as in v0.5")
    add("--time_shift_ms", type=rc.nonnegative_float, default=100.0, help="time shift range; only used with --fix_time_shift")
    add("--sample_rate", type=rc.positive_int, default=16000, help="expected sample rate of the wavs")
    add("--clip_duration_ms", type=rc.positive_int, default=1000, help="expected duration of the wavs in ms")
    add("--window_size_ms", type=rc.positive_float, default=30.0, help="STFT frame length in ms")
    add("--window_stride_ms", type=rc.positive_float, default=20.0, help="STFT frame step in ms")
    add("--feature_type", type=str, default="mfcc", choices=["mfcc", "lfbe", "td_samples"], help="input features")
    add("--dct_coefficient_count", type=rc.positive_int, default=10, help="MFCC coefficients (or LFBE mel bins)")
    add("--num_mel_bins", type=rc.positive_int, default=40,
        help="mel filterbank size of the MFCC (v0.5: 40; the depth-pruning hardware variant uses 10)")
    add("--epochs", type=rc.positive_int, default=36, help="training epochs (build_ref.sh passes 30)")
    add("--num_train_samples", type=sample_count, default=-1, help="use only this many training clips (-1: all)")
    add("--num_val_samples", type=sample_count, default=-1, help="use only this many validation clips (-1: all)")
    add("--num_test_samples", type=sample_count, default=-1, help="use only this many test clips (-1: all)")
    add("--batch_size", type=rc.positive_int, default=100, help="batch size")
    add("--num_bin_files", type=rc.positive_int, default=1000, help="EEMBC .bin inputs to write (make_bin_files)")
    add("--bin_file_path", type=str, default=os.path.join(os.path.expanduser("~"), "kws_test_files"),
        help="where EEMBC .bin inputs are written")
    add("--model_architecture", type=model_name, default="ds_cnn", help="registered model: ds_cnn (v0.5 code, 24x5 final pool), ds_cnn_full_pool (the shipped "
             "kws_ref_model's 25x5 pool), fc4 or td_cnn")
    add("--run_test_set", type=str2bool, nargs="?", const=True, default=True,
        help="train.py: evaluate on the test set at the end (True/False)")
    add("--saved_model_path", type=str, default="trained_models/kws_model.h5",
        help="train.py: where the trained model goes; quantize.py/evaluate.py: the model to load")
    add("--model_init_path", type=str, default=None, help="model to start training from (or to evaluate)")
    add("--tfl_file_name", default="trained_models/kws_model.tflite",
        help="TFLite file written by quantize.py and read by eval_quantized_model.py")
    add("--learning_rate", type=rc.positive_float, default=0.00001, help="compile-time LR (the schedule overrides it)")
    add("--lr_sched_name", type=str, default="step_function", choices=["step_function"], help="LR schedule")
    add("--plot_dir", type=str, default="./plots", help="where training-curve plots go")
    add("--target_set", type=str, default="test", choices=["test", "val", "train", "calibration"],
        help="eval_quantized_model.py / evaluate.py: which set to measure")
    added = parser.add_argument_group("added (not in v0.5)")
    added.add_argument("--data_source", choices=["auto", "tfds", "directory"], default="auto",
                       help="tfds: prepared tfds data_dir; directory: extracted tarballs; auto: detect")
    added.add_argument("--download", action="store_true",
                       help="let tfds download and prepare Speech Commands (2.4 GB; off by default: fail fast)")
    added.add_argument("--cache_features", action=argparse.BooleanOptionalAction, default=True,
                       help="compute MFCCs once and cache them (v0.5 recomputed them every epoch: --no-cache_features)")
    added.add_argument("--cal_idxs_file", type=str, default=None,
                       help="quant_cal_idxs.txt (120 validation positions); default: regenerate with seed 2")
    added.add_argument("--fix_time_shift", action="store_true",
                       help="fix: really shift training clips by up to --time_shift_ms (v0.5's shift is a no-op)")
    added.add_argument("--noise_per_clip", action="store_true",
                       help="fix: draw background noise per clip (v0.5 draws one slice/volume for the whole run)")
    added.add_argument("--shuffle_examples", action="store_true",
                       help="fix: shuffle clips before batching (v0.5 shuffles whole batches of a fixed order)")
    added.add_argument("--dw_regularizer", action="store_true",
                       help="fix: apply L2 to depthwise kernels (Keras 2 ignored v0.5's kernel_regularizer there)")
    added.add_argument("--faithful_cast", action=argparse.BooleanOptionalAction, default=True,
                       help="eval_quantized_model.py: cast x/scale+zp to int8 without rounding or clipping, as "
                            "v0.5 (--no-faithful_cast rounds and clips)")
    added.add_argument("--seed", type=rc.nonnegative_int, default=0, help="seed for python/numpy/TF")
    added.add_argument("--mini", action="store_true", help="label metrics and plots as mini-data results")
    added.add_argument("--strategy", choices=["default", "mirrored"], default="default",
                       help="tf.distribute strategy for training (mirrored: all visible GPUs)")
    return parser


def parse_command(argv=None):
    """Parse the KWS flags (v0.5 name). Unknown flags are errors."""
    return get_args_parser().parse_args(argv)


def step_function(epoch, lr=None):
    """v0.5 ``step_function``: 5e-4 for epochs 0-11, 1e-4 for 12-23, 2e-5 for 24-35, then 1e-5."""
    if epoch < 12:
        return 0.0005
    if epoch < 24:
        return 0.0001
    if epoch < 36:
        return 0.00002
    return 0.00001


LR_SCHEDULES = {"step_function": step_function}


def get_callbacks(args):
    """The LR scheduler of v0.5 (it had no checkpointing; train.py adds the resumable callbacks)."""
    import tensorflow as tf

    return [tf.keras.callbacks.LearningRateScheduler(LR_SCHEDULES[args.lr_sched_name], verbose=0)]


