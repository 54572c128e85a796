"""The ViSQOL score (codec/perceptual.py): it ranks as a listener would, and says what it
cannot score."""

import numpy as np
import pytest

from codec import perceptual
from tests.helpers import synthetic_stereo


def test_a_clean_copy_scores_above_a_degraded_one():
    clean = synthetic_stereo(seconds=1.5, rate=16000)
    noise = np.random.default_rng(1).standard_normal(clean.shape).astype(np.float32)
    scores = [perceptual.visqol_mos(clean, clean + level * noise, 16000)
              for level in (0.0, 0.003, 0.3)]  # fmt: skip
    assert scores[0] == pytest.approx(4.73, abs=0.01)  # identical audio
    assert scores[0] > scores[1] > scores[2] and scores[2] < 3


def test_what_visqol_cannot_score_is_a_one_line_error():
    short = synthetic_stereo(seconds=0.5)
    with pytest.raises(perceptual.ScoreError, match="at least 1 s"):
        perceptual.visqol_mos(short, short, 8000)
    silent = np.zeros((8000, 2), np.float32)
    with pytest.raises(perceptual.ScoreError, match="silent reference"):
        perceptual.visqol_mos(silent, silent + 0.01, 8000)


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    perceptual.check_available()  # installed here, by the README's install command
    monkeypatch.setattr(perceptual, "MODULE", "visqol_not_installed")
    with pytest.raises(perceptual.ScorerMissing, match=r"pip install visqol-python\)$"):
        perceptual.check_available()
