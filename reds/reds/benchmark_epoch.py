"""Time the joint fine-tuning epoch of the vision pipeline, and its input pipeline alone (prints a table).

    python -m reds.benchmark_epoch --data_dir data/fashion_mnist [--pretrained_weights F.keras] [--steps 100]

One "epoch" here is what ``forward.train_joint`` does per epoch on ``--steps`` training batches of 128: the
augmented batches (flip, rotation, shift), the four-subnetwork train step (faithful step-1 Adam) and the evaluation
of every subnetwork on ``--test_samples`` test images (the epoch's ``seconds`` in the phase history; the first
epoch, which traces the graphs, is not counted); the widths are the ones the knapsack
chose for the shipped Fashion-MNIST model. It runs ``--repeats`` epochs and prints each figure's median, the
input pipeline alone (same batches, no model) and the time extrapolated to the full 60,000 images. It uses only the
pipeline's public functions, so the same command run against an older checkout (``PYTHONPATH=<old>/reds``)
measures the code before a change.
"""

import csv
import statistics
import tempfile
import time
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

FASHION_MNIST_WIDTHS = [(64, 64, 64, 64, 64), (23, 25, 44, 18, 64), (34, 40, 58, 34, 64), (48, 45, 63, 56, 64)]
BATCH_SIZE = 128  # the vision scripts' batch
FULL_TRAIN_SAMPLES = 60_000


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description=__doc__.splitlines()[0], add_help=add_help)
    p.add_argument("--data_dir", required=True, help="Fashion-MNIST idx folder (real or data/mini/fashion_mnist)")
    p.add_argument("--pretrained_weights", default=None, help="the shipped .keras model (default: random weights)")
    p.add_argument("--steps", type=rc.positive_int, default=100, help="training batches per timed epoch")
    p.add_argument("--test_samples", type=rc.positive_int, default=10_000, help="test images evaluated per epoch")
    p.add_argument("--repeats", type=rc.positive_int, default=3, help="timed epochs (the median is reported)")
    p.add_argument("--seed", type=rc.nonnegative_int, default=0)
    p.add_argument("--threads", type=rc.nonnegative_int, default=0,
                   help="TensorFlow intra- and inter-op threads (0: TensorFlow's default, one per core)")
    return p


def _median(values):
    return statistics.median(values) if values else float("nan")


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):  # before TensorFlow starts
        rc.require_file(Path(args.data_dir) / name, "Fashion-MNIST idx file",
                        "make reds-fashion-mnist-data, or data/mini/fashion_mnist (make mini-data)")
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from reds import pipeline
    from reds.utils import datasets, forward
    from reds.utils.keyword_spotting_models import vision_ds_cnn
    from reds.utils.reds_model import RedsModel, extract_subnetwork, kernel_parameter_count, subnetwork_widths

    tf.keras.utils.set_random_seed(args.seed)
    data = datasets.load_fashion_mnist(args.data_dir)
    samples = args.steps * BATCH_SIZE
    rc.check(len(data["train"][0]) >= samples, f"--steps {args.steps} needs {samples} training images, "
                                               f"{args.data_dir} has {len(data['train'][0])}")
    data = {"train": (data["train"][0][:samples], data["train"][1][:samples]),
            "test": (data["test"][0][: args.test_samples], data["test"][1][: args.test_samples])}
    data["validation"] = data["test"]
    model = vision_ds_cnn()
    if args.pretrained_weights:
        model.load_weights(str(rc.require_file(args.pretrained_weights, "pretrained weights")))
    widths = subnetwork_widths(model, FASHION_MNIST_WIDTHS)
    params = [kernel_parameter_count(extract_subnetwork(model, w, vision_ds_cnn)) for w in widths]
    script_args = pipeline.get_args_parser({"dataset": "fashion_mnist"}).parse_args([])
    augment = pipeline.augmentation(script_args, data, args.seed)
    reds_model = RedsModel(model, widths)
    variables = [v for layer in model.layers if not isinstance(layer, tf.keras.layers.BatchNormalization)
                 for v in layer.trainable_variables]
    optimizer = forward.make_optimizer([1e-3], [], False)

    input_seconds = []
    for repeat in range(args.repeats + 1):  # the first pass traces the augmentation graph: not timed
        start = time.perf_counter()
        for xb, yb in forward.training_batches(data, BATCH_SIZE, args.seed + repeat, augment, (args.seed, "bench", repeat)):
            np.asarray(xb), np.asarray(yb)
        input_seconds.append(time.perf_counter() - start)
    input_seconds = input_seconds[1:]
    cpu_start = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        # one call, as the pipeline makes per phase; its first epoch traces the train step: not timed
        forward.train_joint(reds_model, variables, data, forward.loss_weights(params), args.repeats + 1, optimizer,
                            BATCH_SIZE, Path(tmp), "joint", lambda _: None, True, augment, args.seed)
        with open(Path(tmp) / "joint_history.csv", newline="") as f:
            epoch_seconds = [float(row["seconds"]) for row in csv.DictReader(f)][1:]
    cpu_per_epoch = (time.process_time() - cpu_start) / (args.repeats + 1)  # includes the traced first epoch
    eval_seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        forward.evaluate(reds_model, *data["test"])
        eval_seconds.append(time.perf_counter() - start)
    epoch, evaluation, inputs = _median(epoch_seconds), _median(eval_seconds), _median(input_seconds)
    step_ms = 1e3 * (epoch - evaluation) / args.steps
    full = FULL_TRAIN_SAMPLES / BATCH_SIZE * step_ms / 1e3 + evaluation
    rows = [("epoch (train steps + evaluation)", f"{epoch:.1f} s"),
            ("train step (epoch - evaluation) / steps", f"{step_ms:.0f} ms"),
            (f"input pipeline alone, per step ({args.steps} batches)", f"{1e3 * inputs / args.steps:.1f} ms"),
            (f"evaluation of 4 subnetworks on {len(data['test'][1])} images", f"{evaluation:.1f} s"),
            (f"full epoch estimate ({FULL_TRAIN_SAMPLES:,} images)", f"{full:.0f} s"),
            ("process CPU time per epoch (all threads, first epoch included)", f"{cpu_per_epoch:.1f} s")]
    print(f"medians of {args.repeats} epochs of {args.steps} steps ({Path(forward.__file__).parent.parent})")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    rc.entry(main)
