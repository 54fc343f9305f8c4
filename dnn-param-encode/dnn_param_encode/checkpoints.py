"""Loading and saving the paper's checkpoints: `{epoch}_{lr}.pt`, pytorch/examples-style dicts.

A checkpoint may hold `state_dict` (pytorch/examples), `model` (torchvision references / dero: a state
dict; YOLOv5: a pickled module) or be a bare state dict. `module.` prefixes (DataParallel) are stripped.
"""

import os
from collections import OrderedDict

import torch
from dnn_param_encode.compression import CodecError


def checkpoint_path(path_pt, epoch, lr):
    return os.path.join(path_pt, f"{epoch}_{lr}.pt")


def strip_module_prefix(state_dict):
    return OrderedDict((k.removeprefix("module."), v) for k, v in state_dict.items())


def load_checkpoint(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"checkpoint {path} not found; expected files named {{epoch}}_{{lr}}.pt under --path-pt "
            "(e.g. written by `make param-encode-resnet18`)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        pass
    # Checkpoints that pickle argparse Namespaces (dero, torchvision references) need the full unpickler:
    # only load checkpoints you trust.
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CodecError(f"cannot read checkpoint {path}: {exc} (corrupt or not a torch checkpoint)") from exc


def extract_state_dict(obj, path="checkpoint"):
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj:
        obj = obj["model"]
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CodecError(f"{path} holds no state_dict (looked for keys 'state_dict' and 'model')")
    return strip_module_prefix(obj)


def load_state_dict(path):
    return extract_state_dict(load_checkpoint(path), path)


def save_checkpoint(path, state_dict, epoch=None, lr=None, arch=None, **extra):
    """pytorch/examples-style checkpoint: {'epoch', 'arch', 'state_dict', 'lr', ...}."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    torch.save({"epoch": epoch, "arch": arch, "lr": lr, "state_dict": state_dict, **extra}, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint behind
