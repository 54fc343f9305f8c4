"""Methods and file format: bit-exact lossless round trips, faithful sizes, lossy error bounds, bad input."""

import numpy as np
import pytest
import torch
from dnn_param_encode.codec import arithmeticcoding
from dnn_param_encode.compression import (
    ALL_METHODS,
    LOSSLESS_METHODS,
    CodecError,
    MethodConfig,
    byte_residual,
    decode_stream,
    encode_stream,
    entropy_bits,
    npy_bytes,
)
from dnn_param_encode.fileformat import decode_checkpoint, encode_checkpoint
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from param_encode_helpers import assert_bit_exact, perturbed, small_state_dict

SPECIALS = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e-39, 3.4e38, -3.4e38],
                    dtype=np.float32)


def laplace_pair(rng, n=50_000, spread=1e-3):
    prev = (rng.standard_normal(n) * 0.05).astype(np.float32)
    cur = (prev + rng.laplace(size=n) * spread).astype(np.float32)
    return cur, prev


@pytest.mark.parametrize("method", LOSSLESS_METHODS)
def test_lossless_stream_bit_exact_with_specials(rng, method):
    cur, prev = laplace_pair(rng, 20_000)
    cur[:11] = SPECIALS
    prev[11:22] = SPECIALS
    cur[30:40] = prev[30:40]  # unchanged params
    enc = encode_stream(cur, prev, MethodConfig(method))
    out = decode_stream(enc.sections, prev, cur.size, MethodConfig(method))
    np.testing.assert_array_equal(out.view(np.uint32), cur.view(np.uint32))


def test_resentropy_is_the_papers_byte_residual(rng):
    cur, prev = laplace_pair(rng, 1000)
    res = byte_residual(cur, prev)
    assert res.dtype == np.uint8 and res.size == 4000
    # byte-wise subtraction, no borrow: byte k of cur == byte k of prev + residual (mod 256)
    np.testing.assert_array_equal((prev.view(np.uint8) + res), cur.view(np.uint8))
    enc = encode_stream(cur, prev, MethodConfig("ResEntropy"))
    assert enc.sections["payload"] == arithmeticcoding.compress(npy_bytes(res))  # np.save stream, header included


def test_resentropy_size_is_single_table_entropy(rng):
    cur, prev = laplace_pair(rng, 200_000)
    enc = encode_stream(cur, prev, MethodConfig("ResEntropy"))
    stream = np.frombuffer(npy_bytes(byte_residual(cur, prev)), np.uint8)
    bound = entropy_bits(np.bincount(stream, minlength=256)) / 8 + 1024  # H0 x (4N + 128) + table
    assert len(enc.sections["payload"]) == pytest.approx(bound, rel=0.005)
    assert enc.stats["entropy_bound_bytes"] == pytest.approx(bound)


@pytest.mark.parametrize("method", ["ResPlaneANS", "ResIntDiffANS", "Res16bitsJointANS", "ResRoundANS"])
def test_ans_coders_within_one_percent_of_bound(rng, method):
    cur, prev = laplace_pair(rng, 300_000, 2e-4)
    enc = encode_stream(cur, prev, MethodConfig(method, 17))
    coded = sum(len(v) for k, v in enc.sections.items() if k != "escapes")
    assert enc.stats["entropy_bound_bytes"] <= coded <= 1.01 * enc.stats["entropy_bound_bytes"]


def test_improved_lossless_beats_paper(rng):
    cur, prev = laplace_pair(rng, 300_000, 2e-4)
    size = {m: sum(map(len, encode_stream(cur, prev, MethodConfig(m)).sections.values())) * 8 / cur.size
            for m in LOSSLESS_METHODS}
    assert size["ResPlaneANS"] < size["ResEntropy"] - 1.5
    assert size["ResIntDiffANS"] < size["ResPlaneANS"]


@pytest.mark.parametrize("method,max_rel", [("ResEntropy16bits", 1.0), ("Res16bitsJointANS", 1.0), ("ResRoundANS", 1.0)])
def test_lossy_error_bounds(rng, method, max_rel):
    step_bits = 17
    cur, prev = laplace_pair(rng, 100_000, 1e-4)
    enc = encode_stream(cur, prev, MethodConfig(method, step_bits))
    recon = decode_stream(enc.sections, prev, cur.size, MethodConfig(method, step_bits), enc.stats)
    np.testing.assert_array_equal(recon.view(np.uint32), enc.reconstruction.view(np.uint32))
    err = cur.astype(np.float64) - recon
    step = 2.0**-step_bits
    ulp = np.spacing(np.abs(cur)).astype(np.float64)
    assert np.all(np.abs(err) <= step + ulp)  # quantiser error <= step, plus one rounding of the sum
    rmse = np.sqrt(np.mean(err**2))
    expected = step / np.sqrt(3) if method != "ResRoundANS" else step / np.sqrt(3)  # 2*step rounding: same RMSE
    assert rmse == pytest.approx(expected, rel=0.05)


def test_round_saves_bits_over_truncation_at_equal_max_error(rng):
    cur, prev = laplace_pair(rng, 200_000, 1e-4)
    joint = encode_stream(cur, prev, MethodConfig("Res16bitsJointANS", 17))
    paper = encode_stream(cur, prev, MethodConfig("ResEntropy16bits", 17))
    rnd = encode_stream(cur, prev, MethodConfig("ResRoundANS", 17))
    size = {k: sum(map(len, e.sections.values())) for k, e in [("joint", joint), ("paper", paper), ("round", rnd)]}
    assert size["round"] < size["joint"] < size["paper"]


def test_overflow_escape_and_error(rng):
    cur, prev = laplace_pair(rng, 1000)
    cur[5] = prev[5] + 0.5  # beyond 2^-2 with step 2^-17
    cur[6] = np.nan
    enc = encode_stream(cur, prev, MethodConfig("ResEntropy16bits", 17, "escape"))
    assert enc.stats["n_escapes"] == 2
    recon = decode_stream(enc.sections, prev, cur.size, MethodConfig("ResEntropy16bits", 17), enc.stats)
    assert recon[5] == cur[5] and np.isnan(recon[6])
    with pytest.raises(CodecError, match="--overflow escape"):
        encode_stream(cur, prev, MethodConfig("ResEntropy16bits", 17, "error"))


float_tensors = hnp.arrays(np.float32, st.integers(0, 40), elements=st.floats(width=32, allow_nan=True))


@settings(max_examples=40, deadline=None)
@given(cur=float_tensors, delta=st.floats(-1e-3, 1e-3), method=st.sampled_from(LOSSLESS_METHODS),
       ints=hnp.arrays(np.int64, st.integers(0, 5)), half=hnp.arrays(np.float16, st.integers(0, 3)))
def test_checkpoint_lossless_property(cur, delta, method, ints, half):
    prev = (cur + np.float32(delta)).astype(np.float32)
    cur_sd = {"layer.weight": torch.from_numpy(cur.copy()), "bn.running_var": torch.from_numpy(cur[::-1].copy()),
              "bn.num_batches_tracked": torch.from_numpy(ints.copy()), "half.weight": torch.from_numpy(half.copy()),
              "mask": torch.from_numpy(ints.copy() > 0), "empty.bias": torch.zeros(0)}
    ref_sd = dict(cur_sd, **{"layer.weight": torch.from_numpy(prev), "bn.running_var": torch.from_numpy(prev[::-1].copy())})
    blob, _, _ = encode_checkpoint(cur_sd, ref_sd, MethodConfig(method))
    assert_bit_exact(decode_checkpoint(blob, ref_sd), cur_sd)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_checkpoint_round_trip_all_methods(method):
    ref = small_state_dict(0)
    cur = perturbed(ref, 1)
    blob, recon, stats = encode_checkpoint(cur, ref, MethodConfig(method, 17))
    decoded = decode_checkpoint(blob, ref)
    assert_bit_exact(decoded, recon)
    # buffers and non-float tensors are always exact
    for k in ("bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"):
        assert torch.equal(decoded[k], cur[k])
    if method in LOSSLESS_METHODS:
        assert_bit_exact(decoded, cur)
    assert stats["file_bytes"] == len(blob)


def test_float16_needs_no_reference():
    cur = small_state_dict(3)
    blob, recon, _ = encode_checkpoint(cur, None, MethodConfig("Float16"))
    assert_bit_exact(decode_checkpoint(blob, None), recon)


def encoded_example():
    ref = small_state_dict(0)
    cur = perturbed(ref, 1)
    blob, _, _ = encode_checkpoint(cur, ref, MethodConfig("ResEntropy"))
    return blob, ref


def test_truncated_file_is_rejected():
    blob, ref = encoded_example()
    for cut in (5, 40, len(blob) - 1):
        with pytest.raises(CodecError, match="truncated|too short"):
            decode_checkpoint(blob[:cut], ref)


def test_every_bit_flip_region_is_detected(rng):
    blob, ref = encoded_example()
    for pos in rng.choice(len(blob), 40, replace=False):
        bad = bytearray(blob)
        bad[pos] ^= 1 << int(rng.integers(8))
        with pytest.raises(CodecError):
            decode_checkpoint(bytes(bad), ref)


def test_wrong_reference_is_rejected():
    blob, ref = encoded_example()
    other = perturbed(ref, 7)
    with pytest.raises(CodecError, match="wrong reference"):
        decode_checkpoint(blob, other)
    missing = {k: v for k, v in ref.items() if k != "fc.bias"}
    with pytest.raises(CodecError, match="lacks"):
        decode_checkpoint(blob, missing)
    with pytest.raises(CodecError, match="needs the reference"):
        decode_checkpoint(blob, None)


def test_reference_shape_mismatch_at_encode():
    ref = small_state_dict(0)
    cur = perturbed(ref, 1)
    ref["fc.weight"] = torch.zeros(3, 3)
    with pytest.raises(CodecError, match="fc.weight"):
        encode_checkpoint(cur, ref, MethodConfig("ResEntropy"))
