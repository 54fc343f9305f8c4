"""FLOPs, params and MACs of a saved KWS model (the original ``kws/compute_flops.py``).

    python -m depth_pruning.kws.compute_flops --ckpt_name RUN_DIR_OR_MODEL [--tflite] [--json]
    python -m depth_pruning.kws.compute_flops            # every cut of the base with the dscnn32_16 head

FLOPs as the original: TF-profiler float ops of the frozen graph at batch 1. A thin entry point: the counting
lives in ``depth_pruning.count``.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from depth_pruning import count

TASK = "kws"


def get_args_parser():
    return count.get_compute_flops_parser(TASK)


@rc.command
def main(argv=None):
    return count.compute_flops_main(TASK, argv)


if __name__ == "__main__":
    rc.entry(main)
