"""``make bench-mlperf``: training samples/s of the four reference models and the KWS epoch time with cached vs
per-epoch MFCC, printed as tables (figures, not tests)."""

import time

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

# name -> (registry name, input shape, number of outputs or None for the autoencoder, batch size of the recipe)
MODELS = {
    "DS-CNN (KWS)": ("ds_cnn", (49, 10, 1), 12, 100),
    "FC-AE (AD)": ("fc_autoencoder", (640,), None, 512),
    "ResNet-8 (IC)": ("resnet_v1_eembc", (32, 32, 3), 10, 32),
    "MobileNetV1-0.25 (VWW)": ("mobilenet_v1", (96, 96, 3), 2, 32),
}


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="MLPerf Tiny training-throughput benchmark", add_help=add_help,
                               allow_abbrev=False)
    parser.add_argument("--steps", type=rc.positive_int, default=20,
                        help="timed training steps per model (after 3 warm-up)")
    parser.add_argument("--kws_data_dir", default="data/mini", help="Speech Commands dir for the MFCC timing")
    parser.add_argument("--kws_epochs", type=rc.positive_int, default=2,
                        help="epochs timed for cached vs per-epoch MFCC")
    return parser


def training_throughput(registry_name, input_shape, num_classes, batch_size, steps):
    import tensorflow as tf

    from mlperf_tiny.registry import get_model, list_models

    if registry_name not in list_models():
        return None
    model = get_model(registry_name)
    x = np.random.default_rng(0).normal(size=(batch_size, *input_shape)).astype(np.float32)
    if num_classes is None:
        y, loss = x, "mse"
    else:
        y, loss = np.zeros(batch_size, np.int64), "sparse_categorical_crossentropy"
    model.compile(tf.keras.optimizers.Adam(), loss)
    for _ in range(3):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch_size / (time.perf_counter() - start)


def kws_epoch_times(data_dir, epochs, cache):
    from mlperf_tiny.keyword_spotting import get_dataset, keras_model, kws_util

    flags = kws_util.parse_command(["--data_dir", data_dir, "--batch_size", "16",
                                    "--cache_features" if cache else "--no-cache_features"])
    ds_train, _, _ = get_dataset.get_training_data(flags)
    model = keras_model.get_model(flags)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(ds_train, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
    return times


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    from mlperf_tiny.keyword_spotting import get_dataset

    get_dataset.resolve_data_source(args.kws_data_dir)  # a missing data folder is reported before the timings
    rows = []
    for label, (name, shape, classes, batch) in MODELS.items():
        rate = training_throughput(name, shape, classes, batch, args.steps)
        rows.append((label, batch, "not registered" if rate is None else f"{rate:,.0f}"))
    print(f"\n{'model':<24} {'batch':>6} {'train samples/s':>16}")
    for label, batch, rate in rows:
        print(f"{label:<24} {batch:>6} {rate:>16}")
    cached = kws_epoch_times(args.kws_data_dir, args.kws_epochs, cache=True)
    per_epoch = kws_epoch_times(args.kws_data_dir, args.kws_epochs, cache=False)
    print(f"\nKWS epoch time on {args.kws_data_dir} (s, epochs 1..{args.kws_epochs})")
    print(f"{'MFCC cached':<24} " + " ".join(f"{t:7.1f}" for t in cached))
    print(f"{'MFCC every epoch (v0.5)':<24} " + " ".join(f"{t:7.1f}" for t in per_epoch))
    return 0


if __name__ == "__main__":
    rc.entry(main)
