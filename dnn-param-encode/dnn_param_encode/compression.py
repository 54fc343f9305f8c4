"""The residual coding methods on flat float32 parameter streams.

Faithful (the paper's `compression.py`):
- `ResEntropy`        lossless: byte-wise mod-256 residual of the float32 bytes (cur - prev), saved as an
                      .npy file (128-byte header included, as the paper did) and arithmetic-coded with one
                      static order-0 byte table.
- `Float16`           lossy, no reference: float16 cast, 2 bytes/param.
- `ResidualFloat16`   lossy: float16 of the float32 residual, reconstruction float16(r) + prev.
- `ResEntropy16bits`  lossy: 16-bit sign-magnitude fixed point of the residual (truncation, step 2^-step_bits),
                      bytes [hi, lo] interleaved in an .npy file, arithmetic-coded with one byte table.
Improved (ours, named so that nobody mistakes them for the paper's):
- `ResPlaneANS`       lossless: the same byte residual, one table per byte plane, rANS.
- `ResIntDiffANS`     lossless: integer difference of order-preserving uint32 maps of the float bits,
                      zigzag; (bit length, 2 next bits) as an rANS symbol whose context is the reference's
                      exponent, the remaining low bits raw.
- `Res16bitsJointANS` lossy: the paper's 16-bit codes coded as one 16-bit symbol (rANS).
- `ResRoundANS`       lossy: round-to-nearest with step 2 * 2^-step_bits (same max error as the paper's
                      truncation), zigzag levels coded with rANS.

Every method maps (cur, prev) -> (sections, reconstruction, stats) and back. Lossy methods send residuals
the 16-bit code cannot hold (and NaN/inf) as escapes: exact float32 values on the side (`--overflow escape`,
the default) or refuse them (`--overflow error`; the original crashes there).
"""

import io
import math
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from dnn_param_encode.codec import arithmeticcoding, convert, intdiff, rans

LOSSLESS_METHODS = ("ResEntropy", "ResPlaneANS", "ResIntDiffANS")
LOSSY_METHODS = ("Float16", "ResidualFloat16", "ResEntropy16bits", "Res16bitsJointANS", "ResRoundANS")
FAITHFUL_METHODS = ("ResEntropy", "Float16", "ResidualFloat16", "ResEntropy16bits")
ALL_METHODS = LOSSLESS_METHODS + LOSSY_METHODS
# Methods that code cur against a reference; Float16 does not look at prev.
REFERENCE_FREE_METHODS = ("Float16",)

# Paper's steps: 2^-15 for YOLOv5 (its dec2bin as written), 2^-17 for ResNet-18 (the commented x4 line).
DEFAULT_STEP_BITS = {"yolo": 15, "resnet": 17}
BYTE_SCALE_BITS = 12  # rANS table precision for byte alphabets: ~0.4% over H0, but a 4096-slot decode table stays in L1
# IntDiff: symbols carry the bit length and the two bits after the leading one; the rest is raw.
INTDIFF_KEPT_BITS = 2
INTDIFF_EXPONENT_LOW = 96  # reference exponents below map to context 0 (|w| < 2^-31 behaves like zero)
INTDIFF_CONTEXTS = 40      # exponents 96..135 get their own table (covers |w| in [2^-31, 2^9))
INTDIFF_ALPHABET = (1 << (INTDIFF_KEPT_BITS + 1)) + 4 * (32 - INTDIFF_KEPT_BITS - 1)
ESCAPE_LIMIT = {"ResRoundANS": 32767}


class CodecError(ValueError):
    """Bad input or corrupt data, with a message that says what to do."""


@dataclass
class MethodConfig:
    method: str
    step_bits: int = 17
    overflow: str = "escape"  # "escape" (fix) or "error" (the original cannot code such residuals)


@dataclass
class Encoded:
    sections: dict  # name -> bytes; everything the decoder needs besides the reference
    reconstruction: np.ndarray  # what the decoder will rebuild (float32)
    stats: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- helpers
def npy_bytes(array):
    """Exactly what the paper's np.save wrote to disk (header + data)."""
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def npy_load(data, what):
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # np.load raises several types for a damaged header
        raise CodecError(f"corrupt {what}: the decoded .npy stream does not parse ({exc})") from exc


def entropy_bits(counts):
    """Empirical order-0 entropy, in bits, of a stream with these symbol counts (sum over rows)."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(counts > 0, counts / np.where(totals > 0, totals, 1), 1.0)
        return float(-(counts * np.log2(p)).sum())


def byte_residual(cur, prev):
    """The paper's residual: uint8 views subtracted modulo 256, no borrow between bytes."""
    return cur.view(np.uint8) - prev.view(np.uint8)


def rmse_and_max(true, recon):
    if true.size == 0:
        return 0.0, 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        err = true.astype(np.float64) - recon.astype(np.float64)
    finite = np.isfinite(err)
    if not finite.all():  # NaN/inf sent exactly compare equal bit-for-bit; skip them in the error stats
        same = true.view(np.uint32) == recon.view(np.uint32)
        err = np.where(same, 0.0, err)
        finite = np.isfinite(err)
        if not finite.all():
            return math.inf, math.inf
    return float(np.sqrt(np.mean(err**2))), float(np.max(np.abs(err)))


# --------------------------------------------------------------------------------------- rANS wrappers
def pack_table(freqs, scale_bits):
    """Sparse frequency table, zlib-compressed: per row the symbol count, symbol deltas and frequencies."""
    freqs = np.asarray(freqs, dtype=np.int64)
    parts = [struct.pack("<BII", scale_bits, freqs.shape[0], freqs.shape[1])]
    for row in freqs:
        nz = np.flatnonzero(row)
        deltas = np.diff(nz, prepend=0).astype(np.uint32)
        parts.append(struct.pack("<I", nz.size))
        parts.append(deltas.astype("<u4").tobytes())
        parts.append(row[nz].astype("<u4").tobytes())
    return zlib.compress(b"".join(parts), 9)


def unpack_table(blob):
    try:
        data = zlib.decompress(blob)
        scale_bits, rows, alphabet = struct.unpack_from("<BII", data, 0)
        pos = 9
        freqs = np.zeros((rows, alphabet), dtype=np.int64)
        for r in range(rows):
            (k,) = struct.unpack_from("<I", data, pos)
            pos += 4
            deltas = np.frombuffer(data, "<u4", k, pos).astype(np.int64)
            pos += 4 * k
            freqs[r, np.cumsum(deltas)] = np.frombuffer(data, "<u4", k, pos)
            pos += 4 * k
    except (zlib.error, struct.error, ValueError, IndexError) as exc:
        raise CodecError(f"corrupt rANS frequency table ({exc})") from exc
    return freqs, scale_bits


def rans_encode_stream(symbols, counts, scale_bits, ctx=None, ctx_period=1):
    freqs = rans.quantize_frequencies(counts, scale_bits)
    words = rans.encode(symbols, freqs, scale_bits, ctx=ctx, ctx_period=ctx_period)
    return pack_table(freqs, scale_bits), words.astype("<u4").tobytes()


def rans_decode_stream(table_blob, payload, n, ctx=None, ctx_period=1, out_dtype=np.uint8):
    freqs, scale_bits = unpack_table(table_blob)
    if len(payload) % 4:
        raise CodecError("rANS payload length is not a multiple of 4 bytes: truncated")
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    try:
        return rans.decode(words, freqs, scale_bits, n, ctx=ctx, ctx_period=ctx_period, out_dtype=out_dtype)
    except rans.RansError as exc:
        raise CodecError(str(exc)) from exc


WIDE_MIN_SCALE_BITS = 16  # 16-bit alphabets: at least 2^16 slots


def scale_bits_for(alphabet_used):
    """Table precision for 16-bit alphabets: 4 spare bits above log2 of the symbols in use, 16..22 bits."""
    return int(min(22, max(WIDE_MIN_SCALE_BITS, math.ceil(math.log2(max(alphabet_used, 1))) + 4)))


# -------------------------------------------------------------------------------------------- escapes
def encode_escapes(mask, cur):
    idx = np.flatnonzero(mask).astype(np.uint32)
    return np.diff(idx, prepend=np.uint32(0)).astype("<u4").tobytes() + cur[idx].astype("<f4").tobytes()


def decode_escapes(blob, n_escapes):
    if len(blob) != 8 * n_escapes:
        raise CodecError(f"escape section has {len(blob)} bytes, expected {8 * n_escapes}: truncated or corrupt")
    idx = np.cumsum(np.frombuffer(blob[: 4 * n_escapes], "<u4").astype(np.int64))
    values = np.frombuffer(blob[4 * n_escapes :], "<f4").astype(np.float32)
    return idx, values


def check_overflow(cfg, mask, residual):
    if cfg.overflow == "error" and mask.any():
        worst = residual[mask][0]
        raise CodecError(
            f"{int(mask.sum())} residuals (e.g. {worst!r}) do not fit the 16-bit code with step "
            f"2^-{cfg.step_bits} (|r| must stay below 2^{15 - cfg.step_bits}) or are NaN/inf; the original "
            "overflows here. Use --overflow escape to send them exactly, or a larger step (--step-bits)")


# -------------------------------------------------------------------------------------------- methods
def encode_stream(cur, prev, cfg):
    """Encode a flat float32 stream `cur` against `prev` (same length; ignored by Float16)."""
    cur = np.ascontiguousarray(cur, dtype=np.float32)
    if prev is not None:
        prev = np.ascontiguousarray(prev, dtype=np.float32)
        if prev.shape != cur.shape:
            raise CodecError(f"reference stream has {prev.size} values, current has {cur.size}")
    elif cfg.method not in REFERENCE_FREE_METHODS:
        raise CodecError(f"{cfg.method} needs a reference (previous epoch) checkpoint")
    n = cur.size
    m = cfg.method
    stats = {"n": n}
    if m == "ResEntropy":
        stream = npy_bytes(byte_residual(cur, prev))
        coded = arithmeticcoding.compress(stream)
        counts = arithmeticcoding.byte_counts(np.frombuffer(stream, np.uint8))
        stats.update(orig_bytes=len(stream), entropy_bound_bytes=entropy_bits(counts) / 8 + arithmeticcoding.TABLE_BYTES,
                     bound_name="H0 | 1 byte table x stream bytes + 1024-byte table")
        return Encoded({"payload": coded}, cur.copy(), stats)
    if m == "ResPlaneANS":
        res = byte_residual(cur, prev)
        counts = rans.context_counts(res, 256, ctx_period=4)
        table, payload = rans_encode_stream(res, counts, BYTE_SCALE_BITS, ctx_period=4)
        stats.update(orig_bytes=4 * n, entropy_bound_bytes=entropy_bits(counts) / 8, bound_name="H0 | 4 byte planes")
        return Encoded({"table": table, "payload": payload}, cur.copy(), stats)
    if m == "ResIntDiffANS":
        symbols, raw_values, raw_bits = intdiff.symbolize(cur.view(np.uint32), prev.view(np.uint32), INTDIFF_KEPT_BITS)
        ctx = intdiff_context(prev)
        counts = rans.context_counts(symbols, INTDIFF_ALPHABET, ctx=ctx, n_ctx=INTDIFF_CONTEXTS)
        table, payload = rans_encode_stream(symbols, counts, BYTE_SCALE_BITS, ctx=ctx)
        raw = rans.pack_bits(raw_values, raw_bits)
        stats.update(orig_bytes=4 * n, entropy_bound_bytes=(entropy_bits(counts) + float(raw_bits.sum())) / 8,
                     bound_name="H(bucket | ref exponent) + raw bits")
        return Encoded({"table": table, "payload": payload, "raw": raw}, cur.copy(), stats)
    if m == "Float16":
        half = cur.astype(np.float16)
        stats.update(orig_bytes=4 * n, entropy_bound_bytes=2.0 * n, bound_name="fixed 16 bits")
        return Encoded({"payload": half.tobytes()}, half.astype(np.float32), stats)
    if m == "ResidualFloat16":
        half = (cur - prev).astype(np.float16)
        stats.update(orig_bytes=4 * n, entropy_bound_bytes=2.0 * n, bound_name="fixed 16 bits")
        return Encoded({"payload": half.tobytes()}, (half + prev).astype(np.float32), stats)
    if m in ("ResEntropy16bits", "Res16bitsJointANS"):
        residual = cur - prev
        codes, esc = convert.dec2bin(residual, cfg.step_bits)
        check_overflow(cfg, esc, residual)
        recon = convert.bin2dec(codes, cfg.step_bits) + prev
        recon[esc] = cur[esc]
        sections = {"escapes": encode_escapes(esc, cur)}
        stats["n_escapes"] = int(esc.sum())
        if m == "ResEntropy16bits":
            stream = npy_bytes(convert.codes_to_bytes(codes))
            sections["payload"] = arithmeticcoding.compress(stream)
            counts = arithmeticcoding.byte_counts(np.frombuffer(stream, np.uint8))
            # the paper's "original size" is twice the npy file of 16-bit codes (about 4 bytes/param)
            stats.update(orig_bytes=2 * len(stream),
                         entropy_bound_bytes=entropy_bits(counts) / 8 + arithmeticcoding.TABLE_BYTES,
                         bound_name="H0 | 1 byte table x 2 bytes/param + 1024-byte table")
        else:
            counts = rans.context_counts(codes, 65536)
            sb = scale_bits_for(int((counts > 0).sum()))
            sections["table"], sections["payload"] = rans_encode_stream(codes, counts, sb)
            stats.update(orig_bytes=4 * n, entropy_bound_bytes=entropy_bits(counts) / 8, bound_name="H0 | 16-bit symbols")
        return Encoded(sections, recon, stats)
    if m == "ResRoundANS":
        residual = cur - prev
        # step 2 * delta with rounding has max error delta, as truncation with step delta
        levels, esc = convert.quantize_round(residual, cfg.step_bits - 1, ESCAPE_LIMIT[m])
        check_overflow(cfg, esc, residual)
        recon = convert.dequantize_round(levels, cfg.step_bits - 1) + prev
        recon[esc] = cur[esc]
        symbols = convert.zigzag_levels(levels)
        counts = rans.context_counts(symbols, 65536)
        sb = scale_bits_for(int((counts > 0).sum()))
        table, payload = rans_encode_stream(symbols, counts, sb)
        stats.update(orig_bytes=4 * n, entropy_bound_bytes=entropy_bits(counts) / 8, bound_name="H0 | rounded levels",
                     n_escapes=int(esc.sum()))
        return Encoded({"table": table, "payload": payload, "escapes": encode_escapes(esc, cur)}, recon, stats)
    raise CodecError(f"unknown method {m!r}; choose from {', '.join(ALL_METHODS)}")


def intdiff_context(prev):
    return intdiff.exponent_context(prev.view(np.uint32), INTDIFF_EXPONENT_LOW, INTDIFF_CONTEXTS)


def intdiff_reconstruct(symbols, prev, raw_section):
    raw_values = rans.unpack_bits(raw_section, intdiff.raw_bit_counts(symbols, INTDIFF_KEPT_BITS))
    return intdiff.reconstruct(symbols, raw_values, prev.view(np.uint32), INTDIFF_KEPT_BITS).view(np.float32)


def decode_stream(sections, prev, n, cfg, stats=None):
    """Inverse of `encode_stream`; `stats` carries the counts the header stored (escapes)."""
    stats = stats or {}
    m = cfg.method
    if prev is None and m not in REFERENCE_FREE_METHODS:
        raise CodecError(f"{m} needs the reference checkpoint used at encode time")
    try:
        if m == "ResEntropy":
            res = npy_load(_decompress_ac(sections["payload"]), "ResEntropy stream").reshape(-1)
            if res.dtype != np.uint8 or res.size != 4 * n:
                raise CodecError(f"ResEntropy stream holds {res.size} {res.dtype} values, expected {4 * n} uint8")
            return (prev.view(np.uint8) + res).view(np.float32)
        if m == "ResPlaneANS":
            res = rans_decode_stream(sections["table"], sections["payload"], 4 * n, ctx_period=4)
            return (prev.view(np.uint8) + res).view(np.float32)
        if m == "ResIntDiffANS":
            ctx = intdiff_context(prev)
            symbols = rans_decode_stream(sections["table"], sections["payload"], n, ctx=ctx)
            return intdiff_reconstruct(symbols, prev, sections["raw"])
        if m in ("Float16", "ResidualFloat16"):
            half = np.frombuffer(sections["payload"], dtype=np.float16)
            if half.size != n:
                raise CodecError(f"float16 payload holds {half.size} values, expected {n}: truncated")
            return half.astype(np.float32) if m == "Float16" else (half + prev).astype(np.float32)
        n_esc = int(stats.get("n_escapes", 0))
        idx, values = decode_escapes(sections["escapes"], n_esc)
        if m in ("ResEntropy16bits", "Res16bitsJointANS"):
            if m == "ResEntropy16bits":
                raw = npy_load(_decompress_ac(sections["payload"]), "ResEntropy16bits stream").reshape(-1)
                if raw.dtype != np.uint8 or raw.size != 2 * n:
                    raise CodecError(f"16-bit code stream holds {raw.size} bytes, expected {2 * n}")
                codes = convert.bytes_to_codes(raw)
            else:
                codes = rans_decode_stream(sections["table"], sections["payload"], n, out_dtype=np.uint16)
            recon = convert.bin2dec(codes, cfg.step_bits) + prev
        elif m == "ResRoundANS":
            symbols = rans_decode_stream(sections["table"], sections["payload"], n, out_dtype=np.uint16)
            levels = convert.unzigzag_levels(symbols)
            recon = convert.dequantize_round(levels, cfg.step_bits - 1) + prev
        else:
            raise CodecError(f"unknown method {m!r}; choose from {', '.join(ALL_METHODS)}")
        if idx.size and idx[-1] >= n:
            raise CodecError("escape index out of range: corrupt file")
        recon[idx] = values
        return recon.astype(np.float32)
    except KeyError as exc:
        raise CodecError(f"{m} data lacks section {exc}: corrupt or truncated file") from exc


def _decompress_ac(blob):
    try:
        return arithmeticcoding.decompress(blob)
    except arithmeticcoding.ArithmeticCodingError as exc:
        raise CodecError(str(exc)) from exc
