"""Strided and transposed 1-D convolutions in numpy, as torch's ``Conv1d`` and
``ConvTranspose1d`` compute them: what the filterbank path runs to analyse and to decode,
so that neither needs torch.

The convolution is a matrix product of the weights with windows of the input, a block of
outputs at a time (BLAS does the work); the transposed one spreads each input over its
output phases in compiled loops. Memory stays a few times the output whatever the length.

>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((3, 20)).astype(np.float32)
>>> weight = rng.standard_normal((3, 2, 8)).astype(np.float32)  # (in, out, taps)
>>> up = transposed_conv1d(x, weight, stride=2, padding=3)
>>> up.shape, conv1d(up, weight, stride=2, padding=3).shape  # weight as (out, in, taps)
((2, 40), (3, 20))
"""

from __future__ import annotations

import numpy as np

BLOCK = 1 << 14  # outputs per matrix product: its windows stay within the caches


def conv1d(x: np.ndarray, weight: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """(out, steps) of ``x`` (in, length) and ``weight`` (out, in, taps), zero-padded by
    ``padding`` on each side, as ``torch.nn.functional.conv1d`` without bias."""
    out_channels, _, taps = weight.shape
    padded = np.pad(x, ((0, 0), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, taps, axis=1)[:, ::stride]
    return _product(windows, weight.reshape(out_channels, -1))


def transposed_conv1d(x: np.ndarray, weight: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """(out, length) of ``x`` (in, steps) and ``weight`` (in, out, taps), as
    ``torch.nn.functional.conv_transpose1d`` without bias: each input step spreads the
    kernel over the output from ``stride x step - padding``."""
    from codec.kernels import spread_phases  # compiled: what decoding spends its time on

    steps = x.shape[1]
    out_channels, taps = weight.shape[1], weight.shape[2]
    per_phase = -(-taps // stride)
    # phase r of the full output, at stride x n + r, gets tap r + stride m of step n - m
    phases = np.zeros((stride, out_channels, steps + per_phase - 1), np.result_type(x, weight))
    spread_phases(np.ascontiguousarray(x), np.ascontiguousarray(weight), phases)
    full = phases.transpose(1, 2, 0).reshape(out_channels, -1)
    length = stride * (steps - 1) + taps - 2 * padding
    return full[:, padding : padding + length]


def _product(windows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``matrix`` (out, in x taps) times each window of ``windows`` (in, positions, taps)."""
    positions = windows.shape[1]
    out = np.empty((matrix.shape[0], positions), np.result_type(windows, matrix))
    for start in range(0, positions, BLOCK):
        block = windows[:, start : start + BLOCK].transpose(1, 0, 2)
        out[:, start : start + BLOCK] = matrix @ block.reshape(len(block), -1).T
    return out
