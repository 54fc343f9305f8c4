"""Checked ``.pth``/``.pt`` checkpoint I/O for torch commands (dero's and dnn-param-encode's).

``save_checkpoint(obj, path)`` writes through a temporary file in the same directory and renames it into
place, so a failed or interrupted save (disk full, Ctrl-C, kill) leaves the previous checkpoint intact.
``remove_stale_temporaries(run_dir)`` deletes the temporaries a killed save left behind.
``load_checkpoint(path, ...)`` turns every unusable file into one ``run_contract.UsageError`` line naming the
file and what is wrong: missing, empty, truncated or not a torch file, no state, a model of another
architecture (``expect_model``), or a pickled model whose code is not installed.
"""

import pickle
import re
import shutil
import zipfile
from pathlib import Path

import run_contract as rc
import torch


def save_checkpoint(obj, path) -> Path:
    path = Path(path)
    with rc.atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


# run_contract's temporaries: `.tmp-<8 hex>-<name>` while a result is written, `.old-<8 hex>-<name>` while a
# directory result is swapped. A process killed at that moment (kill -9, power loss) leaves them behind.
_TEMPORARY = re.compile(r"\.(tmp|old)-[0-9a-f]{8}-.+")


def remove_stale_temporaries(run_dir) -> list[str]:
    """Remove the atomic writes' leftovers of a killed run from ``run_dir`` (top level only); call it once the
    run directory is claimed for a rerun, when no other process writes there. Returns the names removed."""
    run_dir = Path(run_dir)
    removed = []
    for entry in sorted(run_dir.iterdir()) if run_dir.is_dir() else []:
        if _TEMPORARY.fullmatch(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
    if removed:
        print(f"removed {len(removed)} temporary file(s) left by an interrupted run in {run_dir}")
    return removed


def check_checkpoint_file(path, what: str = "checkpoint", hint: str | None = None) -> Path:
    """A cheap check before any work: the file exists, is not empty and, if it is a zip (torch >= 1.6 format),
    its directory is intact (a truncated save fails here, before a long run reaches it)."""
    path = rc.require_file(path, what, hint)
    with open(path, "rb") as f:
        zipped = f.read(4) == b"PK\x03\x04"
    if zipped:
        try:
            zipfile.ZipFile(path).close()
        except (zipfile.BadZipFile, OSError) as e:
            raise rc.bad_file(path, f"truncated or damaged torch {what} ({e})", hint) from None
    return path


def _saved_model_name(ckpt) -> str | None:
    if not isinstance(ckpt, dict):
        return None
    if isinstance(ckpt.get("model_name"), str):
        return ckpt["model_name"]
    saved = ckpt.get("args")
    name = saved.get("model") if isinstance(saved, dict) else getattr(saved, "model", None)
    return name if isinstance(name, str) else None


def load_checkpoint(path, what: str = "checkpoint", hint: str | None = None, expect_model: str | None = None,
                    weights_only: bool = False):
    """The object in ``path``; ``expect_model``: refuse a checkpoint saved from another registry model.

    ``weights_only=False`` unpickles arbitrary objects (our checkpoints hold argparse Namespaces and yolov5
    modules): load only files you trust, as with ``torch.load``.
    """
    path = rc.require_file(path, what, hint)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=weights_only)
    except (ModuleNotFoundError, AttributeError) as e:  # a pickled class whose code is not importable
        raise rc.bad_file(path, f"{what} pickles code that is not installed ({e})",
                          hint or "for yolov5 checkpoints run `make dero-yolo-env`") from None
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile,
            UnicodeDecodeError, IndexError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise rc.bad_file(path, f"not a readable torch {what} (truncated or another format: {first[:160]})",
                          hint) from None
    if expect_model is not None:
        saved = _saved_model_name(ckpt)
        if saved is not None and saved != expect_model:
            raise rc.bad_file(path, f"{what} of model '{saved}', not '{expect_model}'",
                              hint or f"pass --model {saved}, or a checkpoint of {expect_model}")
    return ckpt


def model_state(ckpt, path, key: str = "model") -> dict:
    """The state_dict inside a checkpoint: ``ckpt[key]`` (a state_dict or a pickled module) or a bare one."""
    state = ckpt.get(key, ckpt) if isinstance(ckpt, dict) else ckpt
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise rc.bad_file(path, f"holds no model weights (no '{key}' state_dict or module)")
    return state
