"""Check an ImageNet (ILSVRC2012) ImageFolder tree and explain how to obtain or fix it.

    python -m dero.prepare_imagenet --data-path data/imagenet [--extract-from DIR_WITH_TARS]

ImageNet cannot be downloaded without an account: register at https://image-net.org/download-images.php,
download ``ILSVRC2012_img_train.tar`` (138 GB) and ``ILSVRC2012_img_val.tar`` (6.3 GB) plus
``ILSVRC2012_devkit_t12.tar.gz``, then run this script with ``--extract-from`` the folder holding them: it
verifies their md5 sums and lets torchvision's ``ImageNet`` unpack them into ``train/<wnid>/`` and
``val/<wnid>/`` (the val images sorted into class folders using the devkit). Without ``--extract-from`` it only
checks the layout: 1000 class folders per split, 1,281,167 train and 50,000 val images.
"""

import argparse
import os
import sys

import run_contract as rc

# md5 sums published with torchvision.datasets.ImageNet
ARCHIVE_MD5 = {
    "ILSVRC2012_img_train.tar": "1d675b47d978889d74fa0da5fadfb00e",
    "ILSVRC2012_img_val.tar": "29b22e2961454d5413ddabcf34fc5622",
    "ILSVRC2012_devkit_t12.tar.gz": "fa75699e90414af021442c21a62c3abf",
}
IMAGENET_CLASSES = 1000
IMAGENET_IMAGES = {"train": 1_281_167, "val": 50_000}
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")


def check_layout(root: str, expected_classes: int | None = IMAGENET_CLASSES,
                 expected_images: dict | None = None) -> dict:
    """Count classes and images per split; raise ``FileNotFoundError``/``ValueError`` explaining what is wrong."""
    report = {}
    for split in ("train", "val"):
        split_dir = os.path.join(root, split)
        if not os.path.isdir(split_dir):
            raise FileNotFoundError(
                f"'{split_dir}' does not exist. Expected {root}/train/<wnid>/*.JPEG and {root}/val/<wnid>/*.JPEG. "
                f"See `python -m dero.prepare_imagenet --help` for how to get ImageNet, or use the offline mini "
                f"set (`make mini-data`, data/mini/imagenet).")
        classes = sorted(e.name for e in os.scandir(split_dir) if e.is_dir())
        loose = [e.name for e in os.scandir(split_dir) if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)]
        if loose:
            raise ValueError(f"'{split_dir}' holds {len(loose)} images directly (e.g. {loose[0]}): they must be "
                             "sorted into <wnid>/ class folders (run with --extract-from to let the devkit do it)")
        images = sum(1 for c in classes for f in os.scandir(os.path.join(split_dir, c))
                     if f.name.lower().endswith(IMAGE_EXTENSIONS))
        report[split] = {"classes": len(classes), "images": images, "class_names": classes}
        if expected_classes is not None and len(classes) != expected_classes:
            raise ValueError(f"'{split_dir}' has {len(classes)} class folders, expected {expected_classes}")
        if expected_images and images != expected_images[split]:
            print(f"warning: {split} has {images:,} images, ImageNet-1k has {expected_images[split]:,}",
                  file=sys.stderr)
    if report["train"]["class_names"] != report["val"]["class_names"]:
        raise ValueError("train/ and val/ have different class folders")
    return report


def extract(archives_dir: str, root: str) -> None:
    from torchvision.datasets import ImageNet
    from torchvision.datasets.utils import check_integrity

    for name, md5 in ARCHIVE_MD5.items():
        path = os.path.join(archives_dir, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} missing: download it from https://image-net.org/download-images.php")
        print(f"checking md5 of {path} ...")
        if not check_integrity(path, md5):
            raise ValueError(f"{path} is corrupt (md5 != {md5}): download it again")
        os.makedirs(root, exist_ok=True)
        link = os.path.join(root, name)
        if not os.path.exists(link):
            os.symlink(os.path.abspath(path), link)
    for split in ("train", "val"):  # torchvision unpacks and sorts val into class folders
        ImageNet(root, split=split)


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = rc.ArgumentParser(description=__doc__.split("\n")[0], add_help=add_help,
                                     epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-path", required=True, help="ImageFolder root to check (or create)")
    parser.add_argument("--extract-from", default=None, help="folder with the ILSVRC2012 tar files to unpack")
    parser.add_argument("--num-classes", type=rc.positive_int, default=IMAGENET_CLASSES,
                        help="expected class folders (10 for the mini set)")
    return parser


@rc.command
def main(argv=None) -> dict:
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns the report (or raises FileNotFoundError/ValueError)."""
    args = get_args_parser().parse_args(argv)
    try:
        if args.extract_from:
            extract(args.extract_from, args.data_path)
        full = args.num_classes == IMAGENET_CLASSES
        report = check_layout(args.data_path, args.num_classes, IMAGENET_IMAGES if full else None)
    except (FileNotFoundError, ValueError) as e:
        raise rc.UsageError(str(e).strip("'\"")) from e
    for split in ("train", "val"):
        print(f"{split}: {report[split]['classes']} classes, {report[split]['images']:,} images")
    print(f"ok: {args.data_path} is a valid ImageFolder for `python -m dero.train --data-path {args.data_path}`")
    return report


def cli() -> None:
    rc.entry(main)


if __name__ == "__main__":
    cli()
