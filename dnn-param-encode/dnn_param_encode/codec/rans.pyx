"""Static multi-context rANS coder (64-bit state, 32-bit renormalisation words) and a raw bit packer.

Each symbol i is coded with the frequency table of its context: `ctx[i]` when a context array is
given, else `i % ctx_period` (byte planes of interleaved float32 bytes need no context array).
Tables are quantised to 2^scale_bits; every symbol that occurs gets frequency >= 1.
The encoder runs backwards and writes words from the end, so the decoder reads forwards.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

cnp.import_array()

cdef uint64_t RANS_L = (<uint64_t>1) << 31  # lower bound of the normalised state interval

cdef extern from *:
    """
    static inline unsigned long long dpe_mulhi64(unsigned long long a, unsigned long long b) {
        return (unsigned long long)(((unsigned __int128)a * b) >> 64);
    }
    """
    uint64_t mulhi64 "dpe_mulhi64"(uint64_t a, uint64_t b) nogil


def encoder_tables(freq_arr, cum_arr, int scale_bits):
    """Per (context, symbol): reciprocal of the frequency, shift, bias and complement, so that encoding
    divides by a multiply-high (Alverson's method, as in ryg_rans' rans64)."""
    freq = freq_arr.astype(np.uint64)
    start = cum_arr[:, :-1].astype(np.uint64)
    rcp = np.zeros(freq.shape, dtype=np.uint64)
    shift = np.zeros(freq.shape, dtype=np.uint32)
    bias = start.copy()
    one = freq <= 1
    bias[one] = start[one] + (np.uint64(1) << np.uint64(scale_bits)) - np.uint64(1)
    rcp[one] = np.uint64(0xFFFFFFFFFFFFFFFF)
    for c, s in zip(*np.nonzero(freq > 1)):
        f = int(freq[c, s])
        sh = (f - 1).bit_length()  # smallest sh with f <= 2^sh
        rcp[c, s] = ((1 << (sh + 63)) + f - 1) // f
        shift[c, s] = sh - 1
    cmpl = (np.uint64(1) << np.uint64(scale_bits)) - freq
    return rcp, shift, bias, cmpl

ctypedef fused symbol_t:
    uint8_t
    uint16_t


class RansError(ValueError):
    """Corrupt or truncated rANS data, or a symbol outside its table."""


def quantize_frequencies(counts, int scale_bits):
    """Integer frequencies summing to 2^scale_bits, >= 1 for every symbol that occurs (per context row).

    counts: (n_ctx, alphabet) integer array. Rows without any count get an all-zero table.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total_target = 1 << scale_bits
    freqs = np.zeros(counts.shape, dtype=np.int64)
    for row in range(counts.shape[0]):
        c = counts[row]
        total = int(c.sum())
        if total == 0:
            continue
        present = c > 0
        if int(present.sum()) > total_target:
            raise RansError(f"{int(present.sum())} distinct symbols do not fit a 2^{scale_bits} table")
        f = np.where(present, np.maximum(1, (c * total_target) // total), 0)
        # Hand the rounding surplus to the most frequent symbol and take a deficit from the most
        # frequent ones first: that changes the coding cost least.
        diff = total_target - int(f.sum())
        order = np.argsort(-c, kind="stable")[: int(present.sum())]
        if diff > 0:
            f[order[0]] += diff
        i = 0
        while diff < 0:
            s = order[i % order.size]
            take = min(int(f[s]) - 1, -diff)
            f[s] -= take
            diff += take
            i += 1
        freqs[row] = f
    return freqs


def build_tables(freqs):
    """(freq uint32, cum uint32 with a trailing total column) from quantised frequencies."""
    freqs = np.ascontiguousarray(freqs, dtype=np.uint32)
    cum = np.zeros((freqs.shape[0], freqs.shape[1] + 1), dtype=np.uint32)
    np.cumsum(freqs, axis=1, out=cum[:, 1:])
    return freqs, cum


def encode(const symbol_t[::1] symbols, freqs, int scale_bits, const uint8_t[::1] ctx=None, int ctx_period=1):
    """rANS-encode `symbols`; returns the coded uint32 words (state first)."""
    freq_arr, cum_arr = build_tables(freqs)
    rcp_arr, shift_arr, bias_arr, cmpl_arr = encoder_tables(freq_arr, cum_arr, scale_bits)
    cdef const uint32_t[:, ::1] freq = freq_arr
    cdef const uint64_t[:, ::1] rcp = rcp_arr
    cdef const uint32_t[:, ::1] rshift = shift_arr
    cdef const uint64_t[:, ::1] bias = bias_arr
    cdef const uint64_t[:, ::1] cmpl = cmpl_arr
    cdef Py_ssize_t n = symbols.shape[0], i
    cdef int alphabet = freq.shape[1]
    if ctx is not None and ctx.shape[0] != n:
        raise ValueError(f"context array has {ctx.shape[0]} entries for {n} symbols")
    if ctx_period < 1:
        raise ValueError("ctx_period must be >= 1")
    # every symbol costs at most scale_bits bits (frequency >= 1)
    cdef Py_ssize_t capacity = 4 + n * scale_bits // 32 + 1
    out = np.empty(capacity, dtype=np.uint32)
    cdef uint32_t[::1] o = out
    cdef Py_ssize_t pos = capacity
    cdef uint64_t x = RANS_L, f, q, x_max_base = (RANS_L >> scale_bits) << 32
    cdef uint32_t s
    cdef int c = <int>((n - 1) % ctx_period) if n > 0 else 0, bad = 0
    cdef bint use_ctx = ctx is not None
    with nogil:
        for i in range(n - 1, -1, -1):
            if use_ctx:
                c = ctx[i]
            s = symbols[i]
            if s >= alphabet:
                bad = 1
                break
            f = freq[c, s]
            if f == 0:
                bad = 1
                break
            if x >= x_max_base * f:
                pos -= 1
                o[pos] = <uint32_t>x
                x >>= 32
            # x = (x // f) << scale_bits + x % f + start, with the division done by a multiply-high
            q = mulhi64(x, rcp[c, s]) >> rshift[c, s]
            x = x + bias[c, s] + q * cmpl[c, s]
            if not use_ctx:
                c = c - 1 if c > 0 else ctx_period - 1
        if not bad:
            pos -= 2
            o[pos] = <uint32_t>x
            o[pos + 1] = <uint32_t>(x >> 32)
    if bad:
        raise RansError("symbol has zero frequency in its context table (table built from other data?)")
    return out[pos:].copy()


def decode(const uint32_t[::1] words, freqs, int scale_bits, Py_ssize_t n, const uint8_t[::1] ctx=None,
           int ctx_period=1, out_dtype=np.uint8):
    """Inverse of `encode`; raises RansError on truncated or inconsistent data."""
    freq_arr, cum_arr = build_tables(freqs)
    cdef const uint32_t[:, ::1] freq = freq_arr
    cdef const uint32_t[:, ::1] cum = cum_arr
    cdef int n_ctx = freq.shape[0], alphabet = freq.shape[1]
    if words.shape[0] < 2:
        raise RansError("rANS stream shorter than its 8-byte state: truncated")
    if ctx is not None and ctx.shape[0] != n:
        raise ValueError(f"context array has {ctx.shape[0]} entries for {n} symbols")
    if np.any(cum_arr[:, -1][freq_arr.sum(axis=1) > 0] != (1 << scale_bits)):
        raise RansError("frequency table does not sum to 2^scale_bits: corrupt table")
    # slot -> symbol lookup per context
    lut_arr = np.zeros((n_ctx, 1 << scale_bits), dtype=np.uint16)
    for c_ in range(n_ctx):
        nz = np.flatnonzero(freq_arr[c_])
        if nz.size:
            lut_arr[c_] = np.repeat(nz, freq_arr[c_, nz]).astype(np.uint16)
    cdef const uint16_t[:, ::1] lut = lut_arr
    out = np.empty(n, dtype=out_dtype)
    cdef Py_ssize_t i, pos = 2, nwords = words.shape[0]
    cdef uint64_t x = (<uint64_t>words[0]) | ((<uint64_t>words[1]) << 32), mask = ((<uint64_t>1) << scale_bits) - 1
    cdef uint64_t slot
    cdef uint32_t s
    cdef int c = 0, bad = 0
    cdef bint use_ctx = ctx is not None
    cdef uint8_t[::1] o8
    cdef uint16_t[::1] o16
    cdef bint wide = out.dtype == np.uint16
    if wide:
        o16 = out
    else:
        o8 = out
    with nogil:
        for i in range(n):
            if use_ctx:
                c = ctx[i]
            if c >= n_ctx:
                bad = 2
                break
            slot = x & mask
            s = lut[c, slot]
            if freq[c, s] == 0:
                bad = 2
                break
            x = freq[c, s] * (x >> scale_bits) + slot - cum[c, s]
            if x < RANS_L:
                if pos >= nwords:
                    bad = 1
                    break
                x = (x << 32) | words[pos]
                pos += 1
            if wide:
                o16[i] = <uint16_t>s
            else:
                o8[i] = <uint8_t>s
            if not use_ctx:
                c = c + 1 if c + 1 < ctx_period else 0
    if bad == 1:
        raise RansError("rANS stream ended early: truncated or corrupt")
    if bad == 2:
        raise RansError("rANS stream decodes outside its table: corrupt")
    if pos != nwords or x != RANS_L:
        raise RansError("rANS stream did not end in its initial state: corrupt")
    return out


def pack_bits(const uint32_t[::1] values, const uint8_t[::1] nbits):
    """Concatenate the low nbits[i] bits of values[i] (nbits <= 32), MSB first, zero-padded to bytes."""
    cdef Py_ssize_t i, n = values.shape[0]
    if nbits.shape[0] != n:
        raise ValueError("values and nbits differ in length")
    cdef uint64_t total = 0
    for i in range(n):
        total += nbits[i]
    out = np.zeros((total + 7) // 8 + 8, dtype=np.uint8)
    cdef uint8_t[::1] o = out
    cdef uint64_t acc = 0
    cdef int filled = 0, b
    cdef Py_ssize_t pos = 0
    with nogil:
        for i in range(n):
            b = nbits[i]
            if b == 0:
                continue
            # push in two halves so that the 64-bit accumulator never overflows
            if b > 16:
                acc = (acc << (b - 16)) | ((values[i] >> 16) & ((<uint64_t>1 << (b - 16)) - 1))
                filled += b - 16
                b = 16
                while filled >= 8:
                    filled -= 8
                    o[pos] = <uint8_t>(acc >> filled)
                    pos += 1
            acc = (acc << b) | (values[i] & ((<uint64_t>1 << b) - 1))
            filled += b
            while filled >= 8:
                filled -= 8
                o[pos] = <uint8_t>(acc >> filled)
                pos += 1
        if filled > 0:
            o[pos] = <uint8_t>(acc << (8 - filled))
            pos += 1
    return out[:(total + 7) // 8].tobytes()


def unpack_bits(data, const uint8_t[::1] nbits):
    """Inverse of `pack_bits` (raises on a stream too short for the requested bits)."""
    cdef const uint8_t[::1] d = np.frombuffer(memoryview(data), dtype=np.uint8)
    cdef Py_ssize_t i, n = nbits.shape[0], pos = 0, nbytes = d.shape[0]
    cdef uint64_t total = 0
    for i in range(n):
        total += nbits[i]
    if (total + 7) // 8 != <uint64_t>nbytes:
        raise RansError(f"raw bit section has {nbytes} bytes, expected {(total + 7) // 8}: truncated or corrupt")
    out = np.zeros(n, dtype=np.uint32)
    cdef uint32_t[::1] o = out
    cdef uint64_t acc = 0
    cdef int filled = 0, b
    with nogil:
        for i in range(n):
            b = nbits[i]
            while filled < b:
                acc = (acc << 8) | (d[pos] if pos < nbytes else 0)
                pos += 1
                filled += 8
            filled -= b
            o[i] = <uint32_t>((acc >> filled) & ((<uint64_t>1 << b) - 1))
            acc &= ((<uint64_t>1 << filled) - 1)
    return out


def context_counts(const symbol_t[::1] symbols, int alphabet, const uint8_t[::1] ctx=None, int ctx_period=1,
                   int n_ctx=0):
    """Histogram per context, shape (n_ctx, alphabet); n_ctx defaults to ctx_period (or max(ctx) + 1)."""
    cdef Py_ssize_t i, n = symbols.shape[0]
    cdef bint use_ctx = ctx is not None
    if n_ctx <= 0:
        n_ctx = (int(np.max(ctx)) + 1 if n else 1) if use_ctx else ctx_period
    counts = np.zeros((n_ctx, alphabet), dtype=np.int64)
    cdef int64_t[:, ::1] c = counts
    cdef int k = 0
    with nogil:
        for i in range(n):
            if use_ctx:
                k = ctx[i]
            c[k, symbols[i]] += 1
            if not use_ctx:
                k = k + 1 if k + 1 < ctx_period else 0
    return counts
