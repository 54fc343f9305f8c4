"""Entry points: every exception becomes one line and an exit code; no thread can keep a finished command alive."""

import functools
import os
import sys
import threading
import time

from run_contract.errors import RunFailed, UsageError
from run_contract.files import medium_problem

DEBUG_ENV = "TINYML_DEBUG"
INTERRUPTED_EXIT = 130  # 128 + SIGINT, as shells report Ctrl-C
# How long a finished command waits for non-daemon threads (TF, data loaders) before it exits anyway.
THREAD_GRACE_SECONDS = 5.0


def debug_requested(argv):
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        return True
    args = sys.argv[1:] if argv is None else argv
    return "--debug" in [str(a) for a in args]


def _one_line(text):
    """The message on one line; a message that embeds a traceback (a worker process's error, re-raised by its
    parent) keeps only the traceback's last line, the error itself."""
    text = str(text)
    if "Traceback (most recent call last)" in text:
        lines = [line for line in text.splitlines() if line.strip()]
        text = f"{lines[0].strip()} {lines[-1].strip()}" if lines[0] != lines[-1] else lines[-1]
    return " ".join(text.split())


def describe(exc):
    """(exit code, one-line message) for an exception that ended a command."""
    if isinstance(exc, UsageError | RunFailed):
        return exc.exit_code, _one_line(exc)
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED_EXIT, "interrupted: rerun the same command to resume"
    problem = medium_problem(exc)
    if problem:
        where = getattr(exc, "filename", None)
        return 1, _one_line(f"{problem}{f' while writing {where}' if where else ''}: {exc}")
    if isinstance(exc, MemoryError):
        return 1, "out of memory: try a smaller --batch_size"
    text = _one_line(exc) or "(no message)"
    return 1, f"{type(exc).__name__}: {text} (rerun with --debug for the traceback)"


def command(main):
    """Wrap ``main(argv=None)``: returns an exit code and prints ``error: ...`` in one line instead of raising.

    With ``--debug`` in argv or ``TINYML_DEBUG=1`` exceptions propagate with their traceback.
    """

    @functools.wraps(main)
    def wrapper(argv=None, *args, **kwargs):
        if debug_requested(argv):
            result = main(argv, *args, **kwargs)
            return result if isinstance(result, int) and not isinstance(result, bool) else 0
        try:
            result = main(argv, *args, **kwargs)
        except SystemExit as exc:
            code = exc.code
            if code is None or isinstance(code, int):
                return code or 0
            print(f"error: {_one_line(code)}", file=sys.stderr)  # SystemExit("message")
            return 1
        except BaseException as exc:  # noqa: BLE001 (the contract: every failure is one line)
            code, message = describe(exc)
            if code == INTERRUPTED_EXIT:
                print(message, file=sys.stderr)
            else:
                print(f"error: {message}", file=sys.stderr)
            return code
        return result if isinstance(result, int) and not isinstance(result, bool) else 0

    return wrapper


def entry(main):
    """Run ``main()`` as a program and exit with its code, even if a worker thread would block the exit."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    deadline = time.monotonic() + THREAD_GRACE_SECONDS
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        os._exit(code if isinstance(code, int) else 1)
    sys.exit(code)
