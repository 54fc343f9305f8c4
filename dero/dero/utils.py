"""Training utilities of the torchvision classification recipe: logging with ETA, EMA, distributed helpers."""

import datetime
import errno
import os
import random
import time
from collections import defaultdict, deque

import numpy as np
import torch
import torch.distributed as dist


class SmoothedValue:
    """Track a series of values and give smoothed values over a window or the global average."""

    def __init__(self, window_size: int = 20, fmt: str | None = None):
        self.deque: deque = deque(maxlen=window_size)
        self.total = 0.0
        self.count = 0
        self.fmt = fmt or "{median:.4f} ({global_avg:.4f})"

    def update(self, value: float, n: int = 1) -> None:
        self.deque.append(value)
        self.count += n
        self.total += value * n

    def synchronize_between_processes(self) -> None:
        """Warning: does not synchronize the deque (only count and total)."""
        t = reduce_across_processes([self.count, self.total])
        self.count, self.total = int(t[0].item()), t[1].item()

    @property
    def median(self) -> float:
        return torch.tensor(list(self.deque)).median().item()

    @property
    def avg(self) -> float:
        return torch.tensor(list(self.deque), dtype=torch.float32).mean().item()

    @property
    def global_avg(self) -> float:
        return self.total / max(self.count, 1)

    @property
    def max(self) -> float:
        return max(self.deque)

    @property
    def value(self) -> float:
        return self.deque[-1]

    def __str__(self) -> str:
        return self.fmt.format(median=self.median, avg=self.avg, global_avg=self.global_avg, max=self.max,
                               value=self.value)


class MetricLogger:
    def __init__(self, delimiter: str = "\t"):
        self.meters: defaultdict[str, SmoothedValue] = defaultdict(SmoothedValue)
        self.delimiter = delimiter

    def update(self, **kwargs) -> None:
        for k, v in kwargs.items():
            if isinstance(v, torch.Tensor):
                v = v.item()
            self.meters[k].update(v)

    def __getattr__(self, attr):
        if attr in self.meters:
            return self.meters[attr]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{attr}'")

    def __str__(self) -> str:
        return self.delimiter.join(f"{name}: {meter}" for name, meter in self.meters.items())

    def synchronize_between_processes(self) -> None:
        for meter in self.meters.values():
            meter.synchronize_between_processes()

    def add_meter(self, name: str, meter: SmoothedValue) -> None:
        self.meters[name] = meter

    def log_every(self, iterable, print_freq: int, header: str = ""):
        """Yield from ``iterable`` and print progress, ETA, iteration/data time (and max CUDA memory)."""
        i = 0
        start_time = end = time.time()
        iter_time = SmoothedValue(fmt="{avg:.4f}")
        data_time = SmoothedValue(fmt="{avg:.4f}")
        total = len(iterable)
        space_fmt = ":" + str(len(str(total))) + "d"
        parts = [header, "[{0" + space_fmt + "}/{1}]", "eta: {eta}", "{meters}", "time: {time}", "data: {data}"]
        if torch.cuda.is_available():
            parts.append("max mem: {memory:.0f} MB")
        log_msg = self.delimiter.join(parts)
        for obj in iterable:
            data_time.update(time.time() - end)
            yield obj
            iter_time.update(time.time() - end)
            if i % print_freq == 0 or i == total - 1:
                eta = str(datetime.timedelta(seconds=int(iter_time.global_avg * (total - i - 1))))
                fields = dict(eta=eta, meters=str(self), time=str(iter_time), data=str(data_time))
                if torch.cuda.is_available():
                    fields["memory"] = torch.cuda.max_memory_allocated() / 2**20
                print(log_msg.format(i, total, **fields))
            i += 1
            end = time.time()
        total_time = str(datetime.timedelta(seconds=int(time.time() - start_time)))
        print(f"{header} Total time: {total_time}")


class ExponentialMovingAverage(torch.optim.swa_utils.AveragedModel):
    """EMA of the weights *and buffers* (BN statistics): ``ema = decay * ema + (1 - decay) * param``."""

    def __init__(self, model: torch.nn.Module, decay: float, device="cpu"):
        def ema_avg(avg_param, param, num_averaged):
            return decay * avg_param + (1 - decay) * param

        super().__init__(model, device, ema_avg, use_buffers=True)


def accuracy(output: torch.Tensor, target: torch.Tensor, topk=(1,)) -> list[torch.Tensor]:
    """Top-k accuracies in percent; ``target`` may be class indices or (mixup) soft labels."""
    with torch.inference_mode():
        maxk = min(max(topk), output.shape[1])
        if target.ndim == 2:
            target = target.argmax(dim=1)
        _, pred = output.topk(maxk, 1, True, True)
        correct = pred.t().eq(target[None])
        return [correct[: min(k, maxk)].flatten().sum(dtype=torch.float32) * (100.0 / target.shape[0]) for k in topk]


def mkdir(path: str) -> None:
    try:
        os.makedirs(path)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise


def setup_for_distributed(is_master: bool) -> None:
    """Silence ``print`` on every process but the master (``print(..., force=True)`` overrides)."""
    import builtins

    builtin_print = builtins.print

    def print_(*args, **kwargs):
        force = kwargs.pop("force", False)
        if is_master or force:
            builtin_print(*args, **kwargs)

    builtins.print = print_


def is_dist_avail_and_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_dist_avail_and_initialized() else 1


def get_rank() -> int:
    return dist.get_rank() if is_dist_avail_and_initialized() else 0


def is_main_process() -> bool:
    return get_rank() == 0


def save_on_master(*args, **kwargs) -> None:
    if is_main_process():
        torch.save(*args, **kwargs)


def init_distributed_mode(args) -> None:
    """Join the process group torchrun describes in RANK/WORLD_SIZE/LOCAL_RANK (gloo on CPU, nccl on GPU)."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        args.rank = int(os.environ["RANK"])
        args.world_size = int(os.environ["WORLD_SIZE"])
        args.gpu = int(os.environ["LOCAL_RANK"])
    elif "SLURM_PROCID" in os.environ:
        args.rank = int(os.environ["SLURM_PROCID"])
        args.gpu = args.rank % max(torch.cuda.device_count(), 1)
    else:
        print("Not using distributed mode")
        args.distributed = False
        return
    args.distributed = True
    use_cuda = args.device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(args.gpu)
    args.dist_backend = args.dist_backend or ("nccl" if use_cuda else "gloo")
    print(f"| distributed init (rank {args.rank}): {args.dist_url}, backend {args.dist_backend}", flush=True)
    dist.init_process_group(backend=args.dist_backend, init_method=args.dist_url, world_size=args.world_size,
                            rank=args.rank)
    dist.barrier()
    setup_for_distributed(args.rank == 0)


def reduce_across_processes(values) -> torch.Tensor:
    if not is_dist_avail_and_initialized():
        return torch.tensor(values)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor(values, device=device, dtype=torch.float64)
    dist.barrier()
    dist.all_reduce(t)
    return t.cpu()


def set_weight_decay(model: torch.nn.Module, weight_decay: float, norm_weight_decay: float | None = None,
                     norm_classes=None, custom_keys_weight_decay=None) -> list[dict]:
    """Parameter groups: normalisation layers and custom keys (e.g. ``bias``) may get their own decay."""
    if not norm_classes:
        norm_classes = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm, torch.nn.GroupNorm,
                        torch.nn.modules.instancenorm._InstanceNorm, torch.nn.LocalResponseNorm)
    params = {"other": [], "norm": []}
    decay = {"other": weight_decay, "norm": norm_weight_decay}
    for key, value in custom_keys_weight_decay or []:
        params[key], decay[key] = [], value

    def collect(module, prefix=""):
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            target = None
            for key, _ in custom_keys_weight_decay or []:
                full = f"{prefix}.{name}" if prefix and "." in key else name
                if key == full:
                    target = key
                    break
            if target is None:
                target = "norm" if (norm_weight_decay is not None and isinstance(module, norm_classes)) else "other"
            params[target].append(p)
        for child_name, child in module.named_children():
            collect(child, f"{prefix}.{child_name}" if prefix else child_name)

    collect(model)
    return [{"params": params[k], "weight_decay": decay[k]} for k in params if params[k]]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (each process adds its rank so workers differ but runs repeat)."""
    seed = seed + get_rank()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def reraise_loader_error(exc: BaseException) -> None:
    """A DataLoader worker's exception arrives with the worker's whole traceback in its message: re-raise it as a
    one-line ``run_contract.RunFailed`` naming the original error (the process then exits 1, no hang)."""
    import run_contract as rc

    text = str(exc)
    if "DataLoader worker" not in text or "Original Traceback" not in text:
        return
    last = [line.strip() for line in text.splitlines() if line.strip()][-1]
    raise rc.RunFailed(f"data loading failed in a DataLoader worker: {last}") from None


def rng_state(generator: torch.Generator | None = None) -> dict:
    """RNG states of this process (and of a loader generator), so that a resumed run continues exactly."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "loader": generator.get_state() if generator is not None else None}


def set_rng_state(state: dict, generator: torch.Generator | None = None) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if generator is not None and state.get("loader") is not None:
        generator.set_state(state["loader"])
