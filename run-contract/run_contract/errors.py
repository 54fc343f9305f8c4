"""The two errors a command reports in one line, and the checks of input files that raise them."""

from pathlib import Path


class UsageError(Exception):
    """The user's input is wrong (a flag, a file, a refused rerun): ``error: <msg>``, exit code 2."""

    exit_code = 2


class RunFailed(Exception):
    """The run produced no result (nothing evaluated, a licence limit, a failed write): exit code 1."""

    exit_code = 1


def _with_hint(message, hint):
    return f"{message}; {hint}" if hint else message


def bad_file(path, problem, hint=None):
    """A ``UsageError`` for a file that exists but cannot be used (wrong format, truncated, other task)."""
    return UsageError(_with_hint(f"{path}: {problem}", hint))


def require_file(path, what, hint=None):
    """``path`` as a Path if it is a non-empty file, else a one-line ``UsageError`` saying what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise bad_file(path, f"is a directory, expected the {what} file", hint)
    if not path.exists():
        raise UsageError(_with_hint(f"{path}: {what} not found", hint))
    if path.stat().st_size == 0:
        raise bad_file(path, f"{what} is empty (0 bytes)", hint)
    return path


def require_dir(path, what, hint=None, must_contain=()):
    """``path`` as a Path if it is a directory holding every name in ``must_contain``."""
    path = Path(path)
    if not path.exists():
        raise UsageError(_with_hint(f"{path}: {what} not found", hint))
    if not path.is_dir():
        raise bad_file(path, f"is a file, expected the {what} directory", hint)
    missing = [name for name in must_contain if not (path / name).exists()]
    if missing:
        raise bad_file(path, f"{what} lacks {', '.join(missing)}", hint)
    return path
