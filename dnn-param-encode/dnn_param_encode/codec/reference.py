"""Untyped pure-Python versions of the paper's coder and converter, for bit-compatibility tests and speed
comparisons only (they handle tens of kB/s).

`reference_compress` follows Project Nayuki's reference arithmetic coder as the paper used it
(32-bit state, 257 symbols with EOF=1, 1024-byte big-endian count table, bit-serial output);
`reference_dec2bin` follows the paper's per-element repeated-doubling loop.
"""

import numpy as np

STATE_BITS = 32
FULL = 1 << STATE_BITS
HALF = FULL >> 1
QUARTER = HALF >> 1
MASK = FULL - 1


class _BitOut:
    def __init__(self):
        self.out = bytearray()
        self.current = 0
        self.filled = 0

    def write(self, bit):
        self.current = (self.current << 1) | bit
        self.filled += 1
        if self.filled == 8:
            self.out.append(self.current)
            self.current = 0
            self.filled = 0

    def close(self):
        while self.filled != 0:
            self.write(0)


def _cumulative(counts):
    freqs = list(counts) + [1]
    cum = [0]
    for f in freqs:
        cum.append(cum[-1] + f)
    return cum


def reference_compress(data):
    data = bytes(data)
    counts = [0] * 256
    for b in data:
        counts[b] += 1
    cum = _cumulative(counts)
    total = cum[-1]
    bits = _BitOut()
    for c in counts:  # the table goes through the bit stream, 32 bits big-endian each
        for i in reversed(range(32)):
            bits.write((c >> i) & 1)
    low, high, underflow = 0, MASK, 0
    for sym in list(data) + [256]:
        rng = high - low + 1
        low, high = low + cum[sym] * rng // total, low + cum[sym + 1] * rng // total - 1
        while ((low ^ high) & HALF) == 0:
            bit = low >> (STATE_BITS - 1)
            bits.write(bit)
            for _ in range(underflow):
                bits.write(bit ^ 1)
            underflow = 0
            low = (low << 1) & MASK
            high = ((high << 1) & MASK) | 1
        while low & ~high & QUARTER != 0:
            underflow += 1
            low = (low << 1) ^ HALF
            high = ((high ^ HALF) << 1) | HALF | 1
    bits.write(1)
    bits.close()
    return bytes(bits.out)


def reference_decompress(blob):
    blob = bytes(blob)
    counts = [int.from_bytes(blob[4 * i:4 * i + 4], "big") for i in range(256)]
    cum = _cumulative(counts)
    total = cum[-1]
    payload = blob[1024:]
    state = {"pos": 0}

    def read_bit():
        pos = state["pos"]
        state["pos"] = pos + 1
        if pos // 8 >= len(payload):
            return 0
        return (payload[pos // 8] >> (7 - pos % 8)) & 1

    low, high, code = 0, MASK, 0
    for _ in range(STATE_BITS):
        code = (code << 1) | read_bit()
    out = bytearray()
    while True:
        rng = high - low + 1
        value = ((code - low + 1) * total - 1) // rng
        start, end = 0, 257
        while end - start > 1:
            middle = (start + end) >> 1
            if cum[middle] > value:
                end = middle
            else:
                start = middle
        if start == 256:
            return bytes(out)
        out.append(start)
        low, high = low + cum[start] * rng // total, low + cum[start + 1] * rng // total - 1
        while ((low ^ high) & HALF) == 0:
            code = ((code << 1) & MASK) | read_bit()
            low = (low << 1) & MASK
            high = ((high << 1) & MASK) | 1
        while low & ~high & QUARTER != 0:
            code = (code & HALF) | ((code << 1) & (MASK >> 1)) | read_bit()
            low = (low << 1) ^ HALF
            high = ((high ^ HALF) << 1) | HALF | 1


def reference_dec2bin(f, scale=1):
    """One residual -> two bytes [hi, lo] by the paper's repeated doubling (scale 4 = the ResNet step 2^-17)."""
    f = np.float32(f) * np.float32(scale)
    if f >= 0:
        b0 = 0
    else:
        b0 = 1
        f = -f
    for _ in range(7):
        m = f * 2
        f = m - int(m)
        b0 = b0 * 2 + int(m)
    b1 = 0
    for _ in range(8):
        m = f * 2
        f = m - int(m)
        b1 = b1 * 2 + int(m)
    return np.array([b0, b1], np.uint8)
