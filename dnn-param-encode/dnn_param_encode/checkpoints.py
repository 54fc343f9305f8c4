"""Loading and saving the paper's checkpoints: `{epoch}_{lr}.pt`, pytorch/examples-style dicts.

A checkpoint may hold `state_dict` (pytorch/examples), `model` (torchvision references / dero: a state
dict; YOLOv5: a pickled module) or be a bare state dict. `module.` prefixes (DataParallel) are stripped.
Reading and writing go through dero's checked torch checkpoint I/O: an unusable file is one
`run_contract.UsageError` line naming it, and every write is atomic (temporary file + rename).
"""

import os
from collections import OrderedDict

import run_contract as rc
import torch
from dero.checkpoint import load_checkpoint as load_checked
from dero.checkpoint import save_checkpoint as save_atomic

CHECKPOINT_HINT = ("expected files named {epoch}_{lr}.pt under --path-pt (written by `make param-encode-resnet18` "
                   "or `make param-encode-yolov5n`)")


def checkpoint_path(path_pt, epoch, lr):
    return os.path.join(path_pt, f"{epoch}_{lr}.pt")


def strip_module_prefix(state_dict):
    return OrderedDict((k.removeprefix("module."), v) for k, v in state_dict.items())


def load_checkpoint(path):
    """The object in a checkpoint file (unpickles arbitrary objects: load only checkpoints you trust)."""
    return load_checked(path, "checkpoint", hint=CHECKPOINT_HINT)


def extract_state_dict(obj, path="checkpoint"):
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and "model" in obj:
        obj = obj["model"]
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise rc.bad_file(path, "holds no state_dict (looked for keys 'state_dict' and 'model')", CHECKPOINT_HINT)
    return strip_module_prefix(obj)


def load_state_dict(path):
    return extract_state_dict(load_checkpoint(path), path)


def save_checkpoint(path, state_dict, epoch=None, lr=None, arch=None, **extra):
    """pytorch/examples-style checkpoint: {'epoch', 'arch', 'state_dict', 'lr', ...}, written atomically."""
    save_atomic({"epoch": epoch, "arch": arch, "lr": lr, "state_dict": state_dict, **extra}, path)
