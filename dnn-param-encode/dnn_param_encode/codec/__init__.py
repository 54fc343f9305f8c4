"""Entropy coders: the paper's static arithmetic coder (bit-compatible, typed Cython), the 16-bit
fixed-point converter, and a static multi-context rANS coder for the improved methods."""
