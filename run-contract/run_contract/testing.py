"""Helpers for the contract's tests in every subproject: run a CLI, check its error, hash a run directory,
make a writer fail half-way."""

import errno as errno_module
import hashlib
import os
import subprocess
import sys
from pathlib import Path

TRACEBACK_MARK = "Traceback (most recent call last)"


def run_cli(module, *args, env=None, timeout=600, cwd=None):
    """``python -m module args...`` in a subprocess: (returncode, stdout, stderr). No --debug, no TINYML_DEBUG."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("TINYML_DEBUG", None)
    full_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    proc = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def error_lines(stderr):
    """The ``error: ...`` lines of a command's stderr (library warnings, e.g. TF's, are other lines)."""
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def assert_one_line_error(stderr, *fragments):
    """Exactly one ``error:`` line, no traceback, and each fragment (e.g. the flag, the file) in that line."""
    assert TRACEBACK_MARK not in stderr, f"traceback printed:\n{stderr}"
    lines = error_lines(stderr)
    assert len(lines) == 1, f"expected one 'error:' line, got {len(lines)}:\n{stderr}"
    for fragment in fragments:
        assert str(fragment) in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def tree_hashes(root):
    """{relative path: sha256} of every file under ``root`` (empty if it does not exist)."""
    root = Path(root)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def fail_writes(monkeypatch, owner, name, after_bytes=0, err=errno_module.ENOSPC, path_arg=0):
    """Patch ``owner.name`` (a writer such as ``torch.save`` or ``h5py.File``) so that it truncates the file it
    was asked to write to ``after_bytes`` bytes and raises ``OSError(err)``, as a disk that fills up half-way.

    ``path_arg`` is the position of the target path among the writer's arguments. Returns a list that collects
    the paths the writer was asked to write.
    """
    calls = []

    def failing(*args, **kwargs):
        target = args[path_arg] if len(args) > path_arg else kwargs.get("filepath", kwargs.get("f"))
        calls.append(target)
        if isinstance(target, str | os.PathLike):
            with open(target, "wb") as f:
                f.write(b"\0" * after_bytes)
        raise OSError(err, os.strerror(err), str(target))

    monkeypatch.setattr(owner, name, failing)
    return calls
