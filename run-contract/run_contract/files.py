"""Atomic writes: every result is written to a temporary name in its own directory and renamed into place,
so a failed or interrupted write leaves the previous file as it was."""

import contextlib
import csv
import errno
import io
import json
import os
import shutil
import uuid
from pathlib import Path

from run_contract.errors import RunFailed

# Errors of the medium rather than of the program: reported in one line naming the file and its directory.
_MEDIUM_ERRORS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}
# Writers that wrap the OS error (h5py, HDF5, TF's file system layer) keep only its text.
_MEDIUM_TEXTS = {
    "No space left on device": "disk full",
    "Disk quota exceeded": "disk quota exceeded",
    "Read-only file system": "read-only file system",
    "Permission denied": "permission denied",
}


def medium_problem(exc):
    """'disk full', 'read-only file system', ... when ``exc`` is such an error of the storage, else None."""
    if isinstance(exc, OSError) and exc.errno in _MEDIUM_ERRORS:
        return _MEDIUM_ERRORS[exc.errno]
    text = str(exc)
    return next((problem for needle, problem in _MEDIUM_TEXTS.items() if needle in text), None)


def _temporary_sibling(path):
    # The whole name is kept as the suffix: writers that check the extension (".weights.h5", ".tflite")
    # accept the temporary, and the leading dot keeps it out of globs over the run directory.
    return path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _swap_into_place(tmp, path):
    if path.is_dir() and not path.is_symlink():
        # os.replace cannot replace a non-empty directory: move the old one aside, then drop it.
        old = path.with_name(f".old-{uuid.uuid4().hex[:8]}-{path.name}")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` for a writer (file or directory); rename it into place on success.

    On any exception the temporary is removed, ``path`` is untouched and the exception propagates; an error of
    the storage (disk full, read-only, permission) becomes a one-line ``RunFailed`` naming the file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _as_run_failed(exc, path) from exc
    tmp = _temporary_sibling(path)
    try:
        yield tmp
        if not tmp.exists():
            raise RunFailed(f"writing {path}: the writer produced no file")
        _swap_into_place(tmp, path)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, Exception) and medium_problem(exc):
            raise _as_run_failed(exc, path) from exc
        raise


def _as_run_failed(exc, path):
    problem = medium_problem(exc) or str(exc)
    return RunFailed(f"{problem} while writing {path} (directory {Path(path).parent.resolve()}); "
                     f"the previous file, if any, is unchanged")


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """``open`` for writing whose result appears at ``path`` only once complete (flushed and fsynced)."""
    if not any(m in mode for m in "wx"):
        raise ValueError(f"atomic_open writes whole files: mode {mode!r} must be 'w' or 'wb'")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def to_jsonable(value):
    """Paths to str; numpy scalars/arrays to Python numbers/lists (duck-typed: numpy is not imported)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return to_jsonable(value.tolist())
    if hasattr(value, "item") and not isinstance(value, str | bytes | int | float | bool):
        return value.item()
    return value


def write_json(path, obj, sort_keys=True):
    """``obj`` as indented JSON, atomically."""
    with atomic_open(path, "w") as f:
        json.dump(to_jsonable(obj), f, indent=2, sort_keys=sort_keys)
        f.write("\n")
    return Path(path)


def write_text(path, text):
    with atomic_open(path, "w") as f:
        f.write(text)
    return Path(path)


def write_bytes(path, data):
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_csv(path, rows, fieldnames=None):
    """Rows (dicts) as CSV with a header; ``fieldnames`` defaults to the keys in order of first appearance."""
    rows = [to_jsonable(dict(r)) for r in rows]
    if fieldnames is None:
        fieldnames = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())
