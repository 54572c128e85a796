import numpy as np

from bitstream.trellis import reconstruction_levels
from codec.entropy_model import estimated_bits, fit_tables
from codec.quantizer import quantize, round_to_q0, trellis_quantize


def music_like(seed: int = 0, shape=(4, 24, 128)) -> np.ndarray:
    """Laplacian coefficients whose scale falls with frequency, as in music."""
    rng = np.random.default_rng(seed)
    envelope = np.exp(-np.arange(shape[-1]) / 30.0)
    return rng.laplace(size=shape) * envelope * 3


def cost(coefficients, k, step, lam) -> float:
    error = np.sum((coefficients - reconstruction_levels(k) * step) ** 2)
    return error + lam * estimated_bits(k)


def test_without_a_price_on_bits_the_trellis_packs_its_levels_densely():
    """With lambda = 0 the search minimizes the squared error alone. Either quantizer has
    levels 2 steps apart, so on its own it would leave (2 step)**2 / 12 of error; the
    trellis's choice between them takes that down by its granular gain (about 0.9 dB,
    as trellis-coded quantization promises), though a single coefficient may miss by
    up to 2 steps."""
    coefficients = music_like()
    step = 0.05
    model = fit_tables(np.round(coefficients / (2 * step)).astype(np.int64))
    k = trellis_quantize(coefficients, step, 0.0, model, round_to_q0(coefficients, step))
    error = coefficients - reconstruction_levels(k) * step
    assert np.abs(error).max() <= 2 * step
    busy = np.abs(coefficients) > 10 * step  # where the error is granular, not zeroing
    assert np.mean(error[busy] ** 2) < 0.85 * (2 * step) ** 2 / 12


def test_the_trellis_beats_scalar_rounding_at_its_own_game():
    """Distortion + lambda x bits of the trellis against plain rounding with a step that
    gives the same distortion-rate trade (the dead-zone-free scalar quantizer)."""
    coefficients = music_like(seed=1)
    lam = 0.02
    step = np.sqrt(6 * lam / np.log(2)) * 0.6
    k, _ = quantize(coefficients, step, lam)
    trellis = cost(coefficients, k, step, lam)
    for scalar_step in step * np.linspace(1, 3, 9):
        q = np.round(coefficients / scalar_step).astype(np.int64)
        scalar = np.sum((coefficients - q * scalar_step) ** 2) + lam * estimated_bits(q)
        assert trellis < scalar / 1.03


def test_indices_follow_the_coefficients_signs():
    coefficients = music_like(seed=3)
    k, _ = quantize(coefficients, step=0.02, lam=1e-4)
    assert np.all(k * coefficients >= 0)
