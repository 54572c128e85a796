import numpy as np
import pytest

from bitstream.filterbank import frame_count as frames_in_the_format
from codec import transform
from codec.transform import frame_count, imdct, mdct


@pytest.mark.parametrize("hop", [2, 4, 64, 512])
@pytest.mark.parametrize("length", [1, 5, 64, 1000])
def test_perfect_reconstruction(hop, length):
    x = np.random.default_rng(length).standard_normal((2, length))
    coefficients = mdct(x, hop)
    assert coefficients.shape == (2, frame_count(length, hop), hop)
    assert frames_in_the_format(length, hop) == frame_count(length, hop)  # what files hold
    np.testing.assert_allclose(imdct(coefficients, length), x, atol=1e-10)


def test_orthonormal_energy_and_frequency_resolution():
    hop = 256
    t = np.arange(64 * hop)
    tone = np.sin(2 * np.pi * 40.5 / (2 * hop) * t)  # the centre of bin 40
    coefficients = mdct(tone, hop)
    np.testing.assert_allclose(np.sum(coefficients**2), np.sum(tone**2), rtol=1e-9)
    middle = coefficients[10:-10]
    assert np.all(np.argmax(np.abs(middle), axis=1) == 40)
    assert np.sum(middle[:, 38:43] ** 2) > 0.99 * np.sum(middle**2)


def test_inverting_a_block_of_frames_at_a_time_changes_no_bit(monkeypatch):
    x = np.random.default_rng(0).standard_normal((2, 5000))
    coefficients = mdct(x, 64)
    whole = imdct(coefficients, 5000)
    monkeypatch.setattr(transform, "IMDCT_BLOCK", 3 * 64)  # three frames a block
    assert np.array_equal(imdct(coefficients, 5000), whole)
