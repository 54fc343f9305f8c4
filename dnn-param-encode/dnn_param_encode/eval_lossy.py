"""Lossy evaluation over epoch pairs in closed loop (the paper's eval_lossy.py), plus the accuracy of the
last decoded model against the original when --data-path is given.

    python -m dnn_param_encode.eval_lossy --path-pt ... --learning-rate 0.001 --epoch-interval 3 \
        --epoch-first 61 --epoch-last 90 --method ResEntropy16bits ResRoundANS --data-path data/imagenet
"""

import json
import os

from dnn_param_encode.checkpoints import checkpoint_path, load_state_dict, save_checkpoint
from dnn_param_encode.compression import LOSSY_METHODS
from dnn_param_encode.eval_pairs import make_parser, pair_list, run_pairs
from dnn_param_encode.evaluate import top1_accuracy, val_loader


def get_args_parser(add_help=True):
    p = make_parser("Lossy closed-loop residual coding of checkpoint pairs", LOSSY_METHODS, "ResEntropy16bits",
                    add_help)
    p.add_argument("--data-path", default=None,
                   help="ImageFolder root; if given, compare top-1 of the last decoded model with the original")
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--image-size", type=int, default=224, help="evaluation crop size")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=0)
    return p


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    out_dir = args.output_dir or args.path_pt
    n = args.epoch_interval
    results = {}
    loader = val_loader(args.data_path, args.image_size, args.batch_size, args.workers) if args.data_path else None
    _, summary, last_decoded = run_pairs(args, "lossy")
    last_epoch = pair_list(args.epoch_first, args.epoch_last, n, args.include_last_pair)[-1][1]
    if loader is not None:
        original = load_state_dict(checkpoint_path(args.path_pt, last_epoch, args.learning_rate))
        results["original"] = top1_accuracy(original, loader, args.arch)
    for method, decoded in last_decoded.items():
        decoded_path = os.path.join(out_dir, f"decoded_{method}_n{n}_{last_epoch}_{args.learning_rate}.pt")
        save_checkpoint(decoded_path, decoded, epoch=last_epoch, lr=args.learning_rate, arch=args.arch,
                        decoded_with=method)
        if loader is not None:
            results[method] = top1_accuracy(decoded, loader, args.arch)
            print(f"top-1 at epoch {last_epoch} ({args.dataset_label}): original {results['original']:.3f}, "
                  f"{method} {results[method]:.3f}")
    metrics = {"dataset": args.dataset_label, "epoch_interval": n, "learning_rate": args.learning_rate,
               "summary": summary, "top1": results}
    with open(os.path.join(out_dir, f"lossy_lr{args.learning_rate}_n{n}_metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    return metrics


if __name__ == "__main__":
    main()
