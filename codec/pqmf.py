"""The filterbank path's designed analysis, and its decoder: mid/side, then four bands
per side at a quarter rate, as the two strided convolutions of the post's encoder shape.

The first layer (2 -> 4 channels, stride 2) takes mid and side, (L +- R) / sqrt(2), split
into even and odd samples; the second (4 -> 8 channels, stride 2) turns each pair into
four bands at a quarter rate with 128-tap cosine-modulated filters whose prototype is
designed for perfect reconstruction (:func:`pqmf_prototype`). Latent channels 0-3 hold
mid, 4-7 side: 2 values per stereo frame, critically sampled. Both layers are
orthonormal, so their adjoints, the same weights as transposed convolutions, invert them
(to about 130 dB in float32): that is the decoder the path starts from and fits to each
song.

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
KERNEL = 64  # of both layers
PADDING = (KERNEL - 2) // 2  # 'same' padding: shapes stay a factor 4 apart
TAPS = 128  # length of the band filters
# latent steps of context a block needs on each side to match the whole track: the
# receptive field of two layers of KERNEL taps, strides 2 and 4 in samples
CONTEXT_STEPS = math.ceil((1 + (KERNEL - 1) * (1 + 2)) / STRIDE) + 1


# the first half of the 128-tap prototype that design_prototype() makes (it is symmetric):
# stored, because the design takes seconds and every command would pay them
PROTOTYPE_HALF = (
    4.104942960371548e-05, 0.00013134081280481344, -0.00016532585694612576,
    -9.946860314061016e-05, 1.2321103740067919e-05, -1.2985320084964103e-05,
    -1.5598240860708215e-05, 1.5072960504819541e-05, -6.12229966993065e-05,
    -1.0306180567055229e-05, 3.475203179546801e-05, 9.169090680514265e-05,
    9.259593960085786e-05, 0.00014701106653926542, 0.0001870447403458135,
    0.00021276215439680425, 0.00010726851526284162, 5.2044022257242156e-05,
    -2.1336910395687643e-05, -0.00015151015000269526, -0.00038551060072047677,
    -0.0005533213442819158, -0.0007173036664251252, -0.000821858108105178,
    -0.0008728950786086433, -0.0006359992967554642, -0.00016969228371629003,
    0.0005297966093508695, 0.0015199258532221196, 0.0024303868479316837,
    0.0030100668491720734, 0.003283950300024288, 0.0028905335505140903,
    0.0016321335985812104, -0.0004204533073811454, -0.0030325237601433663,
    -0.005737082780925104, -0.008004561079204681, -0.009042364013156416,
    -0.008497325863436224, -0.0058896140324590064, -0.0013409772413196794,
    0.0046931185946552, 0.011272817781486706, 0.017085854075003886,
    0.020713526643479387, 0.020944568564277913, 0.016703985010786994,
    0.007930115162954133, -0.004689574196458503, -0.019497528405412332,
    -0.03400178392499043, -0.045173781783117185, -0.04986227099227564,
    -0.04528917949865083, -0.029686238130413614, -0.002515803348044041,
    0.035137723048395623, 0.08060478749085123, 0.12986297167716968,
    0.17800809975796666, 0.21989369921595825, 0.25083642895290476,
    0.2672657614432925,
)  # fmt: skip


def design_prototype(bands: int = 4, taps: int = TAPS) -> np.ndarray:
    """The prototype lowpass of a perfect-reconstruction cosine-modulated filterbank.

    A cosine-modulated bank whose synthesis is the adjoint of its analysis reconstructs
    perfectly when each pair of the prototype's polyphase components (k and bands + k, of
    2 x bands) is power complementary. Starting from a Kaiser-windowed lowpass, least
    squares meets those conditions (to about 1e-9) while keeping as little energy as it
    can beyond 7/10 of a band: the bank reconstructs to about 130 dB in float32, where a
    Kaiser prototype alone stops near 60 dB. Each band falls to -14 dB 1/10 of a band
    past its edge and to -66 dB from 3/10 on, so a tone near a band edge is coded in one
    band, not in two whose aliases must cancel. (64 taps, the bank before, spread a band
    edge over most of the next band: 128 taps gained 0.2 to 0.3 dB BD-SNR on orchestral
    pieces, 0.3 to 0.6 dB above 2 bits/sample, 0.04 to 0.06 dB on dense music.)
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

    stopband = np.linspace(0, np.pi, 1025) > 0.7 * np.pi / bands

    def residuals(half: np.ndarray) -> np.ndarray:
        prototype = np.concatenate([half, half[::-1]])  # linear phase
        leak = np.abs(np.fft.rfft(prototype, 2048))[stopband]
        return np.concatenate([1e6 * polyphase_errors(prototype), leak])

    start = firwin(taps, 0.6 / bands, window=("kaiser", 9.0))
    start *= np.sqrt(taps / (4 * bands * np.sum(start**2)))
    half = least_squares(residuals, start[: taps // 2], xtol=1e-15, ftol=1e-15, gtol=1e-15).x
    return np.concatenate([half, half[::-1]])


def pqmf_prototype() -> np.ndarray:
    """The 128-tap prototype lowpass of the 4-band filterbank (:func:`design_prototype`)."""
    return np.concatenate([PROTOTYPE_HALF, PROTOTYPE_HALF[::-1]])


def pqmf_basis() -> np.ndarray:
    """(taps, bands) analysis filters of the cosine-modulated filterbank.

    Each filter keeps all but about 3e-7 of its energy within a quarter band of its own
    band, where the 8-tap MDCT filterbank of the same shape leaks 5-10 %: a tone is
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
    basis = pqmf_basis()  # latent t's filters cover samples 4t - 62 .. 4t + 65
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
