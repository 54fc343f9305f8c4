"""16-bit fixed-point conversion of float32 residuals (the paper's `dec2bin` / `bin2dec`), vectorised.

The paper's `dec2bin(f)` sets bit 15 iff f < 0, then extracts 15 fraction bits of |f| by repeated
doubling, i.e. magnitude = floor(|f| * 2^15) (truncation toward zero); the ResNet runs scaled f by 4
first (step 2^-17). Here the step is 2^-`step_bits` and the code is `(f < 0) << 15 | floor(|f| * 2^step_bits)`,
which equals the paper's per-element loop bit for bit (doubling a float32 is exact).

Residuals the 15-bit magnitude cannot hold (|f| >= 2^(15 - step_bits)), NaN and inf are *escapes*: the
original overflows there (numpy >= 2 raises on the uint8 cast). Callers either refuse them or send the
true value of those parameters losslessly on the side.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport floor, isfinite, ldexp, rint
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t

cnp.import_array()

MAX_MAGNITUDE = 0x7FFF


def dec2bin(const float[::1] residual, int step_bits):
    """Sign-magnitude codes (uint16) and a bool mask of escapes (out of range, NaN, inf)."""
    cdef Py_ssize_t i, n = residual.shape[0]
    codes = np.zeros(n, dtype=np.uint16)
    escapes = np.zeros(n, dtype=np.bool_)
    cdef uint16_t[::1] c = codes
    cdef uint8_t[::1] e = escapes.view(np.uint8)
    cdef double scale = ldexp(1.0, step_bits), a, mag
    cdef float r
    with nogil:
        for i in range(n):
            r = residual[i]
            if not isfinite(r):
                e[i] = 1
                continue
            a = -r if r < 0 else r
            mag = floor(a * scale)  # exact: a power-of-two scaling of a float32 fits a double
            if mag > 0x7FFF:
                e[i] = 1
                continue
            c[i] = <uint16_t>((0x8000 if r < 0 else 0) | <uint32_t>mag)
    return codes, escapes


def bin2dec(const uint16_t[::1] codes, int step_bits):
    """Dequantised residuals (float32, exact): +-magnitude * 2^-step_bits, -0.0 for code 0x8000."""
    cdef Py_ssize_t i, n = codes.shape[0]
    out = np.empty(n, dtype=np.float32)
    cdef float[::1] o = out
    cdef double step = ldexp(1.0, -step_bits), v
    with nogil:
        for i in range(n):
            v = (codes[i] & 0x7FFF) * step
            o[i] = <float>(-v if codes[i] & 0x8000 else v)
    return out


def codes_to_bytes(const uint16_t[::1] codes):
    """The paper's byte order: high byte first, interleaved [hi0, lo0, hi1, lo1, ...]."""
    return np.asarray(codes).astype(">u2").view(np.uint8)


def bytes_to_codes(const uint8_t[::1] data):
    if data.shape[0] % 2:
        raise ValueError(f"16-bit code stream has an odd length ({data.shape[0]} bytes)")
    return np.frombuffer(bytes(data), dtype=">u2").astype(np.uint16)


def quantize_round(const float[::1] residual, int step_bits, int64_t max_abs_level):
    """Round-to-nearest levels q = rint(r / 2^-step_bits) (int32) and a mask of escapes.

    With step 2 * delta the max error is delta, the same bound as truncation with step delta.
    """
    cdef Py_ssize_t i, n = residual.shape[0]
    levels = np.zeros(n, dtype=np.int32)
    escapes = np.zeros(n, dtype=np.bool_)
    cdef int[::1] q = levels
    cdef uint8_t[::1] e = escapes.view(np.uint8)
    cdef double scale = ldexp(1.0, step_bits), v
    cdef float r
    with nogil:
        for i in range(n):
            r = residual[i]
            if not isfinite(r):
                e[i] = 1
                continue
            v = rint(r * scale)
            if v > max_abs_level or v < -max_abs_level:
                e[i] = 1
                continue
            q[i] = <int>v
    return levels, escapes


def dequantize_round(const int[::1] levels, int step_bits):
    cdef Py_ssize_t i, n = levels.shape[0]
    out = np.empty(n, dtype=np.float32)
    cdef float[::1] o = out
    cdef double step = ldexp(1.0, -step_bits)
    with nogil:
        for i in range(n):
            o[i] = <float>(levels[i] * step)
    return out


def zigzag_levels(const int[::1] levels):
    """Signed levels -> uint16 symbols 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... (|level| <= 32767)."""
    cdef Py_ssize_t i, n = levels.shape[0]
    out = np.empty(n, dtype=np.uint16)
    cdef uint16_t[::1] o = out
    cdef int q
    with nogil:
        for i in range(n):
            q = levels[i]
            o[i] = <uint16_t>((q << 1) ^ (q >> 31))
    return out


def unzigzag_levels(const uint16_t[::1] symbols):
    cdef Py_ssize_t i, n = symbols.shape[0]
    out = np.empty(n, dtype=np.int32)
    cdef int[::1] o = out
    cdef int z
    with nogil:
        for i in range(n):
            z = symbols[i]
            o[i] = (z >> 1) ^ -(z & 1)
    return out
