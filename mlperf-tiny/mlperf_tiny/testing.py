"""Helpers for the TF subprojects' reliability tests (nothing here runs on import).

- ``kill_mid_epoch_program(module, epoch, batch)``: the source of a ``python -c`` program that runs ``module``'s
  ``main`` with the command-line arguments given to it, and SIGKILLs itself after batch ``batch`` of epoch ``epoch``
  (0-based), through ``run_utils.training_callbacks`` (every TF trainer takes its callbacks from there).
- ``disk_full_h5py_file(real, fail_on)``: an ``h5py.File`` subclass whose n-th opening for writing cuts its target
  and raises ENOSPC (a save that fails half-way on a full disk).
- ``read_history(run_dir)``: (header, rows) of a run's ``history.csv``, to compare a resumed run with an
  uninterrupted one.
"""

_KILL_MID_EPOCH = """
import importlib, os, signal
import run_contract as rc
from mlperf_tiny import run_utils

callbacks = run_utils.training_callbacks


def with_kill(*args, **kwargs):
    import tensorflow as tf

    class KillMidEpoch(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == {epoch} and batch == {batch}:
                os.kill(os.getpid(), signal.SIGKILL)

    return [*callbacks(*args, **kwargs), KillMidEpoch()]


run_utils.training_callbacks = with_kill
rc.entry(importlib.import_module({module!r}).main)
"""


def kill_mid_epoch_program(module, epoch, batch):
    """Source of a program that runs ``module.main`` on ``sys.argv[1:]`` and is killed (-9) mid-training."""
    return _KILL_MID_EPOCH.format(module=module, epoch=int(epoch), batch=int(batch))


def disk_full_h5py_file(real, fail_on):
    """An ``h5py.File`` subclass whose n-th opening for writing cuts its target to a few bytes and raises ENOSPC
    (a subclass, so Keras' ``isinstance(..., h5py.File)`` checks keep working); and the list of failed targets."""
    import errno
    import os

    writes, targets = [0], []

    class DiskFullFile(real):
        def __init__(self, name, mode="r", *args, **kwargs):
            if mode != "r":
                writes[0] += 1
                if writes[0] == fail_on:
                    targets.append(str(name))
                    with open(name, "wb") as f:
                        f.write(b"\0" * 100)
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(name))
            super().__init__(name, mode, *args, **kwargs)

    return DiskFullFile, targets


def read_history(run_dir):
    """(header, rows as a float array) of ``run_dir/history.csv``."""
    from pathlib import Path

    import numpy as np

    lines = (Path(run_dir) / "history.csv").read_text().splitlines()
    return lines[0].split(","), np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
