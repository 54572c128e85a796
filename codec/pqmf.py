"""The filterbank path's designed analysis, and its decoder: mid/side, then four bands
per side at a quarter rate, as the two strided convolutions of the post's encoder shape.

The first layer (2 -> 4 channels, stride 2) takes mid and side, (L +- R) / sqrt(2), split
into even and odd samples; the second (4 -> 8 channels, stride 2) turns each pair into
four bands at a quarter rate with 256-tap cosine-modulated filters whose prototype is
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
KERNEL = 128  # of both layers
PADDING = (KERNEL - 2) // 2  # 'same' padding: shapes stay a factor 4 apart
TAPS = 256  # length of the band filters
# latent steps of context a block needs on each side to match the whole track: the
# receptive field of two layers of KERNEL taps, strides 2 and 4 in samples
CONTEXT_STEPS = math.ceil((1 + (KERNEL - 1) * (1 + 2)) / STRIDE) + 1


# the first half of the 256-tap prototype that design_prototype() makes (it is symmetric):
# stored, because the design takes seconds and every command would pay them
PROTOTYPE_HALF = (
    9.586961651244922e-07, -8.34556782067915e-06, 2.4773949381732874e-05,
    2.2577359468601208e-05, -2.5302787091966662e-05, -2.1434482144921198e-05,
    -2.2157601557784683e-05, -3.931059553157055e-05, 3.01624310777758e-05,
    -1.5245663066694086e-07, 4.641108789269696e-05, -5.097377287535132e-07,
    4.457115249939914e-05, 2.8206020124687067e-05, -4.960967213626586e-05,
    -2.1821312474389157e-05, -6.180812511439072e-06, 3.742548084998819e-06,
    2.820951915705182e-05, -1.0238531324502166e-05, 1.2276743883550814e-05,
    -4.418593980435761e-05, -4.432500789721717e-05, -5.918005651006249e-05,
    -2.9869469800585632e-05, 1.671590522834157e-05, -8.776973072536873e-06,
    4.435081001691817e-05, 8.423488232801422e-05, 8.881785178987835e-05,
    9.434645112498929e-05, 4.7082771393788446e-05, 5.378166590344409e-05,
    -1.7793673556130576e-05, -3.820146259807934e-05, -6.771183509741504e-05,
    -0.00015066203752036532, -0.00014217571842333113, -0.00013037690998506248,
    -9.718585436673838e-05, -9.727255412867582e-05, -3.885241885290222e-05,
    2.7069163965448764e-05, 9.751769978508786e-05, 0.00017362609810276655,
    0.00024311011495312828, 0.00028392878415235137, 0.00029390106394264513,
    0.0002796975638830869, 0.00018843992068297367, 5.2876066677326875e-05,
    -0.00013798711419263964, -0.00032415009411444274, -0.0005214258803304119,
    -0.0006835584704084842, -0.0007248830914675492, -0.0006651774693805011,
    -0.0004516265944754375, -0.00012237344756594213, 0.0002979673192103168,
    0.0007721352674461381, 0.001167733232892955, 0.0014521451749753447,
    0.0015013521750809476, 0.0012603953196815222, 0.0007775538475214823,
    3.0002514677260966e-05, -0.0008117452400786677, -0.0016953539786990998,
    -0.002380500933614681, -0.0027232312862768334, -0.0026554399231556586,
    -0.002044393558258146, -0.0010018568711728628, 0.00042635652227638324,
    0.001966090734648028, 0.0033231170700425126, 0.00433165508349262,
    0.004635359032421594, 0.004173549927447976, 0.002888474976168803,
    0.0008885130456549607, -0.0015082879156578205, -0.00398145691553486,
    -0.005995437332373409, -0.00722794938208202, -0.0073266225330561804,
    -0.006094918011692352, -0.003619292956091784, -0.0002033097388556237,
    0.00362875862125618, 0.007293250021065181, 0.010171711234678672,
    0.01150465457498979, 0.011015700369595307, 0.008459926875979983,
    0.00414506272520691, -0.001477733860801065, -0.007544637935438672,
    -0.01298115702680831, -0.01677121118560791, -0.018065253618547265,
    -0.01624813785077297, -0.011371766542641538, -0.0037995310676105444,
    0.005394022049623704, 0.01484279059554056, 0.02292802589607469,
    0.02801950370152609, 0.028834561747933488, 0.02462054669361785,
    0.015317541846108566, 0.0017976807081805032, -0.01429198330617542,
    -0.030587750982291065, -0.04431361304717447, -0.05262586604430808,
    -0.052989035965426666, -0.04358246691060185, -0.023611622689404706,
    0.006508851529386621, 0.04509053355030691, 0.08929459399865142,
    0.13540675628952883, 0.17923910304287202, 0.21660870159963536,
    0.24383330387451257, 0.25817501416639005,
)  # fmt: skip


def design_prototype(bands: int = 4, taps: int = TAPS) -> np.ndarray:
    """The prototype lowpass of a perfect-reconstruction cosine-modulated filterbank.

    A cosine-modulated bank whose synthesis is the adjoint of its analysis reconstructs
    perfectly when each pair of the prototype's polyphase components (k and bands + k, of
    2 x bands) is power complementary. Starting from a Kaiser-windowed lowpass, least
    squares meets those conditions (to about 1e-9) while keeping as little energy as it
    can beyond 6/10 of a band: the bank reconstructs to about 128 dB in float32, where a
    Kaiser prototype alone stops near 60 dB. Each band filter keeps all but 5e-7 of its
    energy within a tenth of a band of its band, so a tone near a band edge is coded in
    one band, not in two whose aliases must cancel. At high rates that is what tonal
    music needs: MDCT+EC's coder on this bank and on a plain MDCT of the same tiling (20 s
    excerpts, 2 to 4 bits/sample) loses 0.21 dB to the plain MDCT on nunc_dimittis, where
    the 128-tap bank before (1.5e-3 beyond a tenth of a band) lost 0.52, and 64 taps
    before that more. Designing the 256 taps takes seconds; the codec uses stored ones.
    """
    from scipy.optimize import least_squares  # only to design: the codec uses the stored one
    from scipy.signal import firwin

    m = taps // (2 * bands)
    stopband = np.flatnonzero(np.linspace(0, np.pi, 1025) > 0.6 * np.pi / bands)
    # d F(w) / d p[n] = exp(-i w n): the response's derivative at each stopband bin
    phasors = np.exp(-2j * np.pi * np.outer(stopband, np.arange(taps)) / 2048)

    def whole(half: np.ndarray) -> np.ndarray:
        return np.concatenate([half, half[::-1]])  # linear phase

    def residuals(half: np.ndarray) -> np.ndarray:
        g = whole(half).reshape(m, 2 * bands).T
        errors = []
        for k in range(bands):
            pair = np.correlate(g[k], g[k], "full") + np.correlate(
                g[bands + k], g[bands + k], "full"
            )
            pair[m - 1] -= 1 / (2 * bands)
            errors.append(pair[m - 1 :])
        leak = np.abs(np.fft.rfft(whole(half), 2048))[stopband]
        return np.concatenate([1e6 * np.concatenate(errors), leak])

    def jacobian(half: np.ndarray) -> np.ndarray:
        """The residuals' exact derivatives: least squares then needs one evaluation per
        step, not one per tap (3.5 s here, where numerical derivatives took 13), and ends
        within 1e-10 of the stored prototype, which they designed."""
        prototype = whole(half)
        g = prototype.reshape(m, 2 * bands).T
        lag, j = np.arange(m)[:, None], np.arange(m)[None, :]
        blocks = []
        for k in range(bands):
            block = np.zeros((m, taps))
            for c in (k, bands + k):
                padded = np.concatenate([np.zeros(m), g[c], np.zeros(m)])
                # d/d g[j] of sum_i g[i + lag] g[i] is g[j - lag] + g[j + lag]
                block[:, np.arange(m) * 2 * bands + c] = padded[m + j - lag] + padded[m + j + lag]
            blocks.append(1e6 * block)
        response = np.fft.rfft(prototype, 2048)[stopband]
        # d|F|/dp = Re(conj(F) dF/dp) / |F|, taken as 0 where F is 0 (a subgradient)
        size = np.abs(response)[:, None]
        leak = np.real(np.conj(response)[:, None] * phasors) / np.where(size > 0, size, np.inf)
        full = np.concatenate([*blocks, leak])
        return full[:, : taps // 2] + full[:, taps // 2 :][:, ::-1]

    start = firwin(taps, 0.6 / bands, window=("kaiser", 9.0))
    start *= np.sqrt(taps / (4 * bands * np.sum(start**2)))
    half = least_squares(residuals, start[: taps // 2], jac=jacobian, method="lm", xtol=1e-15,
                         ftol=1e-15, gtol=1e-15).x  # fmt: skip
    return np.concatenate([half, half[::-1]])


def pqmf_prototype() -> np.ndarray:
    """The 256-tap prototype lowpass of the 4-band filterbank (:func:`design_prototype`)."""
    return np.concatenate([PROTOTYPE_HALF, PROTOTYPE_HALF[::-1]])


def pqmf_basis() -> np.ndarray:
    """(taps, bands) analysis filters of the cosine-modulated filterbank.

    Each filter keeps all but about 1e-7 of its energy within a quarter band of its own
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
    basis = pqmf_basis()  # latent t's filters cover samples 4t - 126 .. 4t + 129
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
    r = np.float32(1 / math.sqrt(2))
    audio = np.empty((2, STRIDE * steps), np.float32)
    for start in range(0, steps, SYNTHESIS_BLOCK):
        stop = min(start + SYNTHESIS_BLOCK, steps)
        # the block and the latents that reach it, zeros beyond the ends (padded a block at
        # a time: a padded copy of all the latents would be as large as the output)
        low, high = start - reach, stop + reach
        window = latents[:, max(low, 0) : min(high, steps)]
        if low < 0 or high > steps:
            window = np.pad(window, ((0, 0), (max(-low, 0), max(high - steps, 0))))
        hidden = transposed_conv1d(window, synthesis, 2, PADDING)
        mid0, mid1, side0, side1 = hidden[:, 2 * reach : 2 * (reach + stop - start)]
        block = audio[:, STRIDE * start : STRIDE * stop]
        block[0, 0::2], block[0, 1::2] = r * (mid0 + side0), r * (mid1 + side1)
        block[1, 0::2], block[1, 1::2] = r * (mid0 - side0), r * (mid1 - side1)
    return audio
