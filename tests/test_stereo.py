import numpy as np
import pytest

from bitstream.filterbank import ANGLE_UNIT, read_segment
from bitstream.sae import read_segments
from codec import compress, decompress, describe, snr_db, stereo
from codec.paths.framing import choose_rotation
from codec.stereo import angle_curve, knot_count, principal_angles, rotate


def panned(steps: int, start: float, stop: float, seed: int = 0) -> np.ndarray:
    """Latents (8, steps): in each band a noise panned from angle ``start`` to ``stop``
    (radians from the mid axis) over the steps, and a little independent noise."""
    rng = np.random.default_rng(seed)
    pan = np.linspace(start, stop, steps)
    source = rng.standard_normal((4, steps)) * np.array([[1.0], [0.5], [0.2], [0.1]])
    mid, side = np.cos(pan) * source, np.sin(pan) * source
    return np.concatenate([mid, side]) + 0.01 * rng.standard_normal((8, steps))


def test_the_knots_follow_a_moving_pan():
    steps = 6 * 8192
    latents = panned(steps, -0.6, 0.6)
    [knots, *_] = principal_angles(latents, knot_count(steps, spacing=8192))
    assert len(knots) == 6
    centres = (np.arange(6) + 0.5) / 6
    np.testing.assert_allclose(np.array(knots) * ANGLE_UNIT, -0.6 + 1.2 * centres, atol=0.02)
    turned = rotate(latents, principal_angles(latents, 6))
    assert np.sum(turned[4:] ** 2) < 0.01 * np.sum(turned[:4] ** 2)  # side nearly empty
    np.testing.assert_allclose(rotate(turned, principal_angles(latents, 6), inverse=True), latents)


def test_a_steady_pan_keeps_one_angle_and_a_moving_one_a_curve():
    steps = 4 * 8192
    for start, stop, expected in ((0.4, 0.4, 1), (-0.6, 0.6, (4, 32))):
        angles, bins = choose_rotation(panned(steps, start, stop), quality=8.0)
        assert all(len(knots) in np.atleast_1d(expected) for knots in angles) and len(bins) == 8
    angles, _ = choose_rotation(panned(steps, 0.0, 0.0), quality=8.0)
    assert all(knots == (0,) or len(knots) == 1 for knots in angles)  # mid and side, or near


def test_the_curve_goes_the_short_way_round_and_holds_at_the_ends():
    quarter = 2**14
    curve = angle_curve((quarter - 10, -quarter + 10), steps=100) / ANGLE_UNIT
    assert curve[0] == pytest.approx(quarter - 10) and curve[-1] == pytest.approx(quarter + 10)
    assert np.all(np.diff(curve) >= 0) and np.ptp(curve) == pytest.approx(20)
    assert np.all(angle_curve((123,), steps=5) == 123 * ANGLE_UNIT)


def test_a_song_whose_pan_moves_is_coded_with_a_curve_and_decodes():
    rate, seconds = 8000, 12  # 24,000 latent steps: 3 knots 8192 apart, or 23 1024 apart
    rng = np.random.default_rng(1)
    t = np.arange(rate * seconds) / rate
    pan = np.pi / 4 + 0.6 * np.sin(2 * np.pi * t / seconds)  # left, right and back
    source = np.convolve(rng.standard_normal(len(t)), np.ones(4) / 4, mode="same")
    audio = np.stack([np.cos(pan) * source, np.sin(pan) * source], axis=1) * 0.3
    audio = (audio + 0.001 * rng.standard_normal(audio.shape)).astype(np.float32)
    data = compress(audio, rate, quality=6.0)
    [segment] = read_segments(data)
    knots = read_segment(segment.sections, segment.header.frames, False).angles
    assert max(len(k) for k in knots) in (3, 23)
    assert f"{max(len(k) for k in knots)} knots, " in describe(data)["stereo_turns"]
    assert snr_db(audio, decompress(data)[0]) > 15


def test_turning_in_place_or_a_block_at_a_time_changes_no_bit(monkeypatch):
    latents = panned(3000, -0.6, 0.6).astype(np.float32)
    angles = principal_angles(latents, 3)
    turned = rotate(latents, angles, inverse=True)
    assert np.array_equal(latents, panned(3000, -0.6, 0.6).astype(np.float32))  # untouched
    monkeypatch.setattr(stereo, "ROTATION_BLOCK", 700)
    assert rotate(latents, angles, inverse=True, in_place=True) is latents
    assert np.array_equal(latents, turned)
