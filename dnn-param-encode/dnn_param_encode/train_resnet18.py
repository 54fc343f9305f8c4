"""Train ResNet-18 and keep a checkpoint per epoch, named as the paper's scripts expect: `{epoch}_{lr}.pt`
(pytorch/examples-style dicts with `state_dict`; epoch = number of finished epochs; lr = the lr used in it).

By default this runs the monorepo's torchvision-reference trainer (`python -m dero.train`, every epoch kept)
and converts its `model_{epoch}.pth` files. Only if dero is not installed does it fall back to a minimal SGD +
StepLR loop (no second full trainer). Re-running resumes: converted epochs are kept, dero resumes from its
`checkpoint.pth`, the minimal loop from its last `{epoch}_{lr}.pt`.
"""

import csv
import importlib.util
import json
import os
import re

import run_contract as rc
import torch
from dero.checkpoint import remove_stale_temporaries
from dnn_param_encode.checkpoints import load_checkpoint, save_checkpoint


def lr_name(lr):
    return f"{lr:g}"


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="ResNet-18 training that saves every epoch as {epoch}_{lr}.pt",
                                add_help=add_help)
    p.add_argument("--data-path", required=True, help="ImageFolder root with train/ and val/")
    p.add_argument("--output-dir", required=True, help="folder for the {epoch}_{lr}.pt checkpoints")
    p.add_argument("--trainer", choices=["auto", "dero", "minimal"], default="auto",
                   help="auto: dero.train when installed, else the minimal loop")
    p.add_argument("--epochs", type=rc.positive_int, default=90)
    p.add_argument("--lr", type=rc.positive_float, default=0.1)
    p.add_argument("--lr-step-size", type=rc.positive_int, default=30, help="StepLR period (pytorch/examples: 30)")
    p.add_argument("--lr-gamma", type=rc.float_range(0, 1, lo_open=True), default=0.1)
    p.add_argument("--momentum", type=rc.float_range(0, 1, hi_open=True), default=0.9)
    p.add_argument("--weight-decay", type=rc.nonnegative_float, default=1e-4)
    p.add_argument("--batch-size", type=rc.positive_int, default=256)
    p.add_argument("--image-size", type=rc.positive_int, default=224, help="train crop / val crop size")
    p.add_argument("--workers", type=rc.nonnegative_int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=rc.nonnegative_int, default=0,
                   help="torch CPU threads (0 = torch's default); 1 is much faster on an oversubscribed machine")
    p.add_argument("--dataset-label", default="imagenet", help="dataset name recorded by the trainer ('mini')")
    p.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    return p


def convert_dero_checkpoints(dero_dir, output_dir, lr_of_epoch):
    """model_{e}.pth (0-based e) -> {e+1}_{lr}.pt; returns the converted epoch numbers."""
    done = []
    for name in sorted(os.listdir(dero_dir)):
        m = re.fullmatch(r"model_(\d+)\.pth", name)
        if not m:
            continue
        e = int(m.group(1))
        ckpt = load_checkpoint(os.path.join(dero_dir, name))
        lr = ckpt.get("metrics", {}).get("lr", lr_of_epoch(e))
        target = os.path.join(output_dir, f"{e + 1}_{lr_name(lr)}.pt")
        if not os.path.exists(target):
            save_checkpoint(target, ckpt["model"], epoch=e + 1, lr=lr, arch="resnet18",
                            metrics=ckpt.get("metrics", {}))
        done.append(e + 1)
    return done


def run_dero(args, lr_of_epoch):
    from dero import train as dero_train

    dero_dir = os.path.join(args.output_dir, "dero")
    os.makedirs(dero_dir, exist_ok=True)
    resize = int(round(args.image_size * 256 / 224))
    argv = ["--data-path", args.data_path, "--model", "resnet18", "--output-dir", dero_dir,
            "--epochs", str(args.epochs), "--lr", str(args.lr), "--lr-step-size", str(args.lr_step_size),
            "--lr-gamma", str(args.lr_gamma), "--momentum", str(args.momentum), "--wd", str(args.weight_decay),
            "--batch-size", str(args.batch_size), "--workers", str(args.workers), "--keep-last", "0",
            "--train-crop-size", str(args.image_size), "--val-crop-size", str(args.image_size),
            "--val-resize-size", str(resize), "--seed", str(args.seed), "--dataset-name", args.dataset_label, "--device", "cpu" if not torch.cuda.is_available() else "cuda"]
    last = os.path.join(dero_dir, "checkpoint.pth")
    if os.path.exists(last):
        if load_checkpoint(last).get("epoch", -1) + 1 >= args.epochs:
            argv = None  # finished: only convert
        else:
            argv += ["--resume", last]
    if argv is not None:
        dero_train.main.__wrapped__(argv)
    return convert_dero_checkpoints(dero_dir, args.output_dir, lr_of_epoch)


def run_minimal(args, lr_of_epoch):
    """Fallback when dero is absent: plain SGD + StepLR, random-resized-crop + flip, eval top-1 each epoch."""
    import torchvision
    from dnn_param_encode.evaluate import IMAGENET_MEAN, IMAGENET_STD, top1_accuracy, val_loader
    from torchvision import transforms

    torch.manual_seed(args.seed)
    train_tf = transforms.Compose([transforms.RandomResizedCrop(args.image_size), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    train_root = os.path.join(args.data_path, "train")
    if not os.path.isdir(train_root):
        raise FileNotFoundError(f"{train_root} not found: expected an ImageFolder {args.data_path}/{{train,val}}/<wnid>/")
    train_ds = torchvision.datasets.ImageFolder(train_root, train_tf)
    loader = torch.utils.data.DataLoader(train_ds, batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, drop_last=False)
    val = val_loader(args.data_path, args.image_size, args.batch_size, args.workers)
    model = torchvision.models.resnet18(num_classes=len(train_ds.classes))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    start = 0
    for e in range(args.epochs, 0, -1):  # resume from the last finished epoch
        path = os.path.join(args.output_dir, f"{e}_{lr_name(lr_of_epoch(e - 1))}.pt")
        if os.path.exists(path):
            ckpt = load_checkpoint(path)
            model.load_state_dict(ckpt["state_dict"])
            opt.load_state_dict(ckpt["optimizer"])
            start = e
            break
    log_path = os.path.join(args.output_dir, "train_log.csv")
    for epoch in range(start, args.epochs):
        lr = lr_of_epoch(epoch)
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        total_loss = count = 0
        for images, labels in loader:
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += loss.item() * labels.numel()
            count += labels.numel()
        acc = top1_accuracy(model.state_dict(), val)
        row = {"epoch": epoch + 1, "dataset": args.dataset_label, "lr": lr, "train_loss": total_loss / max(count, 1), "val_top1": acc}
        print(json.dumps(row))
        log_rows = []
        if os.path.exists(log_path):
            with open(log_path, newline="") as f:
                log_rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= epoch]
        rc.write_csv(log_path, log_rows + [row], fieldnames=list(row))
        save_checkpoint(os.path.join(args.output_dir, f"{epoch + 1}_{lr_name(lr)}.pt"), model.state_dict(),
                        epoch=epoch + 1, lr=lr, arch="resnet18", optimizer=opt.state_dict(), metrics=row)
    return list(range(1, args.epochs + 1))


@rc.command
def main(argv=None):
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns the converted epoch numbers."""
    args = get_args_parser().parse_args(argv)
    rc.require_dir(os.path.join(args.data_path, "train"), "ImageFolder train split",
                   f"expected {args.data_path}/{{train,val}}/<wnid>/*.JPEG (`make mini-data` writes data/mini/imagenet)")
    # rerunning the same command resumes; a different run in --output-dir is refused unless --overwrite
    if rc.claim_run_dir(args.output_dir, args, ignore=("workers", "threads"), overwrite=args.overwrite,
                        args_file="train_args.json") == "resume":
        remove_stale_temporaries(args.output_dir)  # a killed save's .tmp-* files (dero.train cleans its own)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    def lr_of_epoch(e):  # 0-based epoch -> StepLR lr
        return args.lr * args.lr_gamma ** (e // args.lr_step_size)

    trainer = args.trainer
    if trainer == "auto":
        trainer = "dero" if importlib.util.find_spec("dero") and importlib.util.find_spec("dero.train") else "minimal"
    print(f"training ResNet-18 with the {trainer} trainer -> {args.output_dir}")
    epochs = run_dero(args, lr_of_epoch) if trainer == "dero" else run_minimal(args, lr_of_epoch)
    if len(epochs) < args.epochs:
        raise rc.RunFailed(f"only {len(epochs)} of {args.epochs} epoch checkpoints exist under {args.output_dir}")
    rc.write_text(os.path.join(args.output_dir, ".complete"), f"{args.epochs}\n")
    return epochs


if __name__ == "__main__":
    rc.entry(main)
