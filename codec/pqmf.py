"""The filterbank path's designed analysis, and its decoder: mid/side, then four bands
per side at a quarter rate, as the two strided convolutions of the post's encoder shape.

The first layer (2 -> 4 channels, stride 2) takes mid and side, (L +- R) / sqrt(2), split
into even and odd samples; the second (4 -> 8 channels, stride 2) turns each pair into
four bands at a quarter rate with 64-tap cosine-modulated filters whose prototype is
designed for perfect reconstruction (:func:`pqmf_prototype`). Latent channels 0-3 hold
mid, 4-7 side: 2 values per stereo frame, critically sampled. Both layers are
orthonormal, so their adjoints, the same weights as transposed convolutions, invert them
(to about 150 dB): that is the decoder the path starts from and fits to each song.

The analysis is designed, not learned. The decoder is its adjoint: the path fits the
decoder's first layer to each song (:mod:`codec.refine`), starting from
:func:`synthesis_start`, with which it inverts the analysis exactly.

>>> audio = np.random.default_rng(0).standard_normal((2, 4096)).astype(np.float32)
>>> latents = analyse(audio)
>>> latents.shape
(8, 1024)
>>> back = synthesize(latents.astype(np.float32), synthesis_start())
>>> bool(np.abs(back - audio)[:, 256:-256].max() < 1e-5)
True
"""

from __future__ import annotations

import functools
import math

import numpy as np

from codec.convolutions import conv1d, transposed_conv1d

STRIDE = 4  # audio samples per latent step
HIDDEN = 4  # mid and side, each split into even and odd samples
CODED_CHANNELS = 8  # latent channels that carry the bands: 4 mid, 4 side
KERNEL = 32  # of both layers
PADDING = (KERNEL - 2) // 2  # 'same' padding: shapes stay a factor 4 apart
TAPS = 64  # length of the band filters
# latent steps of context a block needs on each side to match the whole track: the
# receptive field of two layers of KERNEL taps, strides 2 and 4 in samples
CONTEXT_STEPS = math.ceil((1 + (KERNEL - 1) * (1 + 2)) / STRIDE) + 1


# the first half of the 64-tap prototype that design_prototype() makes (it is symmetric):
# stored, because the design takes seconds and every command would pay them
PROTOTYPE_HALF = (
    6.310370638728093e-06, 0.000124607604519334, -0.00023078034529149178,
    -9.83986056807491e-06, -0.0002536481648555707, -0.00011913905890743303,
    -0.00021593092991463098, -0.0002561639068556107, -0.00030413361753020286,
    -0.00032335824568223816, -0.00020661018057655724, 0.00041104006122425244,
    0.001578851688292914, 0.003259727886953118, 0.005278115561115782,
    0.0066404226978742965, 0.006422981990537418, 0.003576029339680589,
    -0.00259312014786726, -0.01181896474547713, -0.022600546279444834,
    -0.03218293127664942, -0.03678563725054704, -0.03237371552631393,
    -0.015564403142269194, 0.01529907664991034, 0.05937814700856865,
    0.11299537182885672, 0.1699734368620781, 0.2226170334625145,
    0.2631247474248907, 0.2851526990149856,
)  # fmt: skip


def design_prototype(bands: int = 4, taps: int = TAPS) -> np.ndarray:
    """The prototype lowpass of a perfect-reconstruction cosine-modulated filterbank.

    A cosine-modulated bank whose synthesis is the adjoint of its analysis reconstructs
    perfectly when each pair of the prototype's polyphase components (k and bands + k, of
    2 x bands) is power complementary. Starting from a Kaiser-windowed lowpass, least
    squares meets those conditions (to about 1e-9) while keeping as little energy as it
    can beyond 9/10 of a band: the bank reconstructs to about 150 dB, where a Kaiser
    prototype alone stops near 60 dB. (Stopbands from 3/4 to 11/10 of a band coded two
    songs within 0.08 dB of each other; 9/10 did best.)
    """
    from scipy.optimize import least_squares  # only to design: the codec uses the stored one
    from scipy.signal import firwin

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


def pqmf_prototype() -> np.ndarray:
    """The 64-tap prototype lowpass of the 4-band filterbank (:func:`design_prototype`)."""
    return np.concatenate([PROTOTYPE_HALF, PROTOTYPE_HALF[::-1]])


def pqmf_basis() -> np.ndarray:
    """(taps, bands) analysis filters of the cosine-modulated filterbank.

    Each filter keeps all but about 0.06 % of its energy within a quarter band of its
    own band, where the 8-tap MDCT filterbank of the same shape leaks 5-10 %: a tone is
    coded in one band, not smeared over two.
    """
    bands, taps = 4, TAPS
    n = np.arange(taps)[None, :]
    k = np.arange(bands)[:, None]
    phase = (-1.0) ** k * np.pi / 4
    modulation = np.cos((2 * k + 1) * np.pi / (2 * bands) * (n - (taps - 1) / 2) + phase)
    filters = pqmf_prototype() * modulation
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


def analyse(audio: np.ndarray) -> np.ndarray:
    """Latents (8 coded channels, steps), float64, of ``audio`` (2, 4 x steps) float32:
    each side's four bands come from its own two hidden channels (the second layer's
    other weights are zero)."""
    hidden, second = hidden_of(audio), analysis_weights()[1]
    bands = [
        conv1d(
            hidden[2 * side : 2 * side + 2],
            second[4 * side : 4 * side + 4, 2 * side : 2 * side + 2],
            2,
            PADDING,
        )
        for side in range(2)
    ]
    return np.concatenate(bands).astype(np.float64)


def hidden_of(audio: np.ndarray) -> np.ndarray:
    """The first layer's output (4, 2 x steps): mid and side, each split into even and odd
    samples (orthonormal, so the decoder's last layer, its adjoint, gives the audio back).
    The layer's only non-zero taps are these two per hidden channel."""
    r = np.float32(1 / math.sqrt(2))
    left, right = audio
    mid, side = r * left + r * right, r * left - r * right
    return np.stack([mid[0::2], mid[1::2], side[0::2], side[1::2]])


def synthesis_start() -> np.ndarray:
    """The decoder's first layer (8 latents -> 4 hidden, as ``ConvTranspose1d`` holds it:
    (in, out, taps)) before any fitting: the adjoint of the analysis's second layer."""
    return analysis_weights()[1].copy()


SYNTHESIS_BLOCK = 1 << 16  # latent steps synthesized at a time: bounds the decoder's memory


def synthesize(latents: np.ndarray, synthesis: np.ndarray) -> np.ndarray:
    """Audio (2, 4 x steps), float32, of ``latents`` (8, steps) float32: the decoder's first
    layer ``synthesis`` (a transposed convolution, fitted to the song), then the adjoint of
    the analysis's first layer (designed: even and odd samples back together, mid and
    side back to left and right). A block of latents at a time, each read with the
    latents around it that reach it, so the blocks join exactly."""
    steps = latents.shape[1]
    reach = KERNEL // 2  # latent steps on either side that a block's output depends on
    padded = np.pad(latents, ((0, 0), (reach, reach)))
    r = np.float32(1 / math.sqrt(2))
    audio = np.empty((2, STRIDE * steps), np.float32)
    for start in range(0, steps, SYNTHESIS_BLOCK):
        stop = min(start + SYNTHESIS_BLOCK, steps)
        hidden = transposed_conv1d(padded[:, start : stop + 2 * reach], synthesis, 2, PADDING)
        mid0, mid1, side0, side1 = hidden[:, 2 * reach : 2 * (reach + stop - start)]
        block = audio[:, STRIDE * start : STRIDE * stop]
        block[0, 0::2], block[0, 1::2] = r * (mid0 + side0), r * (mid1 + side1)
        block[1, 0::2], block[1, 1::2] = r * (mid0 - side0), r * (mid1 - side1)
    return audio
