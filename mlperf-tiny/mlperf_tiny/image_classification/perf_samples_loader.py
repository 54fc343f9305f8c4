"""Write the EEMBC performance samples of CIFAR-10 (v0.5 ``perf_samples_loader.py``).

    python -m mlperf_tiny.image_classification.perf_samples_loader --data_dir ... --out_dir runs/ic/perf_samples

For each test image index in ``perf_samples_idxs.npy``: ``<out_dir>/<test filename>.bin`` (the 32x32x3 uint8 HWC
pixels, 3072 bytes) and a row ``<name>.bin,10,<label>`` in ``y_labels.csv`` beside the folder. The reference's
index file is not redistributed: pass it with ``--perf_samples_idxs``; otherwise 200 indices are drawn, 20 per
class with seed 42 (the balanced scheme upstream adopted in 2022), and saved for reproducibility.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import mlperf_tiny  # noqa: F401
from mlperf_tiny.image_classification.train import DatasetError, load_cifar_10_data
from mlperf_tiny.run_utils import run_cli

SAMPLES_PER_CLASS = 20
PERF_SAMPLES_SEED = 42


def balanced_indices(labels, per_class=SAMPLES_PER_CLASS, seed=PERF_SAMPLES_SEED):
    """``per_class`` random indices of each class (fewer if a class is smaller), sorted."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=min(per_class, int(np.sum(labels == c))), replace=False)
              for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def get_args_parser(add_help=True):
    parser = argparse.ArgumentParser(description="Write the CIFAR-10 EEMBC perf samples",
                                     add_help=add_help, allow_abbrev=False)
    parser.add_argument("--data_dir", default="cifar-10-batches-py")
    parser.add_argument("--out_dir", default="perf_samples")
    parser.add_argument("--perf_samples_idxs", default=None, help="the reference's perf_samples_idxs.npy")
    return parser


def write_perf_samples(args):
    _, _, _, test_data, test_filenames, test_labels, label_names = load_cifar_10_data(args.data_dir)
    labels = test_labels.argmax(axis=1)
    indices = np.load(args.perf_samples_idxs) if args.perf_samples_idxs else balanced_indices(labels)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir.parent / "perf_samples_idxs.npy", indices)
    rows = []
    for i in indices:
        name = Path(test_filenames[i].decode() if isinstance(test_filenames[i], bytes) else test_filenames[i])
        bin_name = name.with_suffix(".bin").name
        (out_dir / bin_name).write_bytes(np.ascontiguousarray(test_data[i], dtype=np.uint8).tobytes())
        rows.append(f"{bin_name},{len(label_names)},{labels[i]}\n")
    (out_dir.parent / "y_labels.csv").write_text("".join(rows))
    print(f"wrote {len(rows)} perf samples to {out_dir} and {out_dir.parent / 'y_labels.csv'}")
    return indices


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    return run_cli(write_perf_samples, args, user_errors=(DatasetError,))


if __name__ == "__main__":
    sys.exit(main())
