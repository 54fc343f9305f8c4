"""Run directories: the same command resumes its run, a different run is refused, nothing is written first."""

import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from run_contract.errors import UsageError
from run_contract.files import to_jsonable, write_json

# The contract's own flags never make two runs different.
CONTRACT_FLAGS = ("debug", "overwrite", "resume")
OVERWRITE_HELP = ("discard the run already in the output directory (its files are deleted) instead of refusing "
                  "when it was made with other arguments")


def _git_sha():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance():
    """When, how and with which code a run was started."""
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv, "python": sys.version.split()[0],
            "platform": platform.platform(), "git_sha": _git_sha()}


def _identity(values, identity, ignore):
    keys = identity if identity is not None else [k for k in values if k not in ignore
                                                  and k not in CONTRACT_FLAGS and not k.startswith("_")]
    return {k: to_jsonable(values.get(k)) for k in keys}


def _differences(old, new):
    rows = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            rows.append(f"--{key} {json.dumps(old.get(key, '(absent)'))} there, {json.dumps(new.get(key))} now")
    return rows


def claim_run_dir(out_dir, args, identity=None, ignore=(), overwrite=False, args_file="args.json"):
    """Check ``out_dir`` before anything is written to it; return ``"new"`` or ``"resume"``.

    The run's identity is the ``identity`` keys of ``args`` (a Namespace or dict), or all of them but ``ignore``
    and the contract's own flags. A directory whose ``args_file`` has another identity is refused with a
    ``UsageError`` naming each difference, unless ``overwrite`` (then the old run's files are deleted). Only
    after that check is ``args_file`` written (atomically), with the arguments and their provenance.
    """
    out_dir = Path(out_dir)
    values = dict(vars(args)) if not isinstance(args, dict) else dict(args)
    new_identity = _identity(values, identity, ignore)
    record = out_dir / args_file
    state = "new"
    if record.exists():
        try:
            old_values = json.loads(record.read_text())
        except (OSError, ValueError) as exc:
            if not overwrite:
                raise UsageError(f"{record}: unreadable record of an earlier run ({exc}); pass --overwrite to "
                                 f"discard that run, or choose another output directory") from exc
            old_values = None
        if old_values is not None:
            old_identity = {k: old_values.get(k) for k in new_identity}
            differences = _differences(old_identity, new_identity)
            if differences and not overwrite:
                raise UsageError(f"{out_dir} holds a different run ({'; '.join(differences)}): pass --overwrite "
                                 f"to discard it, or choose another output directory")
            state = "resume" if not differences else "new"
        if state == "new":
            shutil.rmtree(out_dir)
    first = provenance()
    if state == "resume":
        # Keep when the run was started; each resume adds its own entry.
        first = old_values.get("_provenance", first)
        resumes = [*old_values.get("_resumes", []), provenance()]
    write_json(record, {**to_jsonable(values), "_provenance": first,
                        **({"_resumes": resumes} if state == "resume" else {})})
    return state
