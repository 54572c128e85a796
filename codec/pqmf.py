"""The filterbank path's designed analysis: mid/side, then four bands per side at a
quarter rate, as the two strided convolutions of the post's encoder shape.

The first layer (2 -> 4 channels, stride 2) takes mid and side, (L +- R) / sqrt(2), split
into even and odd samples; the second (4 -> 8 channels, stride 2) turns each pair into
four bands at a quarter rate with 64-tap cosine-modulated filters whose prototype is
designed for perfect reconstruction (:func:`pqmf_prototype`). Latent channels 0-3 hold
mid, 4-7 side: 2 values per stereo frame, critically sampled. Both layers are
orthonormal, so their adjoints, the same weights as transposed convolutions, invert them
(to about 150 dB): that is the decoder the path starts from and fits to each song.

Nothing here is learned; it is all numpy.

>>> first, second = analysis_weights()
>>> first.shape, second.shape
((4, 2, 32), (8, 4, 32))
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import firwin

STRIDE = 4  # audio samples per latent step
HIDDEN = 4  # mid and side, each split into even and odd samples
CODED_CHANNELS = 8  # latent channels that carry the bands: 4 mid, 4 side
KERNEL = 32  # of both layers
PADDING = (KERNEL - 2) // 2  # 'same' padding: shapes stay a factor 4 apart
TAPS = 64  # length of the band filters
# latent steps of context a block needs on each side to match the whole track: the
# receptive field of two layers of KERNEL taps, strides 2 and 4 in samples
CONTEXT_STEPS = math.ceil((1 + (KERNEL - 1) * (1 + 2)) / STRIDE) + 1


@functools.cache
def pqmf_prototype(bands: int = 4, taps: int = TAPS) -> np.ndarray:
    """The prototype lowpass of a perfect-reconstruction cosine-modulated filterbank.

    A cosine-modulated bank whose synthesis is the adjoint of its analysis reconstructs
    perfectly when each pair of the prototype's polyphase components (k and bands + k, of
    2 x bands) is power complementary. Starting from a Kaiser-windowed lowpass, least
    squares meets those conditions (to about 1e-9) while keeping as little energy as it
    can beyond 9/10 of a band: the bank reconstructs to about 150 dB, where a Kaiser
    prototype alone stops near 60 dB. (Stopbands from 3/4 to 11/10 of a band coded two
    songs within 0.08 dB of each other; 9/10 did best.)
    """
    m = taps // (2 * bands)

    def polyphase_errors(prototype: np.ndarray) -> np.ndarray:
        g = prototype.reshape(m, 2 * bands).T
        errors = []
        for k in range(bands):
            pair = np.correlate(g[k], g[k], "full") + np.correlate(
                g[bands + k], g[bands + k], "full"
            )
            pair[m - 1] -= 1 / (2 * bands)
            errors.append(pair[m - 1 :])
        return np.concatenate(errors)

    stopband = np.linspace(0, np.pi, 1025) > 0.9 * np.pi / bands

    def residuals(half: np.ndarray) -> np.ndarray:
        prototype = np.concatenate([half, half[::-1]])  # linear phase
        leak = np.abs(np.fft.rfft(prototype, 2048))[stopband]
        return np.concatenate([1e6 * polyphase_errors(prototype), leak])

    start = firwin(taps, 0.6 / bands, window=("kaiser", 9.0))
    start *= np.sqrt(taps / (4 * bands * np.sum(start**2)))
    half = least_squares(residuals, start[: taps // 2], xtol=1e-15, ftol=1e-15, gtol=1e-15).x
    return np.concatenate([half, half[::-1]])


def pqmf_basis(bands: int = 4, taps: int = TAPS) -> np.ndarray:
    """(taps, bands) analysis filters of the cosine-modulated filterbank.

    Each filter keeps all but about 0.06 % of its energy within a quarter band of its
    own band, where the 8-tap MDCT filterbank of the same shape leaks 5-10 %: a tone is
    coded in one band, not smeared over two.
    """
    n = np.arange(taps)[None, :]
    k = np.arange(bands)[:, None]
    phase = (-1.0) ** k * np.pi / 4
    modulation = np.cos((2 * k + 1) * np.pi / (2 * bands) * (n - (taps - 1) / 2) + phase)
    filters = pqmf_prototype(bands, taps) * modulation
    filters /= np.linalg.norm(filters, axis=1, keepdims=True)
    return filters.T.copy()


@functools.cache
def analysis_weights() -> tuple[np.ndarray, np.ndarray]:
    """float32 weights of the two analysis convolutions: (4, 2, KERNEL) and (8, 4, KERNEL),
    as ``Conv1d`` holds them (out, in, taps); the synthesis is their adjoint."""
    first = np.zeros((HIDDEN, 2, KERNEL))
    second = np.zeros((CODED_CHANNELS, HIDDEN, KERNEL))
    r = 1 / math.sqrt(2)
    for side, (left, right) in enumerate([(r, r), (r, -r)]):
        for phase in range(2):  # hidden unit 2 side + phase reads sample 2t + phase
            first[2 * side + phase, 0, PADDING + phase] = left
            first[2 * side + phase, 1, PADDING + phase] = right
    basis = pqmf_basis()  # latent t's filters cover samples 4t - 30 .. 4t + 33
    lead = TAPS // 4 - 1
    for side in range(2):
        for band in range(4):
            for n in range(TAPS):
                # sample 4t - 2 lead + n is hidden position 2t - lead + step, phase n % 2
                step, phase = divmod(n, 2)
                second[4 * side + band, 2 * side + phase, PADDING - lead + step] = basis[n, band]
    first, second = first.astype(np.float32), second.astype(np.float32)
    first.flags.writeable = second.flags.writeable = False
    return first, second
