"""Coders: bit compatibility with the paper's arithmetic coder and dec2bin, rANS and raw bits round trips."""

import numpy as np
import pytest
from dnn_param_encode.codec import arithmeticcoding, convert, intdiff, rans, reference
from dnn_param_encode.compression import entropy_bits
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("n", [0, 1, 2, 7, 3000])
def test_arithmetic_coder_matches_reference_bytes(rng, n):
    data = (rng.laplace(size=n) * 6).astype(np.int8).view(np.uint8).tobytes()
    coded = arithmeticcoding.compress(data)
    assert coded == reference.reference_compress(data)
    assert arithmeticcoding.decompress(coded) == data
    assert reference.reference_decompress(coded) == data


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=400))
def test_arithmetic_coder_property(data):
    coded = arithmeticcoding.compress(data)
    assert coded == reference.reference_compress(data)
    assert arithmeticcoding.decompress(coded) == data


def test_arithmetic_coder_table_layout():
    coded = arithmeticcoding.compress(b"\x00\x00\x05")
    counts = np.frombuffer(coded[:1024], dtype=">u4")
    assert counts[0] == 2 and counts[5] == 1 and counts.sum() == 3


def test_arithmetic_coder_size_is_entropy_plus_table(rng):
    # single static table: payload within a few bytes of N * H0
    data = rng.integers(0, 256, 200_000).astype(np.uint8)
    data[rng.random(data.size) < 0.6] = 0
    coded = arithmeticcoding.compress(data.tobytes())
    bound = entropy_bits(np.bincount(data, minlength=256)) / 8 + 1024
    assert bound <= len(coded) <= bound * 1.0005 + 8


def test_arithmetic_coder_rejects_truncation(rng):
    data = rng.integers(0, 256, 5000).astype(np.uint8).tobytes()
    coded = arithmeticcoding.compress(data)
    with pytest.raises(arithmeticcoding.ArithmeticCodingError):
        arithmeticcoding.decompress(coded[:500])
    with pytest.raises(arithmeticcoding.ArithmeticCodingError):
        arithmeticcoding.decompress(coded[: len(coded) // 2])


@pytest.mark.parametrize("step_bits,scale", [(15, 1), (17, 4)])
def test_dec2bin_matches_paper_loop(rng, step_bits, scale):
    r = (rng.laplace(size=3000) * 1e-3).astype(np.float32)
    r[:5] = [0.0, -0.0, 2.0 ** -step_bits, -(2.0 ** -step_bits), 0.2]
    codes, esc = convert.dec2bin(r, step_bits)
    assert not esc.any()
    paper = np.concatenate([reference.reference_dec2bin(x, scale) for x in r])
    np.testing.assert_array_equal(convert.codes_to_bytes(codes), paper)


def test_dec2bin_error_and_escape(rng):
    step_bits = 17
    r = (rng.laplace(size=200_000) * 1e-4).astype(np.float32)
    codes, esc = convert.dec2bin(r, step_bits)
    back = convert.bin2dec(codes, step_bits)
    err = (r.astype(np.float64) - back)[~esc]
    step = 2.0 ** -step_bits
    assert np.abs(err).max() < step
    assert (err * np.sign(r[~esc]) >= 0).all()  # truncation toward zero
    # truncation of a smooth residual: uniform error on [0, step) -> RMSE step / sqrt(3)
    assert np.sqrt(np.mean(err**2)) == pytest.approx(step / np.sqrt(3), rel=0.02)
    big = np.array([0.25, -1.0, np.nan, np.inf, 0.2499], dtype=np.float32)
    _, esc = convert.dec2bin(big, step_bits)
    np.testing.assert_array_equal(esc, [True, True, True, True, False])


@pytest.mark.parametrize("dtype,alphabet,period", [(np.uint8, 256, 4), (np.uint16, 4000, 1)])
def test_rans_round_trip_near_entropy(rng, dtype, alphabet, period):
    sym = np.minimum(np.abs(rng.laplace(size=400_000) * 20), alphabet - 1).astype(dtype)
    counts = rans.context_counts(sym, alphabet, ctx_period=period)
    sb = 16 if alphabet <= 256 else 18
    freqs = rans.quantize_frequencies(counts, sb)
    assert (freqs.sum(axis=1) == 2**sb).all() and ((freqs > 0) == (counts > 0)).all()
    words = rans.encode(sym, freqs, sb, ctx_period=period)
    out = rans.decode(words, freqs, sb, sym.size, ctx_period=period, out_dtype=dtype)
    np.testing.assert_array_equal(out, sym)
    bound = entropy_bits(counts) / 8
    assert words.nbytes <= bound * 1.002 + 16
    with pytest.raises(rans.RansError):
        rans.decode(words[: len(words) // 2], freqs, sb, sym.size, ctx_period=period, out_dtype=dtype)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)), max_size=60))
def test_pack_bits_round_trip(items):
    nb = np.array([b for _, b in items], dtype=np.uint8)
    v = np.array([x & ((1 << b) - 1) for x, b in items], dtype=np.uint32)
    packed = rans.pack_bits(v, nb)
    assert len(packed) == (int(nb.sum()) + 7) // 8
    np.testing.assert_array_equal(rans.unpack_bits(packed, nb), v)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)), max_size=50))
def test_intdiff_symbols_round_trip(pairs):
    cur = np.array([a for a, _ in pairs], dtype=np.uint32)
    prev = np.array([b for _, b in pairs], dtype=np.uint32)
    sym, raw, nb = intdiff.symbolize(cur, prev, 2)
    np.testing.assert_array_equal(intdiff.raw_bit_counts(sym, 2), nb)
    np.testing.assert_array_equal(intdiff.reconstruct(sym, raw, prev, 2), cur)
