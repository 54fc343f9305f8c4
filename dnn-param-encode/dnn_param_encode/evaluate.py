"""Accuracy of a checkpoint, as the paper reported it (it evaluated externally): top-1 on an ImageFolder val split
(ResNet-18, ImageNet) or COCO mAP@0.5:0.95 (YOLOv5n, via dero.yolo: yolov5's val.run + pycocotools).

    python -m dnn_param_encode.evaluate --checkpoint 90_0.001.pt --data-path data/imagenet
    python -m dnn_param_encode.evaluate --dnn yolo --checkpoint 12_0.01.pt --data-path data/mini/coco --image-size 160
"""

import copy
import json
import os
import tempfile

import run_contract as rc
import torch
import torchvision
from dero.checkpoint import check_checkpoint_file
from dnn_param_encode.checkpoints import CHECKPOINT_HINT, load_checkpoint, load_state_dict
from torchvision import transforms
from tqdm import tqdm

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
METRIC = {"resnet": "top1", "yolo": "map50_95"}  # the accuracy each --dnn is judged by, in %


def val_loader(data_path, image_size, batch_size, workers):
    root = rc.require_dir(os.path.join(data_path, "val"), "ImageFolder val split",
                          hint=f"expected {data_path}/{{train,val}}/<wnid>/*.JPEG (`make mini-data` writes "
                               "data/mini/imagenet)")
    resize = int(round(image_size * 256 / 224))  # the classic 256 -> 224 centre crop ratio
    tf = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(image_size), transforms.ToTensor(),
                             transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    ds = torchvision.datasets.ImageFolder(str(root), tf)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers)


def build_model(state_dict, arch="resnet18"):
    num_classes = state_dict["fc.weight"].shape[0]
    model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    model.load_state_dict(state_dict)
    return model.eval()


@torch.no_grad()
def top1_accuracy(state_dict, loader, arch="resnet18"):
    model = build_model(state_dict, arch)
    correct = total = 0
    for images, labels in tqdm(loader, desc="eval", leave=False):
        correct += (model(images).argmax(1) == labels).sum().item()
        total += labels.numel()
    if total == 0:
        raise rc.RunFailed("the validation split holds no images: nothing was evaluated")
    return 100.0 * correct / total


def yolo_template(checkpoint):
    """The pickled yolov5 module of a YOLO checkpoint (its architecture; weights are loaded over it)."""
    from dero.yolo import import_yolov5

    import_yolov5()  # unpickling imports yolov5: offline, no run-time installs, PIL's Image.open left alone
    obj = load_checkpoint(checkpoint)
    model = obj.get("model") if isinstance(obj, dict) else None
    if not isinstance(model, torch.nn.Module):
        raise rc.bad_file(checkpoint, "is not a YOLOv5 checkpoint (no pickled 'model' module)",
                          "--dnn yolo needs the layout of `make dero-yolov5n` / yolov5")
    return model


class Scorer:
    """``scorer(state_dict, tag)``: the --dnn's accuracy (%) of a state_dict, the data set prepared once.
    For YOLO, ``scorer.map50[tag]`` keeps each scored model's mAP@0.5 (%) too."""

    def __init__(self, dnn, data_path, image_size, batch_size, workers, template=None, arch="resnet18",
                 output_dir=None):
        self.dnn, self.arch, self.template = dnn, arch, template
        self.map50 = {}
        self.data_path, self.image_size, self.batch_size, self.workers = data_path, image_size, batch_size, workers
        self.output_dir = output_dir
        if dnn == "resnet":
            self.loader = val_loader(data_path, image_size, batch_size, workers)
        else:
            from dero.yolo import coco

            try:
                coco.data_dict(data_path)
            except coco.CocoLayoutError as e:
                raise rc.UsageError(str(e)) from None

    def __call__(self, state_dict, tag=""):
        if self.dnn == "resnet":
            return top1_accuracy(state_dict, self.loader, self.arch)
        from dero.yolo.val import evaluate

        model = copy.deepcopy(self.template).float()
        model.load_state_dict(state_dict)
        with tempfile.TemporaryDirectory() as scratch:
            result = evaluate(model, self.data_path, self.output_dir or scratch, self.image_size, self.batch_size,
                              self.workers, tag=tag)
        self.map50[tag] = 100.0 * result["map50"]
        return 100.0 * result["map50_95"]


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="Accuracy of a checkpoint: ImageFolder top-1 or COCO mAP", add_help=add_help)
    p.add_argument("--checkpoint", required=True, help="checkpoint ({epoch}_{lr}.pt, or a decoded one)")
    p.add_argument("--data-path", required=True, help="ImageFolder root (resnet) or COCO root (yolo)")
    p.add_argument("--dnn", choices=sorted(METRIC), default="resnet", help="network family")
    p.add_argument("--template", default=None,
                   help="yolo: checkpoint whose pickled model gives the architecture (default: --checkpoint)")
    p.add_argument("--arch", default="resnet18", help="resnet: torchvision architecture")
    p.add_argument("--image-size", type=rc.positive_int, default=224, help="evaluation size (px)")
    p.add_argument("--batch-size", type=rc.positive_int, default=64)
    p.add_argument("--workers", type=rc.nonnegative_int, default=0)
    return p


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    check_checkpoint_file(args.checkpoint, "checkpoint", CHECKPOINT_HINT)  # before the data set is read
    template = yolo_template(args.template or args.checkpoint) if args.dnn == "yolo" else None
    scorer = Scorer(args.dnn, args.data_path, args.image_size, args.batch_size, args.workers, template, args.arch)
    acc = scorer(load_state_dict(args.checkpoint))
    print(json.dumps({"checkpoint": args.checkpoint, METRIC[args.dnn]: acc}))
    return acc


if __name__ == "__main__":
    rc.entry(main)
