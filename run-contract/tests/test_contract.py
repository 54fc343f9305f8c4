"""The command contract itself: one-line errors and exit codes, checked argument types, atomic writes that
survive a failing writer, run directories that resume or refuse, and exits that no thread can block."""

import argparse
import errno
import json
import os
import subprocess
import sys
import textwrap

import pytest
import run_contract as rc
from run_contract.testing import assert_one_line_error, fail_writes, tree_hashes


def _parser():
    p = rc.ArgumentParser(prog="train")
    p.add_argument("--epochs", type=rc.positive_int, default=3)
    p.add_argument("--ratio", type=rc.fraction, default=0.5)
    p.add_argument("--lr", type=rc.positive_float, default=1e-3)
    p.add_argument("--model", type=rc.name_in(["resnet8", "ds_cnn", "mobilenet_v1"]), default="ds_cnn")
    p.add_argument("--out_dir", default=None)
    return p


@rc.command
def _main(argv=None):
    args = _parser().parse_args(argv)
    return args.epochs


@pytest.mark.parametrize("argv, fragments", [
    (["--epochs", "-1"], ["--epochs", "-1", ">= 1"]),
    (["--epochs", "0"], ["--epochs", "0", ">= 1"]),
    (["--epochs", "x"], ["--epochs", "'x'", "not an integer"]),
    (["--ratio", "1.5"], ["--ratio", "1.5", "[0, 1]"]),
    (["--lr", "0"], ["--lr", "0", "> 0"]),
    (["--lr", "nan"], ["--lr", "not a finite number"]),
    (["--model", "resnet_8"], ["--model", "resnet_8", "did you mean resnet8"]),
    (["--epochz", "3"], ["unrecognized arguments: --epochz 3"]),
])
def test_bad_arguments_are_one_line_exit_2(argv, fragments, capsys):
    assert _main(argv) == 2
    assert_one_line_error(capsys.readouterr().err, *fragments)


def test_good_arguments_return_the_mains_code():
    assert _main(["--epochs", "7", "--ratio", "1", "--model", "resnet8"]) == 7


def test_ranges_are_inclusive_or_open_as_declared():
    assert rc.int_range(2, 4)("4") == 4
    with pytest.raises(argparse.ArgumentTypeError, match="5 is not an integer in \\[2, 4\\]"):
        rc.int_range(2, 4)("5")
    assert rc.float_range(0, 1, hi_open=True)("0") == 0.0
    with pytest.raises(argparse.ArgumentTypeError, match="in \\[0, 1\\)"):
        rc.float_range(0, 1, hi_open=True)("1")
    with pytest.raises(argparse.ArgumentTypeError, match="0 is not a number in \\(0, 1\\)"):
        rc.open_fraction("0")
    assert rc.nonnegative_int("0") == 0 and rc.nonnegative_float("0") == 0.0


@pytest.mark.parametrize("exc, code, fragment", [
    (rc.UsageError("data dir x: not found"), 2, "error: data dir x: not found"),
    (rc.RunFailed("no model evaluated"), 1, "error: no model evaluated"),
    (ValueError("bad\nthing"), 1, "error: ValueError: bad thing (rerun with --debug"),
    (OSError(errno.ENOSPC, "No space left on device", "/r/last.weights.h5"), 1, "error: disk full while writing /r/last"),
    (KeyboardInterrupt(), 130, "interrupted: rerun the same command to resume"),
    (SystemExit("cannot decode f.dpe"), 1, "error: cannot decode f.dpe"),
    (RuntimeError("Caught OSError in DataLoader worker process 1.\nOriginal Traceback (most recent call last):\n"
                  '  File "x.py", line 3, in f\n    img = load(p)\nOSError: image file is truncated\n'), 1,
     "error: RuntimeError: Caught OSError in DataLoader worker process 1. OSError: image file is truncated (rerun"),
])
def test_every_exception_is_one_line(exc, code, fragment, capsys):
    @rc.command
    def main(argv=None):
        raise exc

    assert main([]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(fragment), err


def test_debug_flag_and_env_show_the_traceback(monkeypatch):
    @rc.command
    def main(argv=None):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        main(["--debug"])
    monkeypatch.setenv(rc.DEBUG_ENV, "1")
    with pytest.raises(ValueError, match="boom"):
        main([])


def test_require_file_and_dir(tmp_path):
    with pytest.raises(rc.UsageError, match=r"missing.h5: base model not found; train it with make x"):
        rc.require_file(tmp_path / "missing.h5", "base model", hint="train it with make x")
    (tmp_path / "empty.h5").write_bytes(b"")
    with pytest.raises(rc.UsageError, match="is empty"):
        rc.require_file(tmp_path / "empty.h5", "base model")
    with pytest.raises(rc.UsageError, match="is a directory"):
        rc.require_file(tmp_path, "base model")
    with pytest.raises(rc.UsageError, match="lacks y_labels.csv"):
        rc.require_dir(tmp_path, "EEMBC folder", must_contain=["y_labels.csv"])


def test_atomic_open_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "metrics.json"
    rc.write_json(target, {"accuracy": 0.9})
    before = target.read_bytes()
    with pytest.raises(RuntimeError), rc.atomic_open(target, "w") as f:
        f.write('{"accur')
        raise RuntimeError("killed half-way")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary left behind


def test_atomic_path_turns_disk_full_into_run_failed(tmp_path):
    target = tmp_path / "last.weights.h5"
    target.write_bytes(b"previous resume point")

    def writer_that_fills_the_disk(path):
        assert path.name.endswith("-last.weights.h5")  # the writer sees the real extension
        path.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(rc.RunFailed, match="disk full while writing .*last.weights.h5"):
        with rc.atomic_path(target) as tmp:
            writer_that_fills_the_disk(tmp)
    assert target.read_bytes() == b"previous resume point"
    assert [p.name for p in tmp_path.iterdir()] == ["last.weights.h5"]


def test_fail_writes_helper_truncates_and_raises(tmp_path, monkeypatch):
    import pickle

    target = tmp_path / "ckpt.pkl"
    calls = fail_writes(monkeypatch, pickle, "dump", after_bytes=3, path_arg=1)
    with pytest.raises(OSError) as info:
        pickle.dump({"a": 1}, str(target))
    assert info.value.errno == errno.ENOSPC and calls == [str(target)] and target.read_bytes() == b"\0\0\0"


def test_atomic_path_swaps_a_directory(tmp_path):
    saved_model = tmp_path / "model"
    saved_model.mkdir()
    (saved_model / "v1").write_text("old")
    with rc.atomic_path(saved_model) as tmp:
        tmp.mkdir()
        (tmp / "v2").write_text("new")
    assert [p.name for p in saved_model.iterdir()] == ["v2"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_write_csv_and_json_convert_paths(tmp_path):
    rc.write_csv(tmp_path / "t.csv", [{"a": 1, "b": tmp_path}, {"a": 2, "c": "x"}])
    assert (tmp_path / "t.csv").read_text().splitlines() == ["a,b,c", f"1,{tmp_path},", "2,,x"]
    rc.write_json(tmp_path / "t.json", {"p": tmp_path, "t": (1, 2)})
    assert json.loads((tmp_path / "t.json").read_text()) == {"p": str(tmp_path), "t": [1, 2]}


def test_claim_run_dir_resumes_refuses_and_overwrites(tmp_path):
    run = tmp_path / "run"
    args = {"model": "ds_cnn", "epochs": 10, "lr": 1e-3, "debug": False}
    assert rc.claim_run_dir(run, args) == "new"
    (run / "last.weights.h5").write_bytes(b"w")
    first = json.loads((run / "args.json").read_text())["_provenance"]
    assert rc.claim_run_dir(run, {**args, "debug": True}) == "resume"  # the contract's own flags don't count
    record = json.loads((run / "args.json").read_text())
    assert record["_provenance"] == first and len(record["_resumes"]) == 1

    hashes = tree_hashes(run)
    with pytest.raises(rc.UsageError) as info:
        rc.claim_run_dir(run, {**args, "lr": 0.01})
    message = str(info.value)
    assert "--lr 0.001 there, 0.01 now" in message and "--overwrite" in message
    assert tree_hashes(run) == hashes  # nothing written before the check

    assert rc.claim_run_dir(run, {**args, "lr": 0.01}, ignore=("lr",)) == "resume"
    assert rc.claim_run_dir(run, {**args, "model": "resnet8"}, overwrite=True) == "new"
    assert sorted(p.name for p in run.iterdir()) == ["args.json"]


def test_entry_exits_although_a_thread_would_block(tmp_path):
    script = textwrap.dedent("""
        import threading, time
        import run_contract as rc
        import run_contract.main as m
        m.THREAD_GRACE_SECONDS = 0.5
        @rc.command
        def main(argv=None):
            threading.Thread(target=time.sleep, args=(3600,)).start()  # a worker that never ends
            raise rc.RunFailed("the data pipeline died")
        rc.entry(main)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TINYML_DEBUG": ""})
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, "the data pipeline died")
