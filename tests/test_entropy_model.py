import numpy as np
import pytest

from bitstream.context import bin_groups, encode_coefficients
from bitstream.entropy import pack_tables
from codec.entropy_model import estimated_bits, fit_tables, index_bits


def ideal_laplace_bits(k: np.ndarray, scale: np.ndarray) -> float:
    """Bits of integers under a discretized Laplace of known scale per index."""

    def cdf(x):
        return np.where(x < 0, 0.5 * np.exp(x / scale), 1 - 0.5 * np.exp(-x / scale))

    return float(-np.log2(cdf(k + 0.5) - cdf(k - 0.5)).sum())


def laplace_indices(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices drawn from Laplacians whose scale differs by channel and bin group."""
    rng = np.random.default_rng(seed)
    envelope = 0.5 ** bin_groups(256).astype(float)  # halving from one bin group to the next
    scale = np.array([8.0, 0.7])[:, None, None] * envelope[None, None, :]
    scale = np.broadcast_to(scale, (2, 100, 256))
    return np.round(rng.laplace(size=scale.shape) * scale).astype(np.int64), scale


def test_fitted_model_codes_close_to_the_true_source():
    """The fitted maps and tables code the indices within a few percent of the true
    model's cost (the tables themselves, a few bytes each, are a fixed cost that long
    songs amortize)."""
    k, scale = laplace_indices()
    model = fit_tables(k)
    assert 8 * len(encode_coefficients(k, model)) <= 1.03 * ideal_laplace_bits(k, scale)
    assert len(pack_tables(model.heads + model.remainders)) <= 12 * len(model.heads)


def test_estimate_matches_the_coder():
    k, _ = laplace_indices(seed=1)
    real = 8 * len(encode_coefficients(k, fit_tables(k)))
    assert abs(estimated_bits(k) / real - 1) < 0.01


def test_an_idle_channel_costs_almost_nothing():
    k, _ = laplace_indices(seed=2)
    quiet = k.copy()
    quiet[1] = 0
    model = fit_tables(quiet)
    bits = 8 * len(encode_coefficients(quiet, model))
    alone = 8 * len(encode_coefficients(quiet[:1], fit_tables(quiet[:1])))
    assert bits - alone < 0.001 * quiet[1].size  # 25,600 zeros for a few bits


def test_bits_per_index_add_up_to_the_estimate_and_the_coder():
    k, _ = laplace_indices(seed=3)
    model = fit_tables(k)
    bits = np.stack(index_bits(k, model))  # a channel's each: here all of one length
    assert bits.shape == k.shape and bits.min() >= 0
    assert bits.sum() == pytest.approx(estimated_bits(k), rel=1e-9)
    assert bits.sum() == pytest.approx(8 * len(encode_coefficients(k, model)), rel=0.01)
    assert bits[k == 0].mean() < bits[np.abs(k) > 4].mean()
