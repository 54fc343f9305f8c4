"""Where the fidelity kit is, and how a fidelity test reports its row of the ``make fidelity`` table.

The kit (``../shared/fidelity`` from the repository root, or ``$TINYML_FIDELITY_KIT``) holds the original papers'
models and about 10 % of each official EEMBC test set. Fidelity tests (pytest marker ``fidelity``, in any
subproject) compare our code against those artifacts, computing the reference side from the artifacts themselves,
and call ``record_row``: when ``$TINYML_FIDELITY_ROWS`` names a folder (``make fidelity`` sets it), the row is
written there as one JSON file, and ``tools/fidelity_table.py`` merges every subproject's rows into one table.
Outside ``make fidelity`` ``record_row`` does nothing.
"""

import os
import re
from pathlib import Path

KIT_ENV = "TINYML_FIDELITY_KIT"
ROWS_ENV = "TINYML_FIDELITY_ROWS"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KIT = REPO_ROOT.parent / "shared" / "fidelity"
ROW_FIELDS = ("subproject", "artifact", "params_ours", "params_original", "max_output_diff", "metric",
              "accuracy_ours", "accuracy_reference", "data", "n", "note")


def kit_dir():
    """The fidelity kit folder (it may not exist: tests then skip)."""
    return Path(os.environ.get(KIT_ENV) or DEFAULT_KIT)


def kit_path(*parts):
    """``kit_dir() / parts`` if it exists, else None."""
    path = kit_dir().joinpath(*parts)
    return path if path.exists() else None


def _slug(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120]


def record_row(subproject, artifact, *, params_ours=None, params_original=None, max_output_diff=None,
               metric="accuracy", accuracy_ours=None, accuracy_reference=None, data=None, n=None, note=""):
    """Report one row of the fidelity table (a no-op unless ``$TINYML_FIDELITY_ROWS`` is set).

    artifact: what was checked (e.g. "kws_ref_model.tflite on kws01"); params: ours / the original's
    (None for TFLite files); max_output_diff: the largest |ours - original| output difference (None when not
    compared); accuracy_ours: our CLI's figure, accuracy_reference: the plain reference loop's, in the unit of
    ``metric`` ("accuracy" in percent, "auc"); data: the kit folder; n: stimuli.
    """
    rows_dir = os.environ.get(ROWS_ENV)
    if not rows_dir:
        return None
    row = {"subproject": subproject, "artifact": artifact, "params_ours": params_ours,
           "params_original": params_original, "max_output_diff": max_output_diff, "metric": metric,
           "accuracy_ours": accuracy_ours, "accuracy_reference": accuracy_reference,
           "data": None if data is None else str(data), "n": n, "note": note}
    import run_contract as rc

    return rc.write_json(Path(rows_dir) / f"{_slug(subproject)}__{_slug(artifact)}.json", row)
