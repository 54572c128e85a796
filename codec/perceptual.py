"""A listener's score beside SNR: ViSQOL v3 in audio mode, a MOS-LQO from 1 to about 4.73.

SNR counts the error, not whether it is heard: a codec that fills what it cannot afford
with noise of the right level loses SNR and sounds better. ViSQOL (Google's Virtual Speech
Quality Objective Listener; here ``visqol-python``, a pure-Python port with its SVR model
bundled) compares gammatone spectrograms of the reference and the degraded audio patch by
patch and maps their similarity to a mean opinion score; identical audio scores 4.73.

Audio mode is fitted at 48 kHz, so both signals are resampled to it (scipy's polyphase
resampler); stereo is scored as its mono mix, ViSQOL's own way with stereo files. The
package is optional (``pip install -e ".[perceptual]"``) and imported only when a score is
asked for; the benchmark and ``sae compress --score`` both score through here.

>>> t = np.arange(2 * 8000) / 8000
>>> clean = np.sin(2 * np.pi * 440 * t)[:, None] * [0.3, 0.2]
>>> noisy = clean + 0.05 * np.random.default_rng(0).standard_normal(clean.shape)
>>> round(visqol_mos(clean, clean, 8000), 2), visqol_mos(clean, noisy, 8000) < 4.5
(4.73, True)
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os

import numpy as np
from scipy.signal import resample_poly

RATE = 48000  # what ViSQOL's audio mode is fitted at
MIN_SECONDS = 1.0  # ViSQOL's patches need about this much audio (0.96 s at 48 kHz)
SCORE_SECONDS = 20.0  # how much of a track is scored: 20 s take 2 to 4 s on 2 cores
PACKAGE, MODULE = "visqol-python", "visqol"  # what is installed, and what is imported
MISSING = f"the ViSQOL score needs the {PACKAGE} package (pip install {PACKAGE})"


class ScoreError(ValueError):
    """Audio that ViSQOL cannot score (too short, or a silent reference)."""


class ScorerMissing(ImportError):
    """The optional ViSQOL package is not installed."""


def check_available() -> None:
    """Raise :class:`ScorerMissing` (one line, saying how to install it) unless the
    package is installed; imports nothing."""
    if importlib.util.find_spec(MODULE) is None:
        raise ScorerMissing(MISSING)


def scorer_version() -> str:
    """The package and version that scores, e.g. ``visqol-python 3.8.0``."""
    try:
        return f"{PACKAGE} {importlib.metadata.version(PACKAGE)}"
    except importlib.metadata.PackageNotFoundError:
        raise ScorerMissing(MISSING) from None


def middle(frames: int, rate: int, seconds: float = SCORE_SECONDS) -> slice:
    """The middle ``seconds`` of ``frames`` (all of them if shorter): what is scored.

    >>> middle(60 * 48000, 48000)
    slice(960000, 1920000, None)
    >>> middle(1000, 48000)
    slice(0, 1000, None)
    """
    length = min(frames, round(seconds * rate))
    start = (frames - length) // 2
    return slice(start, start + length)


def visqol_mos(reference: np.ndarray, decoded: np.ndarray, rate: int) -> float:
    """ViSQOL's MOS-LQO of ``decoded`` against ``reference``, both (frames,) or (frames,
    channels) at ``rate``, trimmed to the shorter; :class:`ScoreError` for audio it
    cannot score. No alignment beyond ViSQOL's own: pass audio that lines up."""
    mixes = [np.asarray(x, np.float64) for x in (reference, decoded)]
    mixes = [x.mean(axis=1) if x.ndim == 2 else x for x in mixes]
    frames = min(len(x) for x in mixes)
    if frames < MIN_SECONDS * rate:
        raise ScoreError(f"ViSQOL needs at least {MIN_SECONDS:g} s of audio")
    if not np.any(mixes[0][:frames]):
        raise ScoreError("ViSQOL cannot score against a silent reference")
    ref, deg = (x[:frames] if rate == RATE else resample_poly(x[:frames], RATE, rate)
                for x in mixes)  # fmt: skip
    with np.errstate(all="ignore"):  # a silent decoded signal: NaN, said below
        mos = float(_api().measure_from_arrays(ref, deg, RATE).moslqo)
    if not np.isfinite(mos):
        raise ScoreError("ViSQOL gave no score (is the decoded audio silent?)")
    return mos


@functools.cache
def _api():
    """ViSQOL in audio mode with its bundled model, made once per process."""
    layer = os.environ.get("NUMBA_THREADING_LAYER")
    try:
        from visqol import VisqolApi
    except ImportError:
        raise ScorerMissing(MISSING) from None
    finally:
        # visqol picks numba's threading layer for the whole process as it is imported:
        # undo that, so the codec's compiled loops run as they do without it
        if layer is None:
            os.environ.pop("NUMBA_THREADING_LAYER", None)
        else:
            os.environ["NUMBA_THREADING_LAYER"] = layer
    api = VisqolApi()
    api.create(mode="audio")
    return api
