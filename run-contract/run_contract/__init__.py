"""The command contract of tinyml-repro: checked arguments, one-line errors, atomic writes, resume-or-refuse
run directories, non-zero exit when nothing was produced, no hangs. Standard library only (no TF, no torch),
so every subproject's commands share one implementation. See ``run-contract/README.md``.
"""

from run_contract.arguments import (
    ArgumentParser,
    check,
    existing_dir,
    existing_file,
    float_range,
    fraction,
    int_range,
    name_in,
    nonnegative_float,
    nonnegative_int,
    open_fraction,
    positive_float,
    positive_int,
)
from run_contract.errors import RunFailed, UsageError, bad_file, require_dir, require_file
from run_contract.files import atomic_open, atomic_path, write_bytes, write_csv, write_json, write_text
from run_contract.main import DEBUG_ENV, command, entry
from run_contract.rundir import OVERWRITE_HELP, claim_run_dir

__all__ = [
    "ArgumentParser", "DEBUG_ENV", "OVERWRITE_HELP", "RunFailed", "UsageError", "atomic_open", "atomic_path",
    "bad_file", "check", "claim_run_dir", "command", "entry", "existing_dir", "existing_file", "float_range",
    "fraction", "int_range", "name_in", "nonnegative_float", "nonnegative_int", "open_fraction", "positive_float",
    "positive_int", "require_dir", "require_file", "write_bytes", "write_csv", "write_json", "write_text",
]
