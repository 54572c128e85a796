"""The methods the benchmark runs: each codes an excerpt at one setting and decodes it.

A method returns the real size of what it wrote and the audio decoded from those bytes;
:mod:`benchmarks.rd` turns that into bits per sample and aligned SNR.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

import codec
from benchmarks import mdct
from benchmarks.oracle import oracle_curve
from codec.paths import FilterbankPath
from codec.paths.learned import LearnedPath
from codec.settings import FitSettings


@dataclass
class Coded:
    """What one run of a method produced."""

    bytes: int | None  # None where there is no real file (oracle, the post's float latents)
    decoded: np.ndarray | None  # None where the SNR is computed, not decoded (oracle)
    encode_seconds: float
    decode_seconds: float
    bits_per_sample: float | None = None  # set only where ``bytes`` is None
    snr_db: float | None = None  # set only where ``decoded`` is None


@dataclass(frozen=True)
class Method:
    name: str
    label: str  # legend text
    settings: tuple
    run: Callable[[np.ndarray, int, object], Coded]
    sources: tuple[str, ...]  # code its results depend on beyond the runner's (cache key)
    curve: bool = True  # a rate-distortion curve (False: a single reference figure)


def _timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def run_sae(tune: str):
    """A run function for the filterbank path, tuned for the SNR or for a listener."""

    def run(audio: np.ndarray, rate: int, quality: float) -> Coded:
        path = FilterbankPath(tune=tune)
        data, encode_seconds = _timed(lambda: codec.compress(audio, rate, path=path,
                                                             quality=quality))  # fmt: skip
        (decoded, _), decode_seconds = _timed(codec.decompress, data)
        return Coded(len(data), decoded, encode_seconds, decode_seconds)

    return run


def run_learned(arch: str):
    """A run function for the learned path with the architecture ``arch``."""

    def run(audio: np.ndarray, rate: int, quality: float) -> Coded:
        path = LearnedPath(arch)
        data, encode_seconds = _timed(lambda: codec.compress(audio, rate, path=path,
                                                             quality=quality))  # fmt: skip
        (decoded, _), decode_seconds = _timed(codec.decompress, data)
        return Coded(len(data), decoded, encode_seconds, decode_seconds)

    return run


def run_post_mse(audio: np.ndarray, rate: int, iterations: int) -> Coded:
    """The post as written: plain MSE, latents unquantized, so no size: an SNR to compare
    with (fitting and decoding timed together)."""
    settings = replace(FitSettings.of_post(), iterations=iterations)
    decoded, seconds = _timed(lambda: codec.fit_post(audio, settings=settings))
    return Coded(None, decoded, seconds, 0.0, float("nan"))


def run_mdct(audio: np.ndarray, rate: int, relative_step: float) -> Coded:
    """``relative_step``: the quantizer step over the excerpt's RMS, so that one ladder
    spans the same rates on loud and quiet music."""
    audio = audio.astype(np.float64)
    step = relative_step * (float(np.sqrt(np.mean(audio**2))) or 1.0)
    data, encode_seconds = _timed(mdct.encode, audio, step)
    decoded, decode_seconds = _timed(mdct.decode, data)
    if not np.array_equal(decoded, mdct.reconstruct(audio, step)):
        raise RuntimeError("MDCT+EC decoded something other than what it quantized")
    return Coded(len(data), decoded, encode_seconds, decode_seconds)


def run_oracle(audio: np.ndarray, rate: int, theta: float) -> Coded:
    (bits, snr), seconds = _timed(oracle_curve, audio, [theta])
    return Coded(None, None, seconds, 0.0, float(bits[0]), float(snr[0]))


def _soundfile_codec(fmt: str, subtype: str, coding_rate: int | None = None):
    """A run function for a codec libsndfile writes; ``coding_rate`` resamples around it."""

    def run(audio: np.ndarray, rate: int, level: float) -> Coded:
        target = coding_rate or rate

        def encode() -> bytes:
            signal = resample_poly(audio, target, rate, axis=0) if target != rate else audio
            buffer = io.BytesIO()
            kind = "FLAC" if fmt == "FLAC" else fmt
            with sf.SoundFile(
                buffer, "w", target, audio.shape[1], subtype, format=kind, compression_level=level
            ) as out:
                # libsndfile 1.2.2 crashes on long single Vorbis writes: feed it in pieces
                for start in range(0, len(signal), 1 << 16):
                    out.write(np.clip(signal[start : start + (1 << 16)], -1, 1))
            return buffer.getvalue()

        def decode(data: bytes) -> np.ndarray:
            decoded, decoded_rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
            if decoded_rate != rate:
                decoded = resample_poly(decoded, rate, decoded_rate, axis=0)
            return decoded

        data, encode_seconds = _timed(encode)
        decoded, decode_seconds = _timed(decode, data)
        return Coded(len(data), decoded, encode_seconds, decode_seconds)

    return run


# what sae's results depend on: the codec's modules, not its CLI or file handling
# what each method's results depend on (its cache key): the modules it runs
SHARED_SOURCES = ("codec/api.py", "codec/audio.py", "codec/paths/__init__.py",
                  "codec/paths/base.py", "codec/rate.py", "codec/segments.py",
                  "bitstream/container.py", "bitstream/entropy.py", "bitstream/integers.py",
                  "bitstream/sae.py", "bitstream/saem.py", "bitstream/weights.py")  # fmt: skip
FILTERBANK_SOURCES = (*SHARED_SOURCES, "codec/convolutions.py", "codec/entropy_model.py",
                      "codec/kernels.py", "codec/paths/filterbank.py", "codec/pqmf.py",
                      "codec/quantizer.py", "codec/refine.py", "codec/transform.py",
                      "bitstream/context.py", "bitstream/filterbank.py", "bitstream/kernels.py",
                      "bitstream/trellis.py", "codec/noise.py", "bitstream/noise.py",
                      "codec/masking.py", "codec/stereo.py", "codec/paths/framing.py")  # fmt: skip
NETWORK_SOURCES = ("codec/architectures.py", "codec/networks.py", "codec/settings.py",
                   "codec/training.py")  # fmt: skip
# the learned path uses the filterbank's quality scale and stride, constants not results
LEARNED_SOURCES = (*SHARED_SOURCES, *NETWORK_SOURCES, "codec/autoencoder.py",
                   "codec/paths/learned.py", "bitstream/learned.py")  # fmt: skip
LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
# Opus goes lower: 0.95 and 1 give about 0.44 and 0.14 bits/sample, where sae is compared
OPUS_LEVELS = (*LEVELS, 0.95, 1.0)
SAE_QUALITIES = tuple(float(q) for q in range(2, 23, 2))
LEARNED_QUALITIES = (3.0, 5.0, 7.0, 9.0, 11.0)  # five rates: each trains a model

METHODS = {
    m.name: m
    for m in [
        Method("sae", "sae (per-song fit)", SAE_QUALITIES, run_sae("snr"), FILTERBANK_SOURCES),
        Method(
            "sae-listen",
            "sae --tune listen (noise filling, scale factors)",
            SAE_QUALITIES,
            run_sae("listen"),
            FILTERBANK_SOURCES,
        ),
        Method(
            "post",
            "the post's autoencoder, rate-trained per song",
            LEARNED_QUALITIES,
            run_learned("post"),
            LEARNED_SOURCES,
        ),
        Method(
            "signed",
            "signed latents, PReLU, kernels of 8, rate-trained per song",
            LEARNED_QUALITIES,
            run_learned("signed"),
            LEARNED_SOURCES,
        ),
        Method(
            "post-mse",
            "the post's model as written (plain MSE, latents unquantized)",
            (150,),
            run_post_mse,
            (*NETWORK_SOURCES, "codec/audio.py", "codec/post.py"),
            curve=False,
        ),
        Method(
            "mdct",
            "MDCT+EC (MSE transform codec)",
            tuple(2.0**-e for e in range(-1, 11)),  # x RMS: 0.1 to 9 bits/sample
            run_mdct,
            ("benchmarks/mdct.py", "codec/transform.py"),
        ),
        Method(
            "oracle",
            "oracle: reverse water-filling (reference, not a bound)",
            tuple(10.0 ** (-e / 4) for e in range(2, 33)),
            run_oracle,
            ("benchmarks/mdct.py", "benchmarks/oracle.py", "codec/transform.py"),
        ),
        Method(
            "flac",
            "FLAC (lossless)",
            (1.0,),
            _soundfile_codec("FLAC", "PCM_16"),
            (),
            curve=False,
        ),
        Method(
            "opus",
            "Opus at 48 kHz (perceptual)",
            OPUS_LEVELS,
            _soundfile_codec("OGG", "OPUS", 48000),
            (),
        ),
        Method("vorbis", "Vorbis (perceptual)", LEVELS, _soundfile_codec("OGG", "VORBIS"), ()),
        Method("mp3", "MP3 (perceptual)", LEVELS, _soundfile_codec("MP3", "MPEG_LAYER_III"), ()),
    ]
}
