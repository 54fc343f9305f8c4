"""Argparse helpers for the original T-RECX flags (``--isEV``, ``--isTrecx`` were passed as ``--isEV True``)."""

import argparse


def str2bool(value):
    if isinstance(value, bool):
        return value
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {value!r}")


def add_bool_flag(parser, name, help_text):
    """``--flag`` / ``--flag True`` / ``--flag False`` (the original spelling) all work."""
    parser.add_argument(name, type=str2bool, nargs="?", const=True, default=False, help=help_text)
