"""One self-describing file per encoded checkpoint (the original has no file format and no decoder).

Layout (all integers little-endian):
    magic b"DNNPENC\\n" | version u16 | header length u32 | header (UTF-8 JSON) | CRC32 of header u32 |
    sections, back to back, in header order
The header records the method and its options, the SHA-256 of the reference tensors, every tensor's name,
shape, dtype and role, and every section's name, length and CRC32.

Roles: `param` (float32 tensors named *weight / *bias, i.e. `net.parameters()` for torchvision models: the
paper's stream, coded with the chosen method), `buffer` (other float32 tensors such as BN running stats:
the paper never sent them; here they are always coded losslessly with ResPlaneANS against the reference),
`raw` (every non-float32 tensor, e.g. `num_batches_tracked`, float16/float64/bfloat16: raw bytes).
"""

import hashlib
import json
import struct
import zlib
from collections import OrderedDict

import numpy as np
import torch
from dnn_param_encode.compression import (
    LOSSY_METHODS,
    REFERENCE_FREE_METHODS,
    CodecError,
    MethodConfig,
    decode_stream,
    encode_stream,
)

MAGIC = b"DNNPENC\n"
VERSION = 1
BUFFER_METHOD = "ResPlaneANS"
PREAMBLE = struct.Struct("<8sHI")


def tensor_role(name, tensor):
    if tensor.dtype != torch.float32:
        return "raw"
    leaf = name.rsplit(".", 1)[-1]
    return "param" if leaf in ("weight", "bias") else "buffer"


def flat_float32(state_dict, names):
    if not names:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([state_dict[k].detach().cpu().reshape(-1).numpy().astype(np.float32, copy=False)
                           for k in names])


def tensor_bytes(tensor):
    t = tensor.detach().cpu().contiguous().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def reference_digest(state_dict, names):
    """SHA-256 over names, shapes and float32 bytes of the tensors used as reference."""
    h = hashlib.sha256()
    for k in names:
        t = state_dict[k]
        h.update(f"{k}:{tuple(t.shape)}:".encode())
        h.update(tensor_bytes(t))
    return h.hexdigest()


def check_reference(cur_sd, ref_sd, names):
    for k in names:
        if k not in ref_sd:
            raise CodecError(f"reference checkpoint has no tensor {k!r}: is it the same architecture?")
        if tuple(ref_sd[k].shape) != tuple(cur_sd[k].shape) or ref_sd[k].dtype != cur_sd[k].dtype:
            raise CodecError(f"tensor {k!r} is {tuple(cur_sd[k].shape)} {cur_sd[k].dtype} but "
                             f"{tuple(ref_sd[k].shape)} {ref_sd[k].dtype} in the reference checkpoint")


def encode_checkpoint(cur_sd, ref_sd, cfg):
    """Returns (file bytes, reconstructed state_dict, stats). `ref_sd` may be None for Float16."""
    names = list(cur_sd.keys())
    roles = {k: tensor_role(k, cur_sd[k]) for k in names}
    params = [k for k in names if roles[k] == "param"]
    buffers = [k for k in names if roles[k] == "buffer"]
    if ref_sd is None and cfg.method not in REFERENCE_FREE_METHODS:
        raise CodecError(f"{cfg.method} needs a reference checkpoint (--pre-epoch)")
    if ref_sd is not None:
        check_reference(cur_sd, ref_sd, params + buffers)
    cur_p = flat_float32(cur_sd, params)
    ref_p = flat_float32(ref_sd, params) if ref_sd is not None else None
    enc = encode_stream(cur_p, ref_p, cfg)
    cur_b = flat_float32(cur_sd, buffers)
    ref_b = flat_float32(ref_sd, buffers) if ref_sd is not None else np.zeros_like(cur_b)
    enc_b = encode_stream(cur_b, ref_b, MethodConfig(BUFFER_METHOD))
    sections = OrderedDict()
    for k, v in enc.sections.items():
        sections[f"params/{k}"] = v
    for k, v in enc_b.sections.items():
        sections[f"buffers/{k}"] = v
    sections["raw"] = b"".join(tensor_bytes(cur_sd[k]) for k in names if roles[k] == "raw")
    header = {
        "method": cfg.method,
        "step_bits": cfg.step_bits,
        "overflow": cfg.overflow,
        "reference_sha256": reference_digest(ref_sd, params + buffers) if ref_sd is not None else None,
        "tensors": [{"name": k, "shape": list(cur_sd[k].shape), "dtype": str(cur_sd[k].dtype).removeprefix("torch."),
                     "role": roles[k]} for k in names],
        "n_params": int(cur_p.size),
        "n_buffer_values": int(cur_b.size),
        "param_stats": {k: v for k, v in enc.stats.items() if k == "n_escapes"},
        "sections": [{"name": k, "length": len(v), "crc32": zlib.crc32(v)} for k, v in sections.items()],
    }
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    blob = b"".join([PREAMBLE.pack(MAGIC, VERSION, len(header_bytes)), header_bytes,
                     struct.pack("<I", zlib.crc32(header_bytes)), *sections.values()])
    recon = OrderedDict((k, v.detach().cpu().clone()) for k, v in cur_sd.items())
    unflatten_into(recon, params, enc.reconstruction)
    stats = dict(enc.stats)
    stats.update(
        file_bytes=len(blob),
        param_bytes=sum(len(v) for k, v in sections.items() if k.startswith("params/")),
        buffer_bytes=sum(len(v) for k, v in sections.items() if k.startswith("buffers/")),
        raw_bytes=len(sections["raw"]),
        header_bytes=PREAMBLE.size + len(header_bytes) + 4,
        buffer_entropy_bound_bytes=enc_b.stats.get("entropy_bound_bytes", 0.0),
    )
    return blob, recon, stats


def unflatten_into(state_dict, names, flat):
    pos = 0
    for k in names:
        t = state_dict[k]
        n = t.numel()
        state_dict[k] = torch.from_numpy(np.array(flat[pos:pos + n], dtype=np.float32).reshape(tuple(t.shape)))
        pos += n


def read_header(blob):
    """Parse and verify the header; returns (header dict, offset of the first section)."""
    if len(blob) < PREAMBLE.size + 4:
        raise CodecError(f"file of {len(blob)} bytes is too short to be an encoded checkpoint (truncated?)")
    magic, version, header_len = PREAMBLE.unpack_from(blob, 0)
    if magic != MAGIC:
        raise CodecError("not an encoded checkpoint (bad magic bytes); expected a file written by "
                         "`python -m dnn_param_encode.demo --output ...`")
    if version != VERSION:
        raise CodecError(f"file format version {version} is not supported (this code reads version {VERSION})")
    start = PREAMBLE.size
    end = start + header_len
    if len(blob) < end + 4:
        raise CodecError("file is truncated inside its header")
    header_bytes = blob[start:end]
    (crc,) = struct.unpack_from("<I", blob, end)
    if zlib.crc32(header_bytes) != crc:
        raise CodecError("header CRC32 mismatch: the file is corrupt")
    try:
        header = json.loads(header_bytes)
    except ValueError as exc:
        raise CodecError(f"header does not parse: the file is corrupt ({exc})") from exc
    return header, end + 4


def decode_checkpoint(blob, ref_sd):
    """Rebuild the encoded state_dict (tensors in their original order, shapes and dtypes)."""
    header, pos = read_header(blob)
    expected = pos + sum(s["length"] for s in header["sections"])
    if len(blob) != expected:
        raise CodecError(f"file has {len(blob)} bytes, its header describes {expected}: "
                         f"{'truncated' if len(blob) < expected else 'trailing garbage'}")
    sections = {}
    for s in header["sections"]:
        data = blob[pos:pos + s["length"]]
        if zlib.crc32(data) != s["crc32"]:
            raise CodecError(f"section {s['name']!r} fails its CRC32: the file is corrupt")
        sections[s["name"]] = data
        pos += s["length"]
    tensors = header["tensors"]
    params = [t["name"] for t in tensors if t["role"] == "param"]
    buffers = [t["name"] for t in tensors if t["role"] == "buffer"]
    if header["reference_sha256"] is not None:
        if ref_sd is None:
            raise CodecError(f"{header['method']} needs the reference checkpoint used at encode time")
        missing = [k for k in params + buffers if k not in ref_sd]
        if missing:
            raise CodecError(f"reference checkpoint lacks {len(missing)} tensors (e.g. {missing[0]!r}): wrong reference")
        digest = reference_digest(ref_sd, params + buffers)
        if digest != header["reference_sha256"]:
            raise CodecError(
                f"wrong reference checkpoint: its SHA-256 is {digest[:16]}..., the file was encoded against "
                f"{header['reference_sha256'][:16]}... Pass the checkpoint used at encode time (in a closed-loop "
                "chain, the previous *decoded* checkpoint)")
    cfg = MethodConfig(header["method"], header["step_bits"], header["overflow"])
    ref_p = flat_float32(ref_sd, params) if header["reference_sha256"] is not None else None
    p_sections = {k.removeprefix("params/"): v for k, v in sections.items() if k.startswith("params/")}
    flat_p = decode_stream(p_sections, ref_p, header["n_params"], cfg, header.get("param_stats"))
    ref_b = (flat_float32(ref_sd, buffers) if header["reference_sha256"] is not None
             else np.zeros(header["n_buffer_values"], dtype=np.float32))
    b_sections = {k.removeprefix("buffers/"): v for k, v in sections.items() if k.startswith("buffers/")}
    flat_b = decode_stream(b_sections, ref_b, header["n_buffer_values"], MethodConfig(BUFFER_METHOD))
    out = OrderedDict()
    raw = sections.get("raw", b"")
    raw_pos = 0
    p_pos = b_pos = 0
    for t in tensors:
        shape = tuple(t["shape"])
        n = int(np.prod(shape, dtype=np.int64))
        if t["role"] == "param":
            out[t["name"]] = torch.from_numpy(np.array(flat_p[p_pos:p_pos + n]).reshape(shape))
            p_pos += n
        elif t["role"] == "buffer":
            out[t["name"]] = torch.from_numpy(np.array(flat_b[b_pos:b_pos + n]).reshape(shape))
            b_pos += n
        else:
            dtype = getattr(torch, t["dtype"], None)
            if not isinstance(dtype, torch.dtype):
                raise CodecError(f"unknown dtype {t['dtype']!r} in the header: corrupt file")
            nbytes = n * torch.empty(0, dtype=dtype).element_size()
            chunk = raw[raw_pos:raw_pos + nbytes]
            if len(chunk) != nbytes:
                raise CodecError("raw tensor section is too short: corrupt file")
            flat = torch.frombuffer(bytearray(chunk), dtype=torch.uint8) if nbytes else torch.empty(0, dtype=torch.uint8)
            out[t["name"]] = flat.view(dtype).reshape(shape).clone()
            raw_pos += nbytes
    if raw_pos != len(raw):
        raise CodecError("raw tensor section has trailing bytes: corrupt file")
    return out


def is_lossy(method):
    return method in LOSSY_METHODS
