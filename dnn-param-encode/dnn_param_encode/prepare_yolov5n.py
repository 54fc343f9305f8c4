"""YOLOv5n checkpoint pairs for the coder: `epoch{e}.pt` of a `dero.yolo.train` run (yolov5's layout, float32,
``{'model': nn.Module, 'ema', 'optimizer', ...}``) become the paper's `{e+1}_{lr}.pt` names, as hard links.

    python -m dnn_param_encode.prepare_yolov5n --run-dir runs/dero/yolo/yolov5n --output-dir CKPTS --learning-rate 0.01

The original's YOLO scripts read these files with ``torch.load(f)['model']`` (a pickled module), which needs the
model's code importable: yolov5 and dero (`make dero-yolo-env`). `--learning-rate` is the name's lr field (the
run's lr0; yolov5 decays it linearly within the run).
"""

import os
import re
import shutil
from pathlib import Path

import run_contract as rc


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="Name a dero.yolo.train run's per-epoch checkpoints {epoch}_{lr}.pt",
                          add_help=add_help)
    p.add_argument("--run-dir", required=True, help="output directory of `python -m dero.yolo.train --save-period 1`")
    p.add_argument("--output-dir", required=True, help="folder for the {epoch}_{lr}.pt files")
    p.add_argument("--learning-rate", default="0.01", help="lr string in the names (yolov5's lr0)")
    return p


@rc.command
def main(argv=None):
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns the epochs named."""
    args = get_args_parser().parse_args(argv)
    run = rc.require_dir(args.run_dir, "dero.yolo.train run directory", "run `make dero-yolov5n BASELINE=1` first")
    epochs = sorted(int(m.group(1)) for f in os.listdir(run) if (m := re.fullmatch(r"epoch(\d+)\.pt", f)))
    if not epochs:
        raise rc.UsageError(f"{run}: no epoch<N>.pt checkpoints; train with --save-period 1 "
                            "(`make dero-yolov5n BASELINE=1` does)")
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for e in epochs:
        target = out / f"{e + 1}_{args.learning_rate}.pt"
        if not target.exists():
            with rc.atomic_path(target) as tmp:
                try:
                    os.link(run / f"epoch{e}.pt", tmp)
                except OSError:
                    shutil.copyfile(run / f"epoch{e}.pt", tmp)
    rc.write_text(out / ".complete", f"{len(epochs)}\n")
    print(f"{len(epochs)} checkpoints {epochs[0] + 1}..{epochs[-1] + 1}_{args.learning_rate}.pt in {out}")
    return [e + 1 for e in epochs]


if __name__ == "__main__":
    rc.entry(main)
