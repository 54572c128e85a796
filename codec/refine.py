"""What the filterbank path fits of its decoder: the synthesis layer that turns a song's
quantized latents back into the song, by ridge least squares.

The decoder is the analysis's adjoint (:mod:`codec.pqmf`): a transposed convolution from
the 8 latent channels to 4 hidden ones (mid and side, even and odd samples), then the
designed merge of those into left and right, which is orthonormal. So the error of the
audio is the error of the hidden signal, and the best first layer for a song, given its
dequantized latents, is a linear least-squares problem: for each hidden channel and
output phase, 8 latent channels x 32 taps of regression (the central half of the layer's
64 taps of that phase; the outer ones carry little of the filters' energy). Its normal
equations need only the latents' correlations at 32 lags, so fitting takes one pass over
the segment, in closed form. The ridge term pulls the layer toward where it starts, the
exact inverse, so that directions the quantized latents barely excite (silent bands) stay
put.

Measured on 20 s excerpts (two corpus songs, two orchestral pieces, qualities 4, 7 and
12), this gained 0.00 to 0.11 dB, as much as or more than 300 iterations of Adam on the
post's windows (-0.002 to 0.08 dB), in well under a second.

>>> from codec.pqmf import analyse, hidden_of, synthesis_start, synthesize
>>> rng = np.random.default_rng(0)
>>> audio = rng.standard_normal((2, 4096)).astype(np.float32)
>>> latents = analyse(audio)
>>> noisy = latents + 0.1 * rng.standard_normal(latents.shape)
>>> fitted = fit_synthesis(noisy, hidden_of(audio))
>>> def error(layer):
...     return float(np.sum((synthesize(noisy.astype(np.float32), layer) - audio) ** 2))
>>> error(fitted) < error(synthesis_start())
True
"""

from __future__ import annotations

import numpy as np

from codec.pqmf import CODED_CHANNELS, HIDDEN, KERNEL, PADDING, synthesis_start

# taps of one output phase that the fit moves: the central half, where the filters' energy
# is. Fitting all 64 takes twice as long; on six 20 s excerpts it changed BD-SNR by -0.002
# to +0.02 dB (benchmarks/results/experiments.md, "A sharper filterbank, again")
FITTED_LAGS = 32
RIDGE = 1e-3  # x the mean energy of a regressor: measured 1e-8 to 1e-2; 1e-5 overfit once


def fit_synthesis(latents: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """The decoder's first layer (8, 4, KERNEL) that best turns ``latents`` (8, steps),
    dequantized, into ``hidden`` (4, 2 x steps), the song's own hidden signal."""
    steps = latents.shape[1]
    lags = FITTED_LAGS
    if steps < KERNEL:  # too short to tell the lags apart: left as it starts
        return synthesis_start()
    correlation, cross = _moments(latents, hidden, lags)
    layer = synthesis_start().astype(np.float64)
    for phase in (0, 1):
        # output 2u + phase of the transposed convolution reads tap k of latent u - m,
        # with k = 2m + phase + PADDING: the central taps of one parity
        shifts = np.arange(-lags // 2, lags // 2)
        taps = 2 * shifts + phase + PADDING
        gram = np.zeros((CODED_CHANNELS, lags, CODED_CHANNELS, lags))
        for j, a in enumerate(shifts):
            for jj, b in enumerate(shifts):
                d = b - a  # sum_u x_i[u - a] x_i'[u - b] = sum_v x_i[v] x_i'[v + a - b]
                gram[:, j, :, jj] = correlation[-d] if d <= 0 else correlation[d].T
        gram = gram.reshape(CODED_CHANNELS * lags, -1)
        regressed = np.stack([cross[phase, m + lags // 2] for m in shifts], axis=1)
        start = layer[:, :, taps].transpose(0, 2, 1).reshape(-1, HIDDEN)
        ridge = RIDGE * np.trace(gram) / len(gram)
        solution = np.linalg.solve(gram + ridge * np.eye(len(gram)),
                                   regressed.reshape(-1, HIDDEN) + ridge * start)  # fmt: skip
        layer[:, :, taps] = solution.reshape(CODED_CHANNELS, lags, HIDDEN).transpose(0, 2, 1)
    return layer.astype(np.float32)


BLOCK = 8192  # steps of latents whose products are taken together, within the caches


def _moments(latents: np.ndarray, hidden: np.ndarray, lags: int):
    """The latents' correlations at lags 0 to ``lags`` - 1, ``sum_v x_i[v] x_j[v + d]``,
    and each output phase's correlation with the latents shifted by -lags/2 to lags/2,
    ``sum_u x_i[u - m] hidden_h[2u + phase]``: zeros beyond the ends, a block at a time."""
    steps = latents.shape[1]
    half = lags // 2
    padded = np.pad(latents, ((0, 0), (lags, lags)))  # padded[:, lags + u] = x[:, u]
    correlation = np.zeros((lags, CODED_CHANNELS, CODED_CHANNELS))
    cross = np.zeros((2, lags + 1, CODED_CHANNELS, HIDDEN))
    for start in range(0, steps, BLOCK):
        stop = min(start + BLOCK, steps)
        width = stop - start
        slab = padded[:, lags + start - half : lags + stop + lags]  # x[start - half ...]
        block = slab[:, half : half + width]
        for d in range(lags):
            correlation[d] += block @ slab[:, half + d : half + d + width].T
        for phase in (0, 1):
            target = hidden[:, 2 * start + phase : 2 * stop : 2]
            for m in range(-half, half + 1):  # x[u - m] for u in the block
                cross[phase, m + half] += slab[:, half - m : half - m + width] @ target.T
    return correlation, cross
