"""Cache-friendly weight layout for nested dense / 1x1 pointwise layers (reds.md §3.7), with a NumPy kernel.

A REDS subnetwork ``s`` of a dense layer uses the block ``W[:cin_s, :cout_s]`` of the shared kernel ``W``
``[in, out]``. Stored row-major, that block is ``cin_s`` runs of ``cout_s`` values with gaps between them, and
the runs of a small subnetwork are spread over the whole kernel. Here the kernel is packed into one flat
buffer in *shells*, so that subnetwork ``s`` reads exactly the first ``cin_s * cout_s`` elements, in order:

- shell 0 is the smallest block ``W[:cin_0, :cout_0]``;
- shell k (k >= 1) is the L-shaped extension of block k-1 to block k, stored as two row-major parts:
  ``A_k = W[:cin_{k-1}, cout_{k-1}:cout_k]`` (the new outputs of the old inputs), then
  ``B_k = W[cin_{k-1}:cin_k, :cout_k]`` (the new inputs, over every output active in k).

The loop order is the dense layer as an accumulation over inputs into the active outputs,
``for i: y[o0:o1] += x[i] * row_i``, so the innermost loop runs over outputs and walks consecutive buffer
elements; over one inference the kernel pointer moves strictly forward from 0 to ``prefix_length(s)``.
The bias needs no packing: ``b[:cout_s]`` is already a prefix.

A 1x1 pointwise conv is the same matmul over the ``H*W`` positions (``pointwise_matrix`` /
``pointwise_conv``). ``packed_dense`` is the vectorised reference kernel (one matmul per shell part);
``loop_order`` spells out the scalar loop an embedded kernel would run, so tests can check the access
pattern element by element. Pure NumPy, nothing runs at import.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShellPart:
    """One row-major part of a shell: rows ``[row0, row1)`` x columns ``[col0, col1)`` of ``W`` at ``offset``."""

    offset: int
    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def size(self):
        return (self.row1 - self.row0) * (self.col1 - self.col0)


def check_nested(widths):
    """``[(cin_s, cout_s)]`` as int pairs; raises unless both coordinates are non-decreasing and positive."""
    widths = [(int(cin), int(cout)) for cin, cout in widths]
    if not widths:
        raise ValueError("need at least one subnetwork width")
    for (cin_a, cout_a), (cin_b, cout_b) in zip(widths, widths[1:]):
        if cin_b < cin_a or cout_b < cout_a:
            raise ValueError(f"widths must be nested in ascending order, got {widths}")
    if widths[0][0] < 1 or widths[0][1] < 1:
        raise ValueError(f"widths must be positive, got {widths}")
    return widths


def shell_parts(widths):
    """``[[ShellPart]]`` per shell (shell 0 has one part, later shells the parts A_k, B_k that are non-empty)."""
    widths = check_nested(widths)
    cin0, cout0 = widths[0]
    shells = [[ShellPart(0, 0, cin0, 0, cout0)]]
    offset = cin0 * cout0
    for (cin_p, cout_p), (cin_k, cout_k) in zip(widths, widths[1:]):
        parts = []
        for row0, row1, col0, col1 in ((0, cin_p, cout_p, cout_k), (cin_p, cin_k, 0, cout_k)):
            part = ShellPart(offset, row0, row1, col0, col1)
            if part.size:
                parts.append(part)
                offset += part.size
        shells.append(parts)
    return shells


def prefix_length(widths, s):
    """Buffer elements subnetwork ``s`` reads: the length of its prefix, ``cin_s * cout_s``."""
    cin, cout = check_nested(widths)[s]
    return cin * cout


def pack(kernel, widths):
    """The flat float buffer of ``kernel`` ``[in, out]`` in shell order (length ``cin_last * cout_last``)."""
    kernel = np.asarray(kernel)
    widths = check_nested(widths)
    cin_last, cout_last = widths[-1]
    if cin_last > kernel.shape[0] or cout_last > kernel.shape[1]:
        raise ValueError(f"widths {widths[-1]} exceed the kernel shape {kernel.shape}")
    buffer = np.empty(cin_last * cout_last, dtype=kernel.dtype)
    for parts in shell_parts(widths):
        for p in parts:
            buffer[p.offset : p.offset + p.size] = kernel[p.row0 : p.row1, p.col0 : p.col1].reshape(-1)
    return buffer


def unpack(buffer, widths):
    """Inverse of ``pack``: the ``[cin_last, cout_last]`` kernel."""
    widths = check_nested(widths)
    kernel = np.empty(widths[-1], dtype=np.asarray(buffer).dtype)
    for parts in shell_parts(widths):
        for p in parts:
            kernel[p.row0 : p.row1, p.col0 : p.col1] = buffer[p.offset : p.offset + p.size].reshape(
                p.row1 - p.row0, p.col1 - p.col0)
    return kernel


def packed_dense(x, buffer, bias, widths, s):
    """``x[:, :cin_s] @ W[:cin_s, :cout_s] + bias[:cout_s]`` reading only ``buffer[:prefix_length(widths, s)]``.

    ``x`` may carry more than ``cin_s`` features (the full-width activations); only the first ``cin_s`` are
    read. One matmul per shell part, accumulated in float32 into the active outputs.
    """
    widths = check_nested(widths)
    cin, cout = widths[s]
    x = np.asarray(x, dtype=np.float32)
    prefix = np.asarray(buffer, dtype=np.float32)[: cin * cout]  # nothing past the prefix is visible
    y = np.zeros((x.shape[0], cout), dtype=np.float32)
    for parts in shell_parts(widths)[: s + 1]:
        for p in parts:
            block = prefix[p.offset : p.offset + p.size].reshape(p.row1 - p.row0, p.col1 - p.col0)
            y[:, p.col0 : p.col1] += x[:, p.row0 : p.row1] @ block
    return y + np.asarray(bias, dtype=np.float32)[:cout]


def loop_order(widths, s):
    """The scalar kernel's reads, in order: ``(buffer index, input i, output o)`` for ``y[o] += x[i] * buf``.

    Outer loop over shells, then over the input rows of a part, innermost over its outputs (contiguous).
    """
    for parts in shell_parts(widths)[: s + 1]:
        for p in parts:
            index = p.offset
            for i in range(p.row0, p.row1):
                for o in range(p.col0, p.col1):
                    yield index, i, o
                    index += 1


def scalar_dense(x, buffer, bias, widths, s):
    """The embedded kernel written as scalar loops (one sample ``x`` [features]); slow, for small tests."""
    cin, cout = check_nested(widths)[s]
    y = np.asarray(bias, dtype=np.float32)[:cout].copy()
    for index, i, o in loop_order(widths, s):
        y[o] += np.float32(x[i]) * np.float32(buffer[index])
    return y


def touched_elements(widths, s):
    """``(count, end)``: buffer elements subnetwork ``s`` reads and one past the highest index it reads.

    Both equal ``cin_s * cout_s`` (the parts of shells 0..s tile the prefix with no gap and no overlap);
    ``loop_order`` gives the same set element by element.
    """
    parts = [p for shell in shell_parts(widths)[: s + 1] for p in shell]
    return sum(p.size for p in parts), max(p.offset + p.size for p in parts)


def pointwise_matrix(kernel):
    """A 1x1 conv kernel ``[1, 1, in, out]`` as the dense matrix ``[in, out]``."""
    kernel = np.asarray(kernel)
    if kernel.shape[:2] != (1, 1):
        raise ValueError(f"expected a 1x1 kernel, got shape {kernel.shape}")
    return kernel[0, 0]


def pointwise_conv(x, buffer, bias, widths, s):
    """1x1 conv of ``x`` ``[batch, H, W, C]`` (first ``cin_s`` channels read) with the packed kernel."""
    x = np.asarray(x, dtype=np.float32)
    batch, h, w, c = x.shape
    y = packed_dense(x.reshape(-1, c), buffer, bias, widths, s)
    return y.reshape(batch, h, w, -1)
