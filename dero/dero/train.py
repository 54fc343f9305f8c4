"""ImageNet-style classification training: the torchvision reference recipe, as the DERO authors used it.

    torchrun --nproc_per_node=8 -m dero.train --model resnet50dero --data-path P --amp --output-dir O -b 64 \
        --wd 0.00004 --random-erase 0.1 --label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0
    python -m dero.train --model resnet50dero --data-path P -b 64 --test-only --weights O/model_best.pth

Every epoch writes ``checkpoint.pth`` (last), ``model_{epoch}.pth`` (the last ``--keep-last``; 0 keeps all),
``model_best.pth``, and appends to ``metrics.json``/``metrics.csv``; ``args.json`` holds the resolved flags and
every checkpoint carries ``args``. Rerunning the same command into the same ``--output-dir`` resumes from its
``checkpoint.pth`` (optimizer, schedule, EMA, scaler, RNG states: bit-for-bit like an uninterrupted run); a
directory holding another run is refused unless ``--overwrite``. ``--resume CKPT`` continues from any checkpoint.
Every file is written to a temporary name and renamed, so an interrupted or failed write loses nothing.
"""

import argparse
import datetime
import os
import shutil
import time
import warnings
from pathlib import Path

import run_contract as rc
import torch
import torch.utils.data
import torchvision
from torch import nn
from torch.utils.data.dataloader import default_collate
from torchvision.transforms.functional import InterpolationMode

from dero import presets, transforms, utils
from dero.checkpoint import load_checkpoint, remove_stale_temporaries, save_checkpoint
from dero.models import DETECTION_MODELS, get_model, list_models
from dero.sampler import RASampler

IMAGENET_LAYOUT = (
    "expected an ImageFolder tree: {root}/train/<wnid>/*.JPEG and {root}/val/<wnid>/*.JPEG. "
    "Get ImageNet with `python -m dero.prepare_imagenet --help` (or `make dero-imagenet`), "
    "or generate the offline mini set with `make mini-data` and pass --data-path data/mini/imagenet."
)


class DataLayoutError(rc.UsageError):
    pass


class CheckpointMismatchError(rc.UsageError):
    pass


# Flags that do not change what a run computes: a rerun may change them and still resume.
NOT_IDENTITY = ("output_dir", "workers", "print_freq", "resume", "start_epoch", "device", "dist_url", "dist_backend",
                "world_size", "test_only", "weights", "weights_ema", "cache_dataset")


def train_one_epoch(model, criterion, optimizer, data_loader, device, epoch, args, model_ema=None, scaler=None):
    model.train()
    metric_logger = utils.MetricLogger(delimiter="  ")
    metric_logger.add_meter("lr", utils.SmoothedValue(window_size=1, fmt="{value}"))
    metric_logger.add_meter("img/s", utils.SmoothedValue(window_size=10, fmt="{value:.1f}"))
    header = f"Epoch: [{epoch}]"
    for i, (image, target) in enumerate(metric_logger.log_every(data_loader, args.print_freq, header)):
        start_time = time.time()
        image, target = image.to(device), target.to(device)
        with _autocast(args, device):
            output = model(image)
            loss = criterion(output, target)
        optimizer.zero_grad()
        if scaler is not None:
            scaler.scale(loss).backward()
            if args.clip_grad_norm is not None:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad_norm)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if args.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad_norm)
            optimizer.step()
        if model_ema and i % args.model_ema_steps == 0:
            model_ema.update_parameters(model)
            if epoch < args.lr_warmup_epochs:
                model_ema.n_averaged.fill_(0)  # copy the weights during warmup instead of averaging them
        acc1, acc5 = utils.accuracy(output, target, topk=(1, 5))
        batch_size = image.shape[0]
        metric_logger.update(loss=loss.item(), lr=optimizer.param_groups[0]["lr"])
        metric_logger.meters["acc1"].update(acc1.item(), n=batch_size)
        metric_logger.meters["acc5"].update(acc5.item(), n=batch_size)
        metric_logger.meters["img/s"].update(batch_size / (time.time() - start_time))
    metric_logger.synchronize_between_processes()
    return {"train_loss": metric_logger.loss.global_avg, "train_acc1": metric_logger.acc1.global_avg,
            "train_acc5": metric_logger.acc5.global_avg, "lr": optimizer.param_groups[0]["lr"]}


def evaluate(model, criterion, data_loader, device, print_freq=100, log_suffix=""):
    model.eval()
    metric_logger = utils.MetricLogger(delimiter="  ")
    header = f"Test: {log_suffix}"
    num_processed_samples = 0
    with torch.inference_mode():
        for image, target in metric_logger.log_every(data_loader, print_freq, header):
            image, target = image.to(device, non_blocking=True), target.to(device, non_blocking=True)
            output = model(image)
            loss = criterion(output, target)
            acc1, acc5 = utils.accuracy(output, target, topk=(1, 5))
            batch_size = image.shape[0]
            metric_logger.update(loss=loss.item())
            metric_logger.meters["acc1"].update(acc1.item(), n=batch_size)
            metric_logger.meters["acc5"].update(acc5.item(), n=batch_size)
            num_processed_samples += batch_size
    num_processed_samples = utils.reduce_across_processes(num_processed_samples)
    if hasattr(data_loader.dataset, "__len__") and len(data_loader.dataset) != num_processed_samples:
        # DistributedSampler pads the last batch with repeated samples: results are then slightly off.
        warnings.warn(f"It looks like the dataset has {len(data_loader.dataset)} samples, but "
                      f"{num_processed_samples} were used for the validation, which might bias the results.", stacklevel=2)
    metric_logger.synchronize_between_processes()
    print(f"{header} Acc@1 {metric_logger.acc1.global_avg:.3f} Acc@5 {metric_logger.acc5.global_avg:.3f}")
    return {"acc1": metric_logger.acc1.global_avg, "acc5": metric_logger.acc5.global_avg,
            "loss": metric_logger.loss.global_avg}


def _autocast(args, device):
    if not args.amp:
        return torch.autocast(device.type, enabled=False)
    # bfloat16 on CPU: float16 autocast is CUDA-only
    return torch.autocast(device.type, dtype=torch.float16 if device.type == "cuda" else torch.bfloat16)


def _cache_path(filepath: str) -> str:
    import hashlib

    h = hashlib.sha1(filepath.encode()).hexdigest()
    return os.path.join("~", ".torch", "vision", "datasets", "imagefolder", h[:10] + ".pt")


def check_layout(root: str) -> tuple[str, str]:
    """Return train/val dirs or explain the expected layout."""
    traindir, valdir = os.path.join(root, "train"), os.path.join(root, "val")
    for d in (traindir, valdir):
        if not os.path.isdir(d):
            raise DataLayoutError(f"--data-path {root}: missing '{d}'. " + IMAGENET_LAYOUT.format(root=root))
        if not any(os.scandir(d)):
            raise DataLayoutError(f"--data-path {root}: '{d}' has no class folders. " + IMAGENET_LAYOUT.format(root=root))
    return traindir, valdir


def load_data(traindir, valdir, args):
    print("Loading data")
    interpolation = InterpolationMode(args.interpolation)
    st = time.time()
    cache_path = _cache_path(traindir)
    if args.cache_dataset and os.path.exists(cache_path):
        print(f"Loading dataset_train from {cache_path}")
        dataset, _ = torch.load(cache_path, weights_only=False)
    else:
        dataset = torchvision.datasets.ImageFolder(
            traindir,
            presets.ClassificationPresetTrain(
                crop_size=args.train_crop_size, interpolation=interpolation,
                auto_augment_policy=getattr(args, "auto_augment", None), random_erase_prob=args.random_erase,
                ra_magnitude=args.ra_magnitude, augmix_severity=args.augmix_severity, backend=args.backend,
                use_v2=args.use_v2),
        )
        if args.cache_dataset:
            print(f"Saving dataset_train to {cache_path}")
            utils.mkdir(os.path.dirname(cache_path))
            utils.save_on_master((dataset, traindir), cache_path)
    print("Took", time.time() - st)

    cache_path = _cache_path(valdir)
    if args.cache_dataset and os.path.exists(cache_path):
        print(f"Loading dataset_test from {cache_path}")
        dataset_test, _ = torch.load(cache_path, weights_only=False)
    else:
        dataset_test = torchvision.datasets.ImageFolder(
            valdir,
            presets.ClassificationPresetEval(crop_size=args.val_crop_size, resize_size=args.val_resize_size,
                                             interpolation=interpolation, backend=args.backend, use_v2=args.use_v2),
        )
        if args.cache_dataset:
            utils.mkdir(os.path.dirname(cache_path))
            utils.save_on_master((dataset_test, valdir), cache_path)
    if dataset.classes != dataset_test.classes:
        raise DataLayoutError(f"train has {len(dataset.classes)} classes, val {len(dataset_test.classes)}: "
                              "both splits need the same class folders")

    print("Creating data loaders")
    if args.distributed:
        if hasattr(args, "ra_sampler") and args.ra_sampler:
            train_sampler = RASampler(dataset, shuffle=True, repetitions=args.ra_reps, seed=args.seed or 0)
        else:
            train_sampler = torch.utils.data.distributed.DistributedSampler(dataset, seed=args.seed or 0)
        test_sampler = torch.utils.data.distributed.DistributedSampler(dataset_test, shuffle=False)
    else:
        train_sampler = torch.utils.data.RandomSampler(dataset)
        test_sampler = torch.utils.data.SequentialSampler(dataset_test)
    return dataset, dataset_test, train_sampler, test_sampler


def load_model_state(model: nn.Module, checkpoint: dict, source: str, model_name: str, key: str = "model") -> None:
    """Load weights, turning a shape/key mismatch into an error that names both models."""
    state = checkpoint[key] if key in checkpoint else checkpoint
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        saved = checkpoint.get("args") if isinstance(checkpoint, dict) else None
        saved_model = saved.get("model") if isinstance(saved, dict) else getattr(saved, "model", None)
        saved_classes = checkpoint.get("num_classes")
        raise CheckpointMismatchError(
            f"{source} does not fit --model {model_name}: it was saved from model '{saved_model or 'unknown'}'"
            f"{f' with {saved_classes} classes' if saved_classes else ''}. Pass the same --model (and "
            f"--num-classes) as in training. PyTorch said: {str(e).splitlines()[0]}"
        ) from None


def _write_metrics(output_dir: str, history: list[dict]) -> None:
    rc.write_json(os.path.join(output_dir, "metrics.json"), history, sort_keys=False)
    rc.write_csv(os.path.join(output_dir, "metrics.csv"), history,
                 fieldnames=list(dict.fromkeys(k for row in history for k in row)))


def _link_into_place(source: Path, target: Path) -> None:
    """``target`` becomes another name of ``source`` (a copy where hard links fail), replaced atomically."""
    with rc.atomic_path(target) as tmp:
        try:
            os.link(source, tmp)  # one file on disk for up to three names
        except OSError:
            shutil.copyfile(source, tmp)


def _save_checkpoint(checkpoint: dict, output_dir: str, epoch: int, is_best: bool, keep_last: int) -> None:
    """model_{epoch}.pth first (atomic), then model_best.pth and checkpoint.pth (the resume point) as links to
    it: an interrupted or failed save leaves the previous checkpoint.pth intact."""
    if not utils.is_main_process():
        return
    out = Path(output_dir)
    epoch_file = save_checkpoint(checkpoint, out / f"model_{epoch}.pth")
    for name in (["model_best.pth"] if is_best else []) + ["checkpoint.pth"]:
        _link_into_place(epoch_file, out / name)
    if keep_last > 0:
        (out / f"model_{epoch - keep_last}.pth").unlink(missing_ok=True)


@rc.command
def main(argv=None):
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns the per-epoch metrics (or the evaluation)."""
    args = argv if isinstance(argv, argparse.Namespace) else get_args_parser().parse_args(argv)
    try:
        return run(args)
    except Exception as e:
        utils.reraise_loader_error(e)
        raise


def run(args: argparse.Namespace):
    if args.model in DETECTION_MODELS:
        raise rc.UsageError(f"--model {args.model} is a detection model: train it with `python -m dero.yolo.train`")
    traindir, valdir = check_layout(args.data_path)
    checkpoint_file = Path(args.output_dir or ".") / "checkpoint.pth"
    if args.output_dir and not args.test_only and int(os.environ.get("RANK", "0")) == 0:
        # before anything is written: the same run resumes, another one is refused (unless --overwrite)
        state = rc.claim_run_dir(args.output_dir, args, ignore=NOT_IDENTITY, overwrite=args.overwrite)
        if state == "resume":
            remove_stale_temporaries(args.output_dir)
        if state == "resume" and not args.resume and checkpoint_file.exists():
            args.resume = str(checkpoint_file)
            print(f"resuming the run in {args.output_dir} from {checkpoint_file}")
    elif args.output_dir and not args.test_only and not args.resume and checkpoint_file.exists():
        args.resume = str(checkpoint_file)  # other DDP ranks follow rank 0
    utils.init_distributed_mode(args)
    print(args)
    if args.seed is not None:
        utils.seed_everything(args.seed)

    device = torch.device(args.device)
    if args.use_deterministic_algorithms:
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cudnn.benchmark = True

    dataset, dataset_test, train_sampler, test_sampler = load_data(traindir, valdir, args)
    num_classes = args.num_classes or len(dataset.classes)

    mixup_cutmix = transforms.get_mixup_cutmix(mixup_alpha=args.mixup_alpha, cutmix_alpha=args.cutmix_alpha,
                                               num_classes=num_classes)
    if mixup_cutmix is not None:
        def collate_fn(batch):
            return mixup_cutmix(*default_collate(batch))
    else:
        collate_fn = default_collate

    generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    data_loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, sampler=train_sampler,
                                              num_workers=args.workers, pin_memory=device.type == "cuda",
                                              collate_fn=collate_fn, generator=generator)
    data_loader_test = torch.utils.data.DataLoader(dataset_test, batch_size=args.batch_size, sampler=test_sampler,
                                                   num_workers=args.workers, pin_memory=device.type == "cuda")

    print("Creating model")
    weights_file = args.weights if args.weights and os.path.isfile(args.weights) else None
    if args.weights and not weights_file and (args.weights.endswith((".pth", ".pt")) or os.sep in args.weights):
        rc.require_file(args.weights, "checkpoint (--weights)", "pass a .pth written by dero.train")
    # a name that is not a file is a torchvision weights enum (the original recipe's meaning)
    try:
        model = get_model(args.model, num_classes=num_classes,
                          **({"weights": args.weights} if args.weights and not weights_file else {}))
    except TypeError as e:  # our *dero/*plain builders have no torchvision weights
        raise rc.UsageError(f"--weights {args.weights}: neither a checkpoint file nor a torchvision weights "
                                f"name that model '{args.model}' accepts ({e})") from None
    if weights_file:
        load_model_state(model, load_checkpoint(weights_file, "checkpoint (--weights)"), weights_file,
                         args.model, key="model_ema" if args.weights_ema else "model")
    model.to(device)
    if args.distributed and args.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)

    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    custom_keys_weight_decay = []
    if args.bias_weight_decay is not None:
        custom_keys_weight_decay.append(("bias", args.bias_weight_decay))
    if args.transformer_embedding_decay is not None:
        for key in ["class_token", "position_embedding", "relative_position_bias_table"]:
            custom_keys_weight_decay.append((key, args.transformer_embedding_decay))
    parameters = utils.set_weight_decay(model, args.weight_decay, norm_weight_decay=args.norm_weight_decay,
                                        custom_keys_weight_decay=custom_keys_weight_decay or None)

    opt_name = args.opt.lower()
    if opt_name.startswith("sgd"):
        optimizer = torch.optim.SGD(parameters, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
                                    nesterov="nesterov" in opt_name)
    elif opt_name == "rmsprop":
        optimizer = torch.optim.RMSprop(parameters, lr=args.lr, momentum=args.momentum,
                                        weight_decay=args.weight_decay, eps=0.0316, alpha=0.9)
    elif opt_name == "adamw":
        optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=args.weight_decay)
    else:
        raise RuntimeError(f"Invalid optimizer {args.opt}. Only SGD, RMSprop and AdamW are supported.")

    scaler = torch.amp.GradScaler("cuda") if (args.amp and device.type == "cuda") else None

    args.lr_scheduler = args.lr_scheduler.lower()
    if args.lr_scheduler == "steplr":
        main_lr_scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_step_size, gamma=args.lr_gamma)
    elif args.lr_scheduler == "cosineannealinglr":
        main_lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=args.epochs - args.lr_warmup_epochs, eta_min=args.lr_min)
    elif args.lr_scheduler == "exponentiallr":
        main_lr_scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.lr_gamma)
    else:
        raise RuntimeError(f"Invalid lr scheduler '{args.lr_scheduler}'. Only StepLR, CosineAnnealingLR and "
                           "ExponentialLR are supported.")
    if args.lr_warmup_epochs > 0:
        if args.lr_warmup_method == "linear":
            warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=args.lr_warmup_decay,
                                                       total_iters=args.lr_warmup_epochs)
        elif args.lr_warmup_method == "constant":
            warmup = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=args.lr_warmup_decay,
                                                         total_iters=args.lr_warmup_epochs)
        else:
            raise RuntimeError(f"Invalid warmup lr method '{args.lr_warmup_method}'. Only linear and constant "
                               "are supported.")
        lr_scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers=[warmup, main_lr_scheduler],
                                                             milestones=[args.lr_warmup_epochs])
    else:
        lr_scheduler = main_lr_scheduler

    model_without_ddp = model
    if args.distributed:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[args.gpu] if device.type == "cuda" else None)
        model_without_ddp = model.module

    model_ema = None
    if args.model_ema:
        # Decay per EMA update, adjusted so the averaging horizon in epochs does not depend on batch size,
        # world size or update interval (torchvision recipe, see its PR #4406).
        adjust = args.world_size * args.batch_size * args.model_ema_steps / args.epochs
        alpha = min(1.0, (1.0 - args.model_ema_decay) * adjust)
        model_ema = utils.ExponentialMovingAverage(model_without_ddp, device=device, decay=1.0 - alpha)

    best_acc1, history = 0.0, []
    if args.resume:
        checkpoint = load_checkpoint(args.resume, "checkpoint (--resume)")
        load_model_state(model_without_ddp, checkpoint, args.resume, args.model)
        if not args.test_only:
            optimizer.load_state_dict(checkpoint["optimizer"])
            lr_scheduler.load_state_dict(checkpoint["lr_scheduler"])
        args.start_epoch = checkpoint["epoch"] + 1
        best_acc1 = checkpoint.get("best_acc1", 0.0)
        if model_ema and "model_ema" in checkpoint:
            model_ema.load_state_dict(checkpoint["model_ema"])
        if scaler and "scaler" in checkpoint:
            scaler.load_state_dict(checkpoint["scaler"])
        if "rng" in checkpoint and not args.test_only:
            utils.set_rng_state(checkpoint["rng"], generator)
        history = [row for row in checkpoint.get("history", []) if row["epoch"] < args.start_epoch]

    if args.test_only:
        # We disable the cudnn benchmarking because it can noticeably affect the accuracy
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        result = evaluate(model_ema if model_ema else model, criterion, data_loader_test, device=device,
                          log_suffix="EMA" if model_ema else "")
        result.update(model=args.model, weights=args.weights or args.resume, dataset=args.dataset_name,
                      num_val_images=len(dataset_test))
        if len(dataset_test) == 0:
            raise rc.RunFailed(f"nothing was evaluated: {valdir} gave no images")
        if args.output_dir and utils.is_main_process():
            rc.write_json(os.path.join(args.output_dir, "eval.json"), result)
        return result

    print("Start training")
    start_time = time.time()
    for epoch in range(args.start_epoch, args.epochs):
        epoch_start = time.time()
        if args.distributed:
            train_sampler.set_epoch(epoch)
        row = {"epoch": epoch, "dataset": args.dataset_name}
        row.update(train_one_epoch(model, criterion, optimizer, data_loader, device, epoch, args, model_ema, scaler))
        lr_scheduler.step()
        val = evaluate(model, criterion, data_loader_test, device=device)
        row.update({f"val_{k}": v for k, v in val.items()})
        if model_ema:
            ema = evaluate(model_ema, criterion, data_loader_test, device=device, log_suffix="EMA")
            row.update({f"ema_val_{k}": v for k, v in ema.items()})
        acc1 = row["ema_val_acc1"] if model_ema else row["val_acc1"]
        is_best = acc1 > best_acc1 or epoch == 0
        best_acc1 = max(best_acc1, acc1)
        row.update(best_acc1=best_acc1, epoch_time_s=round(time.time() - epoch_start, 2))
        history.append(row)
        if args.output_dir:
            checkpoint = {"model": model_without_ddp.state_dict(), "optimizer": optimizer.state_dict(),
                          "lr_scheduler": lr_scheduler.state_dict(), "epoch": epoch, "args": args,
                          "num_classes": num_classes, "best_acc1": best_acc1, "metrics": row, "history": history,
                          "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__}}
            checkpoint["rng"] = utils.rng_state(generator)
            if model_ema:
                checkpoint["model_ema"] = model_ema.state_dict()
            if scaler:
                checkpoint["scaler"] = scaler.state_dict()
            _save_checkpoint(checkpoint, args.output_dir, epoch, is_best, args.keep_last)
            if utils.is_main_process():
                _write_metrics(args.output_dir, history)

    total_time_str = str(datetime.timedelta(seconds=int(time.time() - start_time)))
    print(f"Training time {total_time_str}")
    return history


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="PyTorch Classification Training (DERO)", add_help=add_help)
    parser.add_argument("--data-path", required=True, type=str,
                        help="ImageFolder root with train/ and val/ (ImageNet, or data/mini/imagenet)")
    parser.add_argument("--model", default="resnet18", type=rc.name_in(list_models()),
                        help="registry name, e.g. resnet50dero")
    parser.add_argument("--num-classes", default=None, type=rc.positive_int,
                        help="classifier width (default: number of class folders in train/)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", type=str,
                        help="device (cuda or cpu; default: cuda when available)")
    parser.add_argument("-b", "--batch-size", default=32, type=rc.positive_int,
                        help="images per gpu, the total batch size is $NGPU x batch_size")
    parser.add_argument("--epochs", default=90, type=rc.positive_int, metavar="N", help="number of total epochs to run")
    parser.add_argument("-j", "--workers", default=16, type=rc.nonnegative_int, metavar="N", help="number of data loading workers")
    parser.add_argument("--opt", default="sgd", type=str, help="optimizer: sgd, sgd_nesterov, rmsprop, adamw")
    parser.add_argument("--lr", default=0.1, type=rc.positive_float, help="initial learning rate")
    parser.add_argument("--momentum", default=0.9, type=rc.float_range(0, 1, hi_open=True), metavar="M", help="momentum")
    parser.add_argument("--wd", "--weight-decay", default=1e-4, type=rc.nonnegative_float, metavar="W", dest="weight_decay",
                        help="weight decay")
    parser.add_argument("--norm-weight-decay", default=None, type=float,
                        help="weight decay for normalization layers (default: same as --wd)")
    parser.add_argument("--bias-weight-decay", default=None, type=float,
                        help="weight decay for bias parameters of all layers (default: same as --wd)")
    parser.add_argument("--transformer-embedding-decay", default=None, type=float,
                        help="weight decay for embedding parameters of vision transformers (default: same as --wd)")
    parser.add_argument("--label-smoothing", default=0.0, type=rc.float_range(0, 1, hi_open=True), help="label smoothing")
    parser.add_argument("--mixup-alpha", default=0.0, type=rc.nonnegative_float, help="mixup alpha (0 = off)")
    parser.add_argument("--cutmix-alpha", default=0.0, type=rc.nonnegative_float, help="cutmix alpha (0 = off)")
    parser.add_argument("--lr-scheduler", default="steplr", type=str,
                        help="steplr, cosineannealinglr or exponentiallr")
    parser.add_argument("--lr-warmup-epochs", default=0, type=rc.nonnegative_int, help="number of epochs to warmup")
    parser.add_argument("--lr-warmup-method", default="constant", type=str, help="warmup method: constant or linear")
    parser.add_argument("--lr-warmup-decay", default=0.01, type=float, help="lr factor during warmup")
    parser.add_argument("--lr-step-size", default=30, type=rc.positive_int, help="StepLR: decrease lr every N epochs")
    parser.add_argument("--lr-gamma", default=0.1, type=float, help="StepLR/ExponentialLR: lr decay factor")
    parser.add_argument("--lr-min", default=0.0, type=float, help="CosineAnnealingLR: minimum lr")
    parser.add_argument("--print-freq", default=10, type=rc.positive_int, help="print frequency (iterations)")
    parser.add_argument("--output-dir", default=".", type=str, help="path to save outputs")
    parser.add_argument("--resume", default="", type=str,
                        help="checkpoint to continue from (default: the --output-dir's checkpoint.pth on a rerun)")
    parser.add_argument("--overwrite", action="store_true", help=rc.OVERWRITE_HELP)
    parser.add_argument("--start-epoch", default=0, type=rc.nonnegative_int, metavar="N", help="start epoch")
    parser.add_argument("--keep-last", default=3, type=rc.nonnegative_int,
                        help="keep model_{epoch}.pth of the last N epochs (DERO kept 3); 0 keeps every epoch")
    parser.add_argument("--cache-dataset", action="store_true",
                        help="cache the datasets for quicker initialization (also serializes the transforms)")
    parser.add_argument("--sync-bn", action="store_true", help="use sync batch norm")
    parser.add_argument("--test-only", action="store_true", help="only evaluate (--weights CKPT or --resume CKPT)")
    parser.add_argument("--auto-augment", default=None, type=str,
                        help="auto augment policy: imagenet, cifar10, svhn, ra, ta_wide, augmix")
    parser.add_argument("--ra-magnitude", default=9, type=int, help="magnitude of RandAugment")
    parser.add_argument("--augmix-severity", default=3, type=int, help="severity of AugMix")
    parser.add_argument("--random-erase", default=0.0, type=rc.fraction, help="random erasing probability")
    parser.add_argument("--amp", action="store_true",
                        help="automatic mixed precision (float16 on CUDA with GradScaler, bfloat16 on CPU)")
    parser.add_argument("--world-size", default=1, type=int, help="number of distributed processes")
    parser.add_argument("--dist-url", default="env://", type=str, help="url used to set up distributed training")
    parser.add_argument("--dist-backend", default=None, type=str,
                        help="torch.distributed backend (default: nccl on CUDA, gloo on CPU)")
    parser.add_argument("--model-ema", action="store_true", help="track an exponential moving average of the model")
    parser.add_argument("--model-ema-steps", type=rc.positive_int, default=32,
                        help="number of iterations between EMA updates")
    parser.add_argument("--model-ema-decay", type=float, default=0.99998,
                        help="EMA decay factor (per image, adjusted for batch size and update interval)")
    parser.add_argument("--use-deterministic-algorithms", action="store_true",
                        help="forces the use of deterministic algorithms only")
    parser.add_argument("--seed", default=None, type=int,
                        help="seed python/numpy/torch (+ rank) and the loader shuffling; default: unseeded, as the "
                             "original recipe")
    parser.add_argument("--interpolation", default="bilinear", type=str, help="interpolation method (bilinear, bicubic)")
    parser.add_argument("--val-resize-size", default=256, type=rc.positive_int, help="resize size for validation")
    parser.add_argument("--val-crop-size", default=224, type=rc.positive_int, help="central crop size for validation")
    parser.add_argument("--train-crop-size", default=224, type=rc.positive_int, help="random crop size for training")
    parser.add_argument("--clip-grad-norm", default=None, type=float, help="maximum gradient norm (default: off)")
    parser.add_argument("--ra-sampler", action="store_true", help="use repeated augmentation in training")
    parser.add_argument("--ra-reps", default=3, type=rc.positive_int, help="number of repetitions for the RA sampler")
    parser.add_argument("--weights", default=None, type=str,
                        help="checkpoint path (.pth written by this trainer, or a bare state_dict), or a torchvision "
                             "weights name such as ResNet50_Weights.IMAGENET1K_V1")
    parser.add_argument("--weights-ema", action="store_true", help="with --weights CKPT: load its EMA weights")
    parser.add_argument("--backend", default="PIL", type=str.lower, help="PIL or tensor (case insensitive)")
    parser.add_argument("--use-v2", action="store_true", help="use torchvision.transforms.v2")
    parser.add_argument("--dataset-name", default="imagenet", type=str,
                        help="label written into metrics.json/eval.json ('mini' for the offline mini set)")
    return parser


def cli() -> None:
    rc.entry(main)


if __name__ == "__main__":
    cli()
