"""Write the EEMBC performance samples of CIFAR-10 (v0.5 ``perf_samples_loader.py``).

    python -m mlperf_tiny.image_classification.perf_samples_loader --data_dir ... --out_dir runs/ic/perf_samples

For each test image index in ``perf_samples_idxs.npy``: ``<out_dir>/<test filename>.bin`` (the 32x32x3 uint8 HWC
pixels, 3072 bytes) and a row ``<name>.bin,10,<label>`` in ``y_labels.csv`` beside the folder. The reference's
index file is not redistributed: pass it with ``--perf_samples_idxs``; otherwise 200 indices are drawn, 20 per
class with seed 42 (the balanced scheme upstream adopted in 2022), and saved for reproducibility. Every file is
written atomically; ``y_labels.csv`` last. Only ``test_batch`` is read.
"""

from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401
from mlperf_tiny.image_classification.train import load_cifar_10_test

SAMPLES_PER_CLASS = 20
PERF_SAMPLES_SEED = 42
IDENTITY = ("data_dir", "out_dir", "perf_samples_idxs")


def balanced_indices(labels, per_class=SAMPLES_PER_CLASS, seed=PERF_SAMPLES_SEED):
    """``per_class`` random indices of each class (fewer if a class is smaller), sorted."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=min(per_class, int(np.sum(labels == c))), replace=False)
              for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Write the CIFAR-10 EEMBC perf samples",
                               add_help=add_help, allow_abbrev=False)
    parser.add_argument("--data_dir", default="cifar-10-batches-py")
    parser.add_argument("--out_dir", default="perf_samples")
    parser.add_argument("--perf_samples_idxs", default=None, help="the reference's perf_samples_idxs.npy")
    parser.add_argument("--overwrite", action="store_true", help="replace perf samples made from other data")
    return parser


def write_perf_samples(args):
    from mlperf_tiny.image_classification.model_converter import calibration_indices
    from mlperf_tiny.run_utils import claim_eval_dir

    test_data, test_labels, label_names, test_filenames = load_cifar_10_test(args.data_dir)
    labels = test_labels.argmax(axis=1)
    indices = (calibration_indices(len(test_data), args.perf_samples_idxs) if args.perf_samples_idxs
               else balanced_indices(labels))
    out_dir = Path(args.out_dir)
    claim_eval_dir(out_dir.parent, "perf_samples", args, IDENTITY, args.overwrite)
    with rc.atomic_path(out_dir.parent / "perf_samples_idxs.npy") as tmp:
        np.save(tmp, indices)
    rows = []
    for i in indices:
        name = Path(test_filenames[i].decode() if isinstance(test_filenames[i], bytes) else test_filenames[i])
        bin_name = name.with_suffix(".bin").name
        rc.write_bytes(out_dir / bin_name, np.ascontiguousarray(test_data[i], dtype=np.uint8).tobytes())
        rows.append(f"{bin_name},{len(label_names)},{labels[i]}\n")
    rc.write_text(out_dir.parent / "y_labels.csv", "".join(rows))
    print(f"wrote {len(rows)} perf samples to {out_dir} and {out_dir.parent / 'y_labels.csv'}")
    return indices


@rc.command
def main(argv=None):
    write_perf_samples(get_args_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    rc.entry(main)
