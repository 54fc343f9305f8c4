"""Integer-difference symbolisation of float32 updates (lossless), typed.

Each float's bits go through the order-preserving bijection m(x) = ~u if negative else u | 2^31, so that
nearby floats have nearby integers. d = m(cur) - m(prev) (mod 2^32, as int32) is zigzagged to z >= 0.
z < 2^(kept+1) is its own symbol; larger z becomes (bit length, `kept` bits after the leading one) as one
symbol plus (bit length - kept - 1) raw low bits. The context of a symbol is the reference's exponent.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

cnp.import_array()


cdef inline uint32_t monotone(uint32_t u) noexcept nogil:
    return ~u if u & 0x80000000u else u | 0x80000000u


cdef inline uint32_t monotone_inverse(uint32_t m) noexcept nogil:
    return m & 0x7FFFFFFFu if m & 0x80000000u else ~m


cdef extern from *:
    int __builtin_clz(unsigned int x) nogil


cdef inline int bit_length(uint32_t z) noexcept nogil:
    return 0 if z == 0 else 32 - __builtin_clz(z)


def exponent_context(const uint32_t[::1] prev, int exponent_low, int n_ctx):
    cdef Py_ssize_t i, n = prev.shape[0]
    ctx = np.empty(n, dtype=np.uint8)
    cdef uint8_t[::1] c = ctx
    cdef int e
    with nogil:
        for i in range(n):
            e = <int>((prev[i] >> 23) & 0xFF) - exponent_low
            c[i] = <uint8_t>(0 if e < 0 else (n_ctx - 1 if e >= n_ctx else e))
    return ctx


def symbolize(const uint32_t[::1] cur, const uint32_t[::1] prev, int kept):
    """(symbols uint8, raw values uint32, raw bit counts uint8)."""
    cdef Py_ssize_t i, n = cur.shape[0]
    symbols = np.empty(n, dtype=np.uint8)
    raw_values = np.empty(n, dtype=np.uint32)
    raw_bits = np.empty(n, dtype=np.uint8)
    cdef uint8_t[::1] s = symbols, rb = raw_bits
    cdef uint32_t[::1] rv = raw_values
    cdef uint32_t d, z, small_limit = 1u << (kept + 1)
    cdef int b, shift
    with nogil:
        for i in range(n):
            d = monotone(cur[i]) - monotone(prev[i])  # wraps mod 2^32
            z = (d << 1) ^ <uint32_t>(-<int>(d >> 31))  # zigzag of d as int32
            if z < small_limit:
                s[i] = <uint8_t>z
                rb[i] = 0
                rv[i] = 0
                continue
            b = bit_length(z)
            shift = b - kept - 1
            s[i] = <uint8_t>(small_limit + (b - kept - 2) * (1 << kept) + ((z >> shift) & ((1u << kept) - 1)))
            rb[i] = <uint8_t>shift
            rv[i] = z & ((1u << shift) - 1)
    return symbols, raw_values, raw_bits


def raw_bit_counts(const uint8_t[::1] symbols, int kept):
    cdef Py_ssize_t i, n = symbols.shape[0]
    out = np.zeros(n, dtype=np.uint8)
    cdef uint8_t[::1] o = out
    cdef uint32_t small_limit = 1u << (kept + 1)
    with nogil:
        for i in range(n):
            if symbols[i] >= small_limit:
                # bit length b = (s - limit) / 2^kept + kept + 2; raw bits = b - kept - 1
                o[i] = <uint8_t>((symbols[i] - small_limit) // (1 << kept) + 1)
    return out


def reconstruct(const uint8_t[::1] symbols, const uint32_t[::1] raw_values, const uint32_t[::1] prev, int kept):
    """Inverse of `symbolize`: float32 bit patterns (uint32)."""
    cdef Py_ssize_t i, n = symbols.shape[0]
    out = np.empty(n, dtype=np.uint32)
    cdef uint32_t[::1] o = out
    cdef uint32_t z, d, small_limit = 1u << (kept + 1), top, sym
    cdef int shift
    with nogil:
        for i in range(n):
            sym = symbols[i]
            if sym < small_limit:
                z = sym
            else:
                shift = (sym - small_limit) // (1 << kept) + 1
                top = (1u << kept) | ((sym - small_limit) & ((1u << kept) - 1))
                z = (top << shift) | raw_values[i]
            d = (z >> 1) ^ (-(z & 1))
            o[i] = monotone_inverse(monotone(prev[i]) + d)
    return out
