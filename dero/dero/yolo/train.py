"""Train YOLOv5n / YOLOv5n-DERO / YOLOv5n-plain on COCO with yolov5's own recipe and components.

    torchrun --nproc_per_node=8 -m dero.yolo.train --model yolov5n_dero --data-path data/coco --output-dir O
    python -m dero.yolo.train --model yolov5n --data-path data/mini/coco --imgsz 160 --epochs 3 --output-dir O

The loop is yolov5 v7's ``train.py`` (the DERO authors trained with it unchanged): its data loader with mosaic
and HSV/flip/affine augmentation (``create_dataloader``), ``hyp.scratch-low.yaml``, AutoAnchor, nominal batch 64
with gradient accumulation, warmup, linear (or ``--cos-lr``) lr decay, SGD with yolov5's parameter groups,
``ComputeLoss``, EMA, gradient clipping and per-epoch mAP from ``yolov5.val.run`` on the EMA model. It is
re-written here on those components because ``yolov5.train`` imports roboflow/S3/hub clients at module level.

Every epoch writes ``last.pt`` (resume point), ``best.pt`` (best fitness), ``epoch{N}.pt`` (with
``--save-period``), ``metrics.json``/``metrics.csv``; ``args.json`` holds the flags. Checkpoints keep yolov5's
layout (``{'model': nn.Module, 'ema': nn.Module, 'optimizer', 'epoch', ...}``) but in float32 (yolov5 halves
them; the parameter coder needs the training precision). Rerunning the same command resumes from ``last.pt``;
another run in the directory is refused unless ``--overwrite``. Resume is exact with ``--workers 0``.
"""

import argparse
import time
from copy import deepcopy
from pathlib import Path

import numpy as np
import run_contract as rc
import torch
import torch.nn as nn
import yaml

from dero import utils
from dero.checkpoint import load_checkpoint, remove_stale_temporaries, save_checkpoint
from dero.models import DETECTION_MODELS, get_model
from dero.yolo import coco, import_yolov5

# The run's identity (a rerun differing in these is another run); workers/device/printing may change on resume.
NOT_IDENTITY = ("workers", "device", "dist_url", "dist_backend", "output_dir", "print_freq")
LOADER_SEED = 6148914691236517205  # yolov5's loader generator offset


def hyp_path(hyp: str | None) -> Path:
    """--hyp: a YAML path; None = yolov5's hyp.scratch-low.yaml (the COCO recipe); "mini" = dero's mini recipe."""
    if hyp is None:
        yolov5 = import_yolov5()
        return Path(yolov5.__file__).parent / "data" / "hyps" / "hyp.scratch-low.yaml"
    if hyp == "mini":
        return Path(__file__).parent / "hyp.mini.yaml"
    return Path(hyp)


def start_epoch_iterator(loader, seed: int, epoch: int) -> None:
    """A fresh sampler/worker iterator seeded by (seed, epoch), so that a resumed run draws the same batches.

    yolov5's InfiniteDataLoader keeps one iterator for the whole run, whose sampler state cannot be saved.
    """
    loader.generator.manual_seed(LOADER_SEED + seed + epoch)
    loader.iterator = torch.utils.data.DataLoader.__iter__(loader)


def plot_metrics(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    mini = any(r.get("dataset") == "mini" for r in history)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in ("train_box_loss", "train_obj_loss", "train_cls_loss"):
        axes[0].plot(epochs, [r[key] for r in history], marker="o", label=key[6:])
    axes[0].set_title("train loss")
    for key in ("map50", "map50_95"):
        axes[1].plot(epochs, [r[key] for r in history], marker="o", label=key)
    axes[1].set_title("val mAP (yolov5 metric, EMA model)" + (" (mini data)" if mini else ""))
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(history[-1]["model"])
    fig.tight_layout()
    with rc.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def main_body(args) -> list[dict]:
    data = coco.data_dict(args.data_path)  # a wrong --data-path fails before yolov5's slow imports
    import_yolov5()
    from yolov5 import val as yolo_val
    from yolov5.utils.autoanchor import check_anchors
    from yolov5.utils.dataloaders import create_dataloader
    from yolov5.utils.general import labels_to_class_weights, one_cycle
    from yolov5.utils.loss import ComputeLoss
    from yolov5.utils.metrics import fitness
    from yolov5.utils.torch_utils import ModelEMA, de_parallel, smart_optimizer

    with open(rc.require_file(hyp_path(args.hyp), "hyperparameter YAML")) as f:
        hyp = yaml.safe_load(f)
    out = Path(args.output_dir)
    utils.init_distributed_mode(args)
    main_process = utils.is_main_process()
    if main_process:  # before anything is written: resume our run, refuse another one
        if rc.claim_run_dir(out, args, ignore=NOT_IDENTITY, overwrite=args.overwrite) == "resume":
            remove_stale_temporaries(out)
    if args.distributed:
        torch.distributed.barrier()
    rank = args.rank if args.distributed else -1
    world = args.world_size if args.distributed else 1
    device = torch.device(args.device)
    utils.seed_everything(args.seed)

    model = get_model(args.model, num_classes=data["nc"]).to(device)
    torch.manual_seed(args.seed + 1 + max(rank, 0))  # yolov5's init_seeds(seed + 1 + RANK) before training
    grid = max(int(model.stride.max()), 32)
    nbs = args.nominal_batch_size  # gradients accumulate up to it (yolov5: 64)
    accumulate = max(round(nbs / args.batch_size), 1)
    hyp["weight_decay"] *= args.batch_size * accumulate / nbs
    optimizer = smart_optimizer(model, args.optimizer, hyp["lr0"], hyp["momentum"], hyp["weight_decay"])
    lf = (one_cycle(1, hyp["lrf"], args.epochs) if args.cos_lr
          else (lambda x: (1 - x / args.epochs) * (1.0 - hyp["lrf"]) + hyp["lrf"]))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lf)
    ema = ModelEMA(model) if main_process else None

    # the image lists are read from copies in the run directory, so yolov5's label caches are written there
    train_loader, dataset = create_dataloader(coco.image_list(data, "train", out), args.imgsz,
                                              args.batch_size // world, grid, hyp=hyp, augment=True, rank=rank,
                                              workers=args.workers, shuffle=True, seed=args.seed)
    labels = np.concatenate(dataset.labels, 0)
    val_loader = create_dataloader(coco.image_list(data, "val", out), args.imgsz, args.batch_size // world * 2,
                                   grid, hyp=hyp, rect=True, rank=-1, workers=args.workers,
                                   pad=0.5)[0] if main_process else None

    start_epoch, best_fitness, history = 0, 0.0, []
    last = out / "last.pt"
    if last.exists():  # claim_run_dir has removed another run's files; this is ours: resume it
        ckpt = load_checkpoint(last, expect_model=args.model)
        model.load_state_dict(ckpt["model"].float().state_dict())
        optimizer.load_state_dict(ckpt["optimizer"])
        if ema:
            ema.ema.load_state_dict(ckpt["ema"].float().state_dict())
            ema.updates = ckpt["updates"]
        start_epoch, best_fitness = ckpt["epoch"] + 1, ckpt["best_fitness"]
        history = [row for row in ckpt.get("history", []) if row["epoch"] < start_epoch]
        utils.set_rng_state(ckpt["rng"])
        print(f"resuming {out} at epoch {start_epoch}")
    elif main_process and not args.noautoanchor:
        check_anchors(dataset, model=model, thr=hyp["anchor_t"], imgsz=args.imgsz)
        model.half().float()  # pre-reduce anchor precision, as yolov5
    if args.distributed:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[args.gpu] if device.type == "cuda" else None)

    nl = de_parallel(model).model[-1].nl
    hyp["box"] *= 3 / nl
    hyp["cls"] *= data["nc"] / 80 * 3 / nl
    hyp["obj"] *= (args.imgsz / 640) ** 2 * 3 / nl
    hyp["label_smoothing"] = args.label_smoothing
    core = de_parallel(model)
    core.nc, core.hyp, core.names = data["nc"], hyp, data["names"]
    core.class_weights = labels_to_class_weights(dataset.labels, data["nc"]).to(device) * data["nc"]
    compute_loss = ComputeLoss(core)
    nb = len(train_loader)
    warmup_iters = max(round(hyp["warmup_epochs"] * nb), args.warmup_min_iters)
    last_opt_step = -1
    scheduler.last_epoch = start_epoch - 1
    amp = args.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    if labels[:, 0].max() >= data["nc"]:
        raise rc.UsageError(f"{data['train']}: label class {int(labels[:, 0].max())} >= nc={data['nc']}")

    for epoch in range(start_epoch, args.epochs):
        epoch_start = time.time()
        model.train()
        if args.distributed:
            train_loader.sampler.set_epoch(epoch)
        start_epoch_iterator(train_loader, args.seed, epoch)
        mloss = torch.zeros(3, device=device)
        optimizer.zero_grad()
        for i, (imgs, targets, _, _) in enumerate(train_loader):
            ni = i + nb * epoch
            imgs = imgs.to(device, non_blocking=True).float() / 255
            if ni <= warmup_iters:  # bias lr falls from warmup_bias_lr, the others rise from 0; momentum rises
                xi = [0, warmup_iters]
                accumulate = max(1, np.interp(ni, xi, [1, nbs / args.batch_size]).round())
                for j, group in enumerate(optimizer.param_groups):
                    group["lr"] = np.interp(ni, xi, [hyp["warmup_bias_lr"] if j == 0 else 0.0,
                                                     group["initial_lr"] * lf(epoch)])
                    if "momentum" in group:
                        group["momentum"] = np.interp(ni, xi, [hyp["warmup_momentum"], hyp["momentum"]])
            with torch.autocast(device.type, enabled=amp):
                loss, loss_items = compute_loss(model(imgs), targets.to(device))
                if args.distributed:
                    loss *= world  # DDP averages gradients between processes
            scaler.scale(loss).backward()
            if ni - last_opt_step >= accumulate:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad()
                if ema:
                    ema.update(model)
                last_opt_step = ni
            mloss = (mloss * i + loss_items) / (i + 1)
            if main_process and (i % args.print_freq == 0 or i == nb - 1):
                print(f"epoch {epoch}/{args.epochs - 1} [{i + 1}/{nb}] box {mloss[0]:.4f} obj {mloss[1]:.4f} "
                      f"cls {mloss[2]:.4f} targets {targets.shape[0]} size {imgs.shape[-1]}", flush=True)
        lrs = [group["lr"] for group in optimizer.param_groups]
        scheduler.step()
        if not main_process:
            continue
        ema.update_attr(model, include=["yaml", "nc", "hyp", "names", "stride", "class_weights"])
        results, _, _, _ = yolo_val.run(data, batch_size=args.batch_size // world * 2, imgsz=args.imgsz, half=amp,
                                        model=ema.ema, dataloader=val_loader, save_dir=out, plots=False,
                                        compute_loss=compute_loss)
        fit = float(fitness(np.array(results).reshape(1, -1))[0])
        is_best = fit > best_fitness or epoch == start_epoch == 0
        best_fitness = max(best_fitness, fit)
        row = {"epoch": epoch, "model": args.model, "dataset": args.dataset_name,
               **{f"train_{k}_loss": float(v) for k, v in zip(("box", "obj", "cls"), mloss)},
               **dict(zip(("precision", "recall", "map50", "map50_95", "val_box_loss", "val_obj_loss",
                           "val_cls_loss"), map(float, results))),
               "fitness": fit, "best_fitness": best_fitness, "lr": lrs[0], "epoch_time_s": round(time.time() - epoch_start, 2)}
        history.append(row)
        ckpt = {"epoch": epoch, "best_fitness": best_fitness, "model": deepcopy(de_parallel(model)).float(),
                "ema": deepcopy(ema.ema).float(), "updates": ema.updates, "optimizer": optimizer.state_dict(),
                "args": vars(args), "model_name": args.model, "metrics": row, "history": history,
                "rng": utils.rng_state()}
        if args.save_period > 0 and epoch % args.save_period == 0:
            save_checkpoint(ckpt, out / f"epoch{epoch}.pt")
        if is_best:
            save_checkpoint(ckpt, out / "best.pt")
        save_checkpoint(ckpt, last)  # last: it is the resume point, so the other files exist once it says so
        rc.write_json(out / "metrics.json", history)
        rc.write_csv(out / "metrics.csv", history)
    if main_process and history:
        plot_metrics(history, out / "results.png")
    return history


def get_args_parser(add_help: bool = True) -> rc.ArgumentParser:
    p = rc.ArgumentParser(description="YOLOv5n / YOLOv5n-DERO training (yolov5 v7 recipe)", add_help=add_help)
    p.add_argument("--model", default="yolov5n_dero", type=rc.name_in(DETECTION_MODELS), help="registry name")
    p.add_argument("--data-path", required=True, help="COCO 2017 root in yolov5's layout (or data/mini/coco)")
    p.add_argument("--hyp", default=None,
                   help="hyperparameter YAML (default: yolov5's hyp.scratch-low.yaml; 'mini': dero/yolo/hyp.mini.yaml, "
                        "the mini-COCO recipe)")
    p.add_argument("--epochs", type=rc.positive_int, default=300, help="total epochs (yolov5 default 300)")
    p.add_argument("--batch-size", type=rc.positive_int, default=64, help="total batch size over all processes")
    p.add_argument("--imgsz", "--img", "--img-size", type=rc.positive_int, default=640, help="train/val size (px)")
    p.add_argument("--optimizer", choices=("SGD", "Adam", "AdamW"), default="SGD", help="optimizer")
    p.add_argument("--nominal-batch-size", type=rc.positive_int, default=64,
                   help="gradients accumulate up to this batch size before a step; weight decay scales with it "
                        "(yolov5's nbs, 64)")
    p.add_argument("--warmup-min-iters", type=rc.nonnegative_int, default=100,
                   help="warmup lasts max(hyp warmup_epochs x batches per epoch, this) iterations (yolov5: 100)")
    p.add_argument("--cos-lr", action="store_true", help="cosine lr decay (default: linear, as yolov5)")
    p.add_argument("--label-smoothing", type=rc.float_range(0, 1, hi_open=True), default=0.0, help="label smoothing")
    p.add_argument("--noautoanchor", action="store_true", help="keep the YAML anchors (no AutoAnchor)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                   help="mixed precision on CUDA (yolov5 default on)")
    p.add_argument("--save-period", type=int, default=-1,
                   help="also keep epoch{N}.pt every N epochs (1: every epoch, for the parameter coder; -1: off)")
    p.add_argument("--workers", type=rc.nonnegative_int, default=8, help="data loader workers per process")
    p.add_argument("--seed", type=int, default=0, help="seed (yolov5 default 0)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cuda or cpu")
    p.add_argument("--output-dir", required=True, help="run directory")
    p.add_argument("--dataset-name", default="coco", help="label in metrics ('mini' for the offline mini set)")
    p.add_argument("--print-freq", type=rc.positive_int, default=50, help="print every N iterations")
    p.add_argument("--dist-url", default="env://", help="url used to set up distributed training")
    p.add_argument("--dist-backend", default=None, help="torch.distributed backend (default: nccl / gloo)")
    p.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return p


@rc.command
def main(argv=None) -> list[dict]:
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns the per-epoch metrics."""
    args = get_args_parser().parse_args(argv)
    try:
        return main_body(args)
    except coco.CocoLayoutError as e:
        raise rc.UsageError(str(e)) from None
    except Exception as e:
        utils.reraise_loader_error(e)
        raise


def cli() -> None:
    rc.entry(main)


if __name__ == "__main__":
    cli()
