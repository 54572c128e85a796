"""Strided and transposed 1-D convolutions in numpy, as torch's ``Conv1d`` and
``ConvTranspose1d`` compute them: what the filterbank path runs to analyse and to decode,
so that neither needs torch.

Each is a sum over the kernel's taps of one small matrix product, so memory stays a few
times the output whatever the length, and numpy's BLAS does the work.

>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((3, 20)).astype(np.float32)
>>> weight = rng.standard_normal((3, 2, 8)).astype(np.float32)  # (in, out, taps)
>>> up = transposed_conv1d(x, weight, np.zeros(2, np.float32), stride=2, padding=3)
>>> up.shape, conv1d(up, weight, stride=2, padding=3).shape  # weight as (out, in, taps)
((2, 40), (3, 20))
"""

from __future__ import annotations

import numpy as np


def conv1d(x: np.ndarray, weight: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """(out, steps) of ``x`` (in, length) and ``weight`` (out, in, taps), zero-padded by
    ``padding`` on each side, as ``torch.nn.functional.conv1d`` without bias."""
    taps = weight.shape[2]
    padded = np.pad(x, ((0, 0), (padding, padding)))
    steps = (padded.shape[1] - taps) // stride + 1
    out = np.zeros((weight.shape[0], steps), dtype=np.result_type(x, weight))
    for k in range(taps):
        out += weight[:, :, k] @ padded[:, k : k + stride * (steps - 1) + 1 : stride]
    return out


def transposed_conv1d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int, padding: int
) -> np.ndarray:
    """(out, length) of ``x`` (in, steps) and ``weight`` (in, out, taps), as
    ``torch.nn.functional.conv_transpose1d``: each input step spreads the kernel over the
    output from ``stride x step - padding``."""
    steps = x.shape[1]
    taps = weight.shape[2]
    full = np.zeros((weight.shape[1], stride * (steps - 1) + taps), dtype=np.result_type(x, weight))
    for k in range(taps):
        full[:, k : k + stride * (steps - 1) + 1 : stride] += weight[:, :, k].T @ x
    length = stride * (steps - 1) + taps - 2 * padding
    return full[:, padding : padding + length] + bias[:, None]
