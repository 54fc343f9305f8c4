"""The command contract on dnn-param-encode's CLIs (issue 18): every bad input ends in one `error:` line with
exit code 2 and leaves files untouched; a decoded checkpoint whose save fails half-way leaves the previous one."""

import errno
import importlib
import os

import pytest
import run_contract as rc
import torch
from dnn_param_encode import decompression, demo, eval_lossless
from dnn_param_encode.checkpoints import load_state_dict, save_checkpoint
from param_encode_helpers import perturbed, small_state_dict
from run_contract.testing import assert_one_line_error, run_cli, tree_hashes

LR = "0.01"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A chain of 4 checkpoints, one finished lossless evaluation, an encoded file and a folder of bad files."""
    root = tmp_path_factory.mktemp("pe")
    chain, sd = root / "ckpt", small_state_dict(0)
    for e in range(1, 5):
        sd = perturbed(sd, e, 2e-4)
        save_checkpoint(chain / f"{e}_{LR}.pt", sd, epoch=e, lr=float(LR))
    eval_lossless.main.__wrapped__(["--path-pt", str(chain), "--learning-rate", LR, "--epoch-interval", "1",
                                    "--epoch-first", "1", "--epoch-last", "4", "--output-dir", str(root / "eval"),
                                    "--method", "ResEntropy", "ResPlaneANS"])
    demo.main.__wrapped__(["--pre-epoch", str(chain / f"1_{LR}.pt"), "--cur-epoch", str(chain / f"2_{LR}.pt"),
                           "--method", "ResIntDiffANS", "--output", str(root / "2.dpe")])
    bad = root / "bad"
    bad.mkdir()
    good = (chain / f"2_{LR}.pt").read_bytes()
    (bad / "truncated.pt").write_bytes(good[: len(good) // 2])
    (bad / "empty.pt").write_bytes(b"")
    (bad / "text.pt").write_text("not a checkpoint\n")
    blob = bytearray((root / "2.dpe").read_bytes())
    (bad / "short.dpe").write_bytes(bytes(blob[: len(blob) // 2]))
    blob[-5] ^= 0x20
    (bad / "flipped.dpe").write_bytes(bytes(blob))
    broken_chain = bad / "chain"
    broken_chain.mkdir()
    for e in (1, 2):
        (broken_chain / f"{e}_{LR}.pt").write_bytes((chain / f"{e}_{LR}.pt").read_bytes())
    (broken_chain / f"3_{LR}.pt").write_bytes(good[:100])
    (bad / "no_epochs").mkdir()
    return root


# The cases run in this test process through each module's `main` (its exit code and what reaches file descriptor
# 2), one Python start for all of them; those in AS_PROGRAM also run as `python -m dnn_param_encode.<module>`, which
# covers the entry point (exit status, flushing).
AS_PROGRAM = {"truncated checkpoint", "flipped bit"}
PAIRS = ["--learning-rate", LR, "--epoch-interval", "1", "--epoch-first", "1", "--epoch-last", "4"]
CASES = [  # (id, module, args ({w} = the work folder), fragments of the one error line); every exit code is 2
    ("truncated checkpoint", "demo", ["--pre-epoch", "{w}/ckpt/1_0.01.pt", "--cur-epoch", "{w}/bad/truncated.pt"],
     ["truncated.pt"]),
    ("empty checkpoint", "demo", ["--pre-epoch", "{w}/bad/empty.pt", "--cur-epoch", "{w}/ckpt/2_0.01.pt"],
     ["empty.pt", "empty"]),
    ("text as checkpoint", "demo", ["--pre-epoch", "{w}/bad/text.pt", "--cur-epoch", "{w}/ckpt/2_0.01.pt"], ["text.pt"]),
    ("unknown method", "demo", ["--cur-epoch", "{w}/ckpt/2_0.01.pt", "--method", "ResEntropy17"], ["--method"]),
    ("step bits 0", "demo", ["--cur-epoch", "{w}/ckpt/2_0.01.pt", "--step-bits", "0"], ["--step-bits"]),
    ("no reference", "demo", ["--cur-epoch", "{w}/ckpt/2_0.01.pt", "--method", "ResEntropy"], ["--pre-epoch"]),
    ("flipped bit", "decompression", ["--input", "{w}/bad/flipped.dpe", "--reference", "{w}/ckpt/1_0.01.pt",
                                      "--output", "{w}/bad/out.pt"], ["flipped.dpe", "CRC32"]),
    ("truncated encoded file", "decompression", ["--input", "{w}/bad/short.dpe", "--reference", "{w}/ckpt/1_0.01.pt",
                                                 "--output", "{w}/bad/out.pt"], ["short.dpe"]),
    ("wrong reference", "decompression", ["--input", "{w}/2.dpe", "--reference", "{w}/ckpt/3_0.01.pt", "--output",
                                          "{w}/bad/out.pt"], ["wrong reference"]),
    ("interval 0", "eval_lossless", ["--path-pt", "{w}/ckpt", "--epoch-interval", "0"], ["--epoch-interval"]),
    ("no checkpoints", "eval_lossless", ["--path-pt", "{w}/bad/no_epochs", *PAIRS], ["1_0.01.pt", "not found"]),
    ("other evaluation in dir", "eval_lossless", ["--path-pt", "{w}/ckpt", *PAIRS, "--output-dir", "{w}/eval",
                                                  "--method", "ResIntDiffANS"], ["method", "--overwrite"]),
    ("truncated in chain", "eval_lossy", ["--path-pt", "{w}/bad/chain", *PAIRS[:-2], "--epoch-last", "3",
                                          "--include-last-pair", "--output-dir", "{w}/bad/eval"], ["3_0.01.pt"]),
    ("evaluate empty", "evaluate", ["--checkpoint", "{w}/bad/empty.pt", "--data-path", "{w}/bad"], ["empty.pt"]),
    ("train epochs<1", "train_resnet18", ["--data-path", "{w}/bad", "--output-dir", "{w}/bad/t", "--epochs", "-1"],
     ["--epochs"]),
    ("plot nothing", "plot", ["--input-dir", "{w}/bad/no_epochs"], ["no lossless"]),
    ("yolo run without epochs", "prepare_yolov5n", ["--run-dir", "{w}/bad/no_epochs", "--output-dir", "{w}/bad/y"],
     ["epoch<N>.pt"]),
]


@pytest.mark.parametrize("case,module,args,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(case, module, args, fragments, work, capfd, monkeypatch):
    args = [a.format(w=work) for a in args]
    before = tree_hashes(work)
    monkeypatch.delenv("TINYML_DEBUG", raising=False)
    capfd.readouterr()
    returncode = importlib.import_module(f"dnn_param_encode.{module}").main(args)
    stderr = capfd.readouterr().err
    assert returncode == 2, stderr[-2000:]
    assert_one_line_error(stderr, *fragments)
    assert tree_hashes(work) == before
    if case in AS_PROGRAM:
        returncode, _, stderr = run_cli(f"dnn_param_encode.{module}", *args, env={"OMP_NUM_THREADS": "1"}, timeout=300)
        assert returncode == 2, stderr[-2000:]
        assert_one_line_error(stderr, *fragments)
        assert tree_hashes(work) == before


def test_disk_full_while_saving_the_decoded_checkpoint(work, tmp_path, monkeypatch, capsys):
    out = tmp_path / "decoded.pt"
    argv = ["--input", str(work / "2.dpe"), "--reference", str(work / "ckpt" / f"1_{LR}.pt"), "--output", str(out)]
    decompression.main.__wrapped__(argv)
    good = out.read_bytes()

    def disk_full(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"\0" * 64)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))

    monkeypatch.setattr(torch, "save", disk_full)
    assert decompression.main(argv) == 1
    assert "disk full" in capsys.readouterr().err
    assert out.read_bytes() == good and not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]
    assert torch.equal(load_state_dict(out)["fc.weight"], load_state_dict(work / "ckpt" / f"2_{LR}.pt")["fc.weight"])
    with pytest.raises(rc.UsageError):
        load_state_dict(work / "bad" / "truncated.pt")
