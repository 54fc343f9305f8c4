"""Checked command-line arguments: a parser whose errors are one line, and argument types with their ranges.

A type error reads ``error: argument --epochs: -1 is not an integer >= 1``: the flag, the value and the range.
"""

import argparse
import difflib
import math
import sys
from pathlib import Path

from run_contract.errors import UsageError


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with one-line errors (exit 2) and a ``--debug`` flag on top-level parsers.

    Parsers made with ``add_help=False`` serve as parents, so they leave ``--debug`` to the parser that
    includes them (two ``--debug`` would conflict).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.add_help:
            self.add_argument("--debug", action="store_true",
                              help="show the full traceback on errors (also: TINYML_DEBUG=1)")

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")

    def exit(self, status=0, message=None):
        if message:
            sys.stderr.write(message)
        sys.exit(status)


def _number(text, kind):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _bound_text(lo, hi, lo_open, hi_open):
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    return f"{'<' if hi_open else '<='} {hi}"


def _ranged(kind, lo=None, hi=None, lo_open=False, hi_open=False, name=None):
    noun = "an integer" if kind is int else "a number"
    bounds = _bound_text(lo, hi, lo_open, hi_open)

    def parse(text):
        value = _number(text, kind)
        too_low = lo is not None and (value <= lo if lo_open else value < lo)
        too_high = hi is not None and (value >= hi if hi_open else value > hi)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"{text} is not {noun} {bounds}")
        return value

    parse.__name__ = name or f"{kind.__name__} {bounds}"
    return parse


def int_range(lo=None, hi=None):
    """An integer in [lo, hi] (None: unbounded on that side)."""
    return _ranged(int, lo, hi)


def float_range(lo=None, hi=None, lo_open=False, hi_open=False):
    """A finite number between lo and hi; ``lo_open``/``hi_open`` exclude the bound itself."""
    return _ranged(float, lo, hi, lo_open, hi_open)


positive_int = _ranged(int, 1, name="positive_int")
nonnegative_int = _ranged(int, 0, name="nonnegative_int")
positive_float = _ranged(float, 0, lo_open=True, name="positive_float")
nonnegative_float = _ranged(float, 0, name="nonnegative_float")
fraction = _ranged(float, 0, 1, name="fraction")
open_fraction = _ranged(float, 0, 1, lo_open=True, hi_open=True, name="open_fraction")


def name_in(names, what="model"):
    """One of ``names``; an unknown name is refused with the closest known names suggested."""
    names = list(names)

    def parse(text):
        if text in names:
            return text
        close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(names))}"
        raise argparse.ArgumentTypeError(f"unknown {what} {text!r}; {hint}")

    parse.__name__ = what
    return parse


def existing_file(what):
    """A path to an existing, non-empty file."""

    def parse(text):
        path = Path(text)
        if not path.is_file():
            raise argparse.ArgumentTypeError(f"{text}: {what} not found" if not path.exists()
                                             else f"{text}: is not a file ({what} expected)")
        if path.stat().st_size == 0:
            raise argparse.ArgumentTypeError(f"{text}: {what} is empty (0 bytes)")
        return path

    parse.__name__ = what
    return parse


def existing_dir(what):
    """A path to an existing directory."""

    def parse(text):
        path = Path(text)
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text}: {what} not found" if not path.exists()
                                             else f"{text}: is not a directory ({what} expected)")
        return path

    parse.__name__ = what
    return parse


def check(condition, message):
    """Raise ``UsageError(message)`` unless ``condition`` (checks that span several flags)."""
    if not condition:
        raise UsageError(message)
