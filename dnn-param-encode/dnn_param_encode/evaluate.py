"""Top-1 accuracy of a state_dict on an ImageFolder validation split (the paper evaluated externally)."""

import argparse
import json

import torch
import torchvision
from dnn_param_encode.checkpoints import load_state_dict
from torchvision import transforms
from tqdm import tqdm

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def val_loader(data_path, image_size, batch_size, workers):
    import os

    root = os.path.join(data_path, "val")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root} not found: expected an ImageFolder {data_path}/{{train,val}}/<wnid>/*.JPEG "
                                "(`make mini-data` writes data/mini/imagenet)")
    resize = int(round(image_size * 256 / 224))  # the classic 256 -> 224 centre crop ratio
    tf = transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(image_size), transforms.ToTensor(),
                             transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    ds = torchvision.datasets.ImageFolder(root, tf)
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
    return 100.0 * correct / max(total, 1)


def get_args_parser(add_help=True):
    p = argparse.ArgumentParser(description="Top-1 accuracy of a checkpoint on an ImageFolder val split",
                                add_help=add_help)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data-path", required=True)
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=0)
    return p


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    loader = val_loader(args.data_path, args.image_size, args.batch_size, args.workers)
    acc = top1_accuracy(load_state_dict(args.checkpoint), loader, args.arch)
    print(json.dumps({"checkpoint": args.checkpoint, "top1": acc}))
    return acc


if __name__ == "__main__":
    main()
