"""Static order-0 arithmetic coder, bit-compatible with the one the paper used.

The paper compiled Project Nayuki's *Reference arithmetic coding* (Python version) with Cython, untyped.
This is a typed re-implementation of the same algorithm, so it writes the very same bytes:

- 32-bit low/high state, E1/E2 shifts and E3 ("underflow") bits, bits written MSB first, the last byte
  padded with zero bits; `finish()` emits a single 1 bit;
- 257-symbol alphabet: 256 byte values plus EOF with count 1;
- the file starts with the 256 byte counts as 32-bit big-endian integers (1024 bytes), then the payload;
- the decoder reads missing bits past the end as 0 and stops at EOF.

`compress(data)` / `decompress(blob)` work on whole byte strings. A pure-Python port for tests and
speed comparisons is in `dnn_param_encode.codec.reference`.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport uint8_t, uint32_t, uint64_t

cnp.import_array()

DEF STATE_BITS = 32
cdef uint64_t FULL_RANGE = (<uint64_t>1) << STATE_BITS
cdef uint64_t HALF_RANGE = FULL_RANGE >> 1
cdef uint64_t QUARTER_RANGE = HALF_RANGE >> 1
cdef uint64_t MINIMUM_RANGE = QUARTER_RANGE + 2
# The reference coder refuses totals above the minimum range (2^30 + 2): the EOF-terminated stream
# can therefore hold at most 2^30 + 1 bytes.
cdef uint64_t MAXIMUM_TOTAL = MINIMUM_RANGE
cdef uint64_t STATE_MASK = FULL_RANGE - 1

EOF_SYMBOL = 256
TABLE_BYTES = 256 * 4


class ArithmeticCodingError(ValueError):
    """Raised for inputs the coder cannot represent and for corrupt compressed data."""


cdef extern from *:
    int __builtin_clz(unsigned int x) nogil


cdef inline int clz32(uint64_t x) noexcept nogil:
    # leading zeros of a 32-bit value (32 for 0)
    return 32 if x == 0 else __builtin_clz(<unsigned int>x)


cdef struct BitWriter:
    uint8_t *buf
    Py_ssize_t capacity
    Py_ssize_t pos
    uint64_t current  # pending bits, fewer than 8 between calls
    int filled


cdef inline int write_bits(BitWriter *w, uint64_t value, int nbits) noexcept nogil:
    """Append the low nbits (<= 32) of value, MSB first."""
    w.current = (w.current << nbits) | (value & ((<uint64_t>1 << nbits) - 1))
    w.filled += nbits
    while w.filled >= 8:
        if w.pos >= w.capacity:
            return -1
        w.filled -= 8
        w.buf[w.pos] = <uint8_t>(w.current >> w.filled)
        w.pos += 1
    w.current &= (<uint64_t>1 << w.filled) - 1
    return 0


cdef inline int write_repeated(BitWriter *w, uint64_t bit, uint64_t count) noexcept nogil:
    cdef int chunk
    cdef uint64_t ones = 0xFFFFFFFF if bit else 0
    while count > 0:
        chunk = <int>(32 if count > 32 else count)
        if write_bits(w, ones, chunk) < 0:
            return -1
        count -= chunk
    return 0


def byte_counts(const uint8_t[::1] data):
    """Counts of the 256 byte values (the coder's static table, EOF excluded)."""
    cdef cnp.ndarray[cnp.uint64_t, ndim=1] counts = np.zeros(256, dtype=np.uint64)
    cdef uint64_t[::1] c = counts
    cdef Py_ssize_t i, n = data.shape[0]
    with nogil:
        for i in range(n):
            c[data[i]] += 1
    return counts


cdef int encode_payload(const uint8_t[::1] data, const uint64_t[::1] cum, BitWriter *w) noexcept nogil:
    """Arithmetic-code every byte and then EOF; returns -1 when the output buffer is full."""
    cdef uint64_t low = 0, high = STATE_MASK, rng, total = cum[257]
    cdef uint64_t underflow = 0, bit
    cdef Py_ssize_t i, n = data.shape[0]
    cdef uint32_t sym
    cdef int k
    for i in range(n + 1):
        sym = data[i] if i < n else 256
        rng = high - low + 1
        high = low + cum[sym + 1] * rng // total - 1
        low = low + cum[sym] * rng // total
        # E1/E2: the k top bits of low and high agree, so they are final; the reference coder shifts them
        # out one at a time, the first followed by the pending E3 bits inverted.
        k = clz32(low ^ high)
        if k > 0:
            bit = low >> (STATE_BITS - 1)
            if write_bits(w, bit, 1) < 0 or write_repeated(w, bit ^ 1, underflow) < 0:
                return -1
            underflow = 0
            if k > 1 and write_bits(w, low >> (STATE_BITS - k), k - 1) < 0:
                return -1
            low = (low << k) & STATE_MASK
            high = ((high << k) & STATE_MASK) | ((<uint64_t>1 << k) - 1)
        # E3: while low = 01..., high = 10..., drop the second-highest bit and remember it.
        k = clz32((~(low & ~high)) & (STATE_MASK >> 1)) - 1
        if k > 0:
            underflow += k
            low = (low << k) & (STATE_MASK >> 1)
            high = ((high << k) & STATE_MASK) | HALF_RANGE | ((<uint64_t>1 << k) - 1)
    # finish(): one 1 bit, then the bit stream's zero padding of the last byte.
    if write_bits(w, 1, 1) < 0:
        return -1
    if w.filled and write_bits(w, 0, 8 - w.filled) < 0:
        return -1
    return 0


def cumulative_from_counts(counts):
    """Cumulative table (258 entries) of the 256 counts plus EOF=1, checked against the coder's limit."""
    counts = np.asarray(counts, dtype=np.uint64)
    if counts.shape != (256,):
        raise ArithmeticCodingError(f"expected 256 byte counts, got shape {counts.shape}")
    freqs = np.concatenate([counts, np.ones(1, dtype=np.uint64)])
    cum = np.zeros(258, dtype=np.uint64)
    np.cumsum(freqs, out=cum[1:])
    if int(cum[257]) > MAXIMUM_TOTAL:
        raise ArithmeticCodingError(
            f"stream of {int(cum[257]) - 1} bytes exceeds the reference coder's limit of {MAXIMUM_TOTAL - 1} "
            "bytes (32-bit state); use a per-plane ANS method (e.g. --method ResPlaneANS) for larger models")
    return cum


def compress(data):
    """Nayuki-compatible static arithmetic coding of a byte string: 1024-byte table + payload."""
    cdef const uint8_t[::1] view = np.frombuffer(memoryview(data), dtype=np.uint8)
    counts = byte_counts(view)
    cdef const uint64_t[::1] cum = cumulative_from_counts(counts)
    cdef Py_ssize_t n = view.shape[0]
    # Static coding with the data's own table never needs more than 8 bits per byte, plus EOF and flushing.
    cdef Py_ssize_t capacity = TABLE_BYTES + n + n // 64 + 64
    out = np.empty(capacity, dtype=np.uint8)
    out[:TABLE_BYTES] = np.frombuffer(counts.astype(">u4").tobytes(), dtype=np.uint8)
    cdef uint8_t[::1] out_view = out
    cdef BitWriter w
    w.buf = &out_view[0]
    w.capacity = capacity
    w.pos = TABLE_BYTES
    w.current = 0
    w.filled = 0
    cdef int status
    with nogil:
        status = encode_payload(view, cum, &w)
    if status < 0:
        raise ArithmeticCodingError("internal error: output buffer too small")
    return out[:w.pos].tobytes()


cdef struct BitReader:
    const uint8_t *buf
    Py_ssize_t n
    Py_ssize_t pos
    uint64_t current
    int filled


cdef inline uint64_t read_bits(BitReader *r, int nbits) noexcept nogil:
    """Next nbits (<= 32) MSB first; past the end the reference decoder reads zeros."""
    cdef uint64_t out
    if nbits == 0:
        return 0
    while r.filled < nbits:
        r.current = (r.current << 8) | (r.buf[r.pos] if r.pos < r.n else 0)
        r.pos += 1
        r.filled += 8
    r.filled -= nbits
    out = r.current >> r.filled
    r.current &= (<uint64_t>1 << r.filled) - 1
    return out


DEF LUT_BITS = 12


cdef Py_ssize_t decode_payload(BitReader *r, const uint64_t[::1] cum, uint8_t *out,
                               Py_ssize_t out_capacity) noexcept nogil:
    """Decode until EOF; returns the number of bytes, -1 when more than out_capacity bytes decode."""
    cdef uint64_t low = 0, high = STATE_MASK, code, rng, total = cum[257], value
    cdef Py_ssize_t count = 0
    cdef int k, sym, b, shift = 0
    cdef int lut[(1 << LUT_BITS) + 1]
    # lut[b]: the symbol whose interval holds value b << shift (search starts there, then scans forward)
    while (total - 1) >> shift >= (1 << LUT_BITS):
        shift += 1
    sym = 0
    for b in range((1 << LUT_BITS) + 1):
        while sym < 256 and cum[sym + 1] <= (<uint64_t>b << shift):
            sym += 1
        lut[b] = sym
    code = read_bits(r, STATE_BITS)
    while True:
        rng = high - low + 1
        value = ((code - low + 1) * total - 1) // rng
        sym = lut[value >> shift]
        while cum[sym + 1] <= value:
            sym += 1
        if sym == 256:
            return count
        if count >= out_capacity:
            return -1
        out[count] = <uint8_t>sym
        count += 1
        high = low + cum[sym + 1] * rng // total - 1
        low = low + cum[sym] * rng // total
        k = clz32(low ^ high)
        if k > 0:
            code = ((code << k) & STATE_MASK) | read_bits(r, k)
            low = (low << k) & STATE_MASK
            high = ((high << k) & STATE_MASK) | ((<uint64_t>1 << k) - 1)
        k = clz32((~(low & ~high)) & (STATE_MASK >> 1)) - 1
        if k > 0:
            code = (code & HALF_RANGE) | ((code << k) & (STATE_MASK >> 1)) | read_bits(r, k)
            low = (low << k) & (STATE_MASK >> 1)
            high = ((high << k) & STATE_MASK) | HALF_RANGE | ((<uint64_t>1 << k) - 1)


def decompress(blob):
    """Inverse of `compress`: the table gives the exact output length, so corrupt data cannot overrun."""
    cdef const uint8_t[::1] view = np.frombuffer(memoryview(blob), dtype=np.uint8)
    if view.shape[0] < TABLE_BYTES:
        raise ArithmeticCodingError(
            f"arithmetic-coded stream of {view.shape[0]} bytes is shorter than its 1024-byte table: truncated")
    counts = np.frombuffer(blob[:TABLE_BYTES] if isinstance(blob, bytes) else bytes(view[:TABLE_BYTES]),
                           dtype=">u4").astype(np.uint64)
    cdef const uint64_t[::1] cum = cumulative_from_counts(counts)
    cdef Py_ssize_t expected = <Py_ssize_t>(cum[256])
    # One spare byte so that a stream that does not stop at EOF where it should is detected.
    out = np.empty(expected + 1, dtype=np.uint8)
    cdef uint8_t[::1] out_view = out
    cdef BitReader r
    r.buf = &view[0]
    r.n = view.shape[0]
    r.pos = TABLE_BYTES
    r.current = 0
    r.filled = 0
    cdef Py_ssize_t count
    with nogil:
        count = decode_payload(&r, cum, &out_view[0], expected + 1)
    if count != expected:
        raise ArithmeticCodingError(
            f"corrupt arithmetic-coded stream: decoded {count if count >= 0 else 'more than ' + str(expected)} "
            f"bytes, the table says {expected}")
    decoded = out[:count]
    if not np.array_equal(byte_counts(decoded), counts):
        raise ArithmeticCodingError("corrupt arithmetic-coded stream: decoded bytes do not match the table")
    return decoded.tobytes()
