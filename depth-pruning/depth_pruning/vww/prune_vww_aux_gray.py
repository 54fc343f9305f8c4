"""Grayscale variant (the original ``prune_vww_aux_gray.py``): 96x96x1 input, for the monochrome Pico4ML camera.

Same flags as ``prune_vww_aux``; ``--color_mode`` defaults to grayscale and the base must be a grayscale model.
The original's ``--nopretrained`` crashed here (``mobilenet_v1_gray`` was never imported); here it builds the
MobileNetV1-0.25 with a 1-channel input.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

from depth_pruning.vww import prune_vww_aux


def get_args_parser(add_help=True):
    return prune_vww_aux.get_args_parser(add_help=add_help, color_mode="grayscale")


@rc.command
def main(argv=None):
    return prune_vww_aux.prune(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)
