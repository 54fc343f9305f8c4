"""COCO 2017 in the layout the yolov5 loaders read, from the official zips or generated offline (mini).

    <root>/images/{train2017,val2017}/<12-digit id>.jpg
    <root>/labels/{train2017,val2017}/<12-digit id>.txt     one `class cx cy w h` line per box (0-1, class 0-79)
    <root>/{train2017,val2017}.txt                           image lists read by yolov5's loader
    <root>/annotations/instances_{train2017,val2017}.json    COCO JSON, read by pycocotools for mAP

``python -m dero.yolo.coco --data-path data/coco --download`` fetches the official image and annotation zips
(md5-checked; about 19 GB) and writes the labels from the annotations (crowd boxes skipped, as yolov5's
labels). ``--mini`` writes the offline mini set instead: scikit-image's bundled photos as backgrounds with
synthetic shapes pasted on them, each shape a box of one of three COCO classes (circle = sports ball,
rectangle = book, triangle = kite). It is a pipeline check, not COCO: its mAP says nothing about COCO's.
"""

import argparse
import hashlib
import json
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import run_contract as rc

SPLITS = ("train2017", "val2017")
OFFICIAL = {  # file -> (url, md5), as on cocodataset.org
    "train2017.zip": ("http://images.cocodataset.org/zips/train2017.zip", "cced6f7f71b7629ddf16f17bbcfab6b2"),
    "val2017.zip": ("http://images.cocodataset.org/zips/val2017.zip", "442b8da7639aecaf257c1dceb8ba8c80"),
    "annotations_trainval2017.zip": ("http://images.cocodataset.org/annotations/annotations_trainval2017.zip",
                                     "f4bbac642086de4f52a3fdda2de5fa2c"),
}
# COCO's 80 detection classes in yolov5's order and their ids in the 91-id annotation space.
NAMES = ("person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign "
         "parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella handbag tie "
         "suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard surfboard "
         "tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple sandwich orange broccoli carrot "
         "hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard "
         "cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear hair_drier "
         "toothbrush").replace("_", "~").split()
NAMES = tuple(n.replace("~", " ") for n in NAMES)
COCO91_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32,
              33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
              60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90)
MINI_SHAPES = {"circle": NAMES.index("sports ball"), "rectangle": NAMES.index("book"), "triangle": NAMES.index("kite")}
LAYOUT = ("expected the COCO 2017 layout of yolov5: {root}/{{train2017,val2017}}.txt, {root}/images/<split>/*.jpg, "
          "{root}/labels/<split>/*.txt and {root}/annotations/instances_val2017.json. Download COCO with "
          "`python -m dero.yolo.coco --data-path {root} --download` (or `make dero-coco`), or generate the offline "
          "mini set with `make dero-coco-mini` and pass --data-path data/mini/coco.")


class CocoLayoutError(rc.UsageError):
    pass


def data_dict(root) -> dict:
    """The yolov5 dataset dict (what a data/*.yaml holds) for a COCO tree, after checking the layout."""
    root = Path(root)
    for rel in ("train2017.txt", "val2017.txt", "annotations/instances_val2017.json"):
        if not (root / rel).is_file():
            raise CocoLayoutError(f"--data-path {root}: missing {root / rel}. " + LAYOUT.format(root=root))
    # val must end in coco/val2017.txt: that is how yolov5's val.run recognises COCO (80 -> 91 class ids)
    return {"path": str(root), "train": str(root / "train2017.txt"), "val": str(root / "val2017.txt"),
            "nc": len(NAMES), "names": dict(enumerate(NAMES))}


def image_list(data: dict, split: str, cache_dir) -> str:
    """The image list of ``split`` ("train" or "val" of a :func:`data_dict`) rewritten with absolute paths into
    ``cache_dir`` (a run directory): yolov5 keeps its label cache (``<list>.cache``) beside the list it reads,
    so the cache goes there instead of into the data set."""
    source = Path(data[split])
    lines = source.read_text().splitlines()
    parent = str(source.parent.resolve()) + "/"
    listed = "".join((parent + line[2:] if line.startswith("./") else line) + "\n" for line in lines if line.strip())
    target = Path(cache_dir) / "cache" / source.name
    if not target.exists() or target.read_text() != listed:
        rc.write_text(target, listed)
    return str(target)


def write_labels(root: Path, split: str) -> int:
    """YOLO label files and the image list of ``split`` from its instances JSON; returns the image count."""
    with open(root / "annotations" / f"instances_{split}.json") as f:
        coco = json.load(f)
    to80 = {cid: i for i, cid in enumerate(COCO91_IDS)}
    boxes: dict[int, list[str]] = {img["id"]: [] for img in coco["images"]}
    sizes = {img["id"]: (img["width"], img["height"]) for img in coco["images"]}
    for a in coco["annotations"]:
        if a.get("iscrowd", 0) or a["category_id"] not in to80:
            continue
        (w, h), (x, y, bw, bh) = sizes[a["image_id"]], a["bbox"]
        if bw <= 0 or bh <= 0:
            continue
        boxes[a["image_id"]].append(f"{to80[a['category_id']]} {(x + bw / 2) / w:.6f} {(y + bh / 2) / h:.6f} "
                                    f"{bw / w:.6f} {bh / h:.6f}")
    label_dir = root / "labels" / split
    label_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for img in sorted(coco["images"], key=lambda i: i["file_name"]):
        stem = Path(img["file_name"]).stem
        (label_dir / f"{stem}.txt").write_text("".join(line + "\n" for line in boxes[img["id"]]))
        names.append(f"./images/{split}/{img['file_name']}\n")
    (root / f"{split}.txt").write_text("".join(names))
    return len(names)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, (url, md5) in OFFICIAL.items():
        path = root / name
        if not path.exists():
            print(f"downloading {url}")
            try:
                with rc.atomic_path(path) as tmp:
                    urllib.request.urlretrieve(url, tmp)
            except OSError as e:
                raise rc.RunFailed(f"cannot download {url} ({e}): no internet? Fetch {name} (md5 {md5}) by hand "
                                   f"into {root} and rerun") from None
        if _md5(path) != md5:
            raise CocoLayoutError(f"{path}: md5 {_md5(path)} != {md5} (truncated download?); delete it and rerun")
        annotations = name.startswith("annotations")
        done = root / "annotations" / "instances_val2017.json" if annotations else root / "images" / name[:-4]
        if not done.exists():
            with zipfile.ZipFile(path) as z:  # annotations/..., <split>/...
                z.extractall(root if annotations else root / "images")
    for split in SPLITS:
        print(f"{split}: {write_labels(root, split)} images")


def _shape_mask(kind: str, size: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    if kind == "circle":
        r = size / 2
        return (yy - r + 0.5) ** 2 + (xx - r + 0.5) ** 2 <= r * r
    if kind == "rectangle":
        return np.ones((size, size), bool)
    return np.abs(2 * xx - size + 1) <= yy  # apex at the top


def write_mini(root: Path, counts=(64, 16), size=160, seed=0) -> None:
    """The offline mini set: scikit-image photos + pasted shapes, written as COCO JSON then converted."""
    from PIL import Image
    from skimage import data as skdata

    rng = np.random.default_rng(seed)
    photos = [np.asarray(Image.fromarray(getattr(skdata, n)()).convert("RGB"))
              for n in ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "page", "moon")]
    categories = [{"id": cid, "name": n, "supercategory": "object"} for cid, n in zip(COCO91_IDS, NAMES)]
    image_id = annotation_id = 0
    for split, count in zip(SPLITS, counts):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for _ in range(count):
            image_id += 1
            photo = photos[rng.integers(len(photos))]
            y0, x0 = rng.integers(0, photo.shape[0] - size), rng.integers(0, photo.shape[1] - size)
            canvas = photo[y0:y0 + size, x0:x0 + size].copy()
            for _ in range(rng.integers(1, 4)):
                kind = list(MINI_SHAPES)[rng.integers(len(MINI_SHAPES))]
                s = int(rng.integers(size // 6, size // 2))
                y, x = int(rng.integers(0, size - s)), int(rng.integers(0, size - s))
                mask = _shape_mask(kind, s)
                canvas[y:y + s, x:x + s][mask] = rng.integers(0, 256, 3)
                rows, cols = np.nonzero(mask)
                bx, by = x + cols.min(), y + rows.min()
                bw, bh = cols.max() - cols.min() + 1, rows.max() - rows.min() + 1
                annotation_id += 1
                annotations.append({"id": annotation_id, "image_id": image_id, "iscrowd": 0,
                                    "category_id": COCO91_IDS[MINI_SHAPES[kind]], "area": float(mask.sum()),
                                    "bbox": [float(bx), float(by), float(bw), float(bh)]})
            file_name = f"{image_id:012d}.jpg"
            Image.fromarray(canvas).save(root / "images" / split / file_name, quality=95)
            images.append({"id": image_id, "file_name": file_name, "width": size, "height": size})
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        with open(root / "annotations" / f"instances_{split}.json", "w") as f:
            json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
        write_labels(root, split)
    (root / ".complete").write_text("mini\n")


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = rc.ArgumentParser(description="COCO 2017 for yolov5: download (md5-checked) or offline mini set",
                                     add_help=add_help)
    parser.add_argument("--data-path", required=True, help="dataset root, e.g. data/coco or data/mini/coco")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--download", action="store_true", help="download the official zips (~19 GB) and convert")
    mode.add_argument("--mini", action="store_true", help="write the offline mini set (no download)")
    parser.add_argument("--seed", type=int, default=0, help="mini set: RNG seed")
    return parser


@rc.command
def main(argv=None) -> dict:
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns the yolov5 data dict."""
    args = get_args_parser().parse_args(argv)
    root = Path(args.data_path)
    if args.mini:
        write_mini(root, seed=args.seed)
    elif args.download:
        download(root)
    d = data_dict(root)
    print(f"{root}: COCO layout ok ({sum(1 for _ in open(d['train']))} train / {sum(1 for _ in open(d['val']))} val images)")
    return d


def cli() -> None:
    rc.entry(main)


if __name__ == "__main__":
    cli()
