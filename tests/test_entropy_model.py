import numpy as np

from bitstream.context import bin_groups, encode_coefficients
from bitstream.entropy import pack_tables
from codec.entropy_model import coding_contexts, coefficients_in_coding_order, fit_context_model


def ideal_laplace_bits(q: np.ndarray, scale: np.ndarray) -> float:
    """Bits of integers under a discretized Laplace of known scale per coefficient."""

    def cdf(x):
        return np.where(x < 0, 0.5 * np.exp(x / scale), 1 - 0.5 * np.exp(-x / scale))

    return float(-np.log2(cdf(q + 0.5) - cdf(q - 0.5)).sum())


def test_fitted_model_codes_close_to_the_true_source():
    """Coefficients drawn from Laplacians whose scale differs by channel and bin group: the
    fitted maps and tables code them within a few percent of the true model's cost (the
    tables themselves, a few bytes each, are a fixed cost that long songs amortize)."""
    rng = np.random.default_rng(0)
    envelope = 0.5 ** bin_groups(256).astype(float)  # halving from one bin group to the next
    scale = np.array([8.0, 0.7])[:, None, None] * envelope[None, None, :]
    scale = np.broadcast_to(scale, (2, 100, 256))
    q = np.round(rng.laplace(size=scale.shape) * scale).astype(np.int64)
    model = fit_context_model(q)
    assert 8 * len(encode_coefficients(q, *model)) <= 1.03 * ideal_laplace_bits(q, scale)
    assert len(pack_tables(model.tables)) <= 20 * len(model.tables)


def test_contexts_follow_the_coding_order():
    q = np.arange(2 * 5 * 8).reshape(2, 5, 8)
    channel, group, passes, bucket = coding_contexts(q)
    ordered = coefficients_in_coding_order(q)
    assert sorted(ordered.tolist()) == list(range(80))
    assert len(channel) == len(group) == len(passes) == len(bucket) == 80
    assert passes.tolist() == sorted(passes.tolist())
    assert set(channel[ordered < 40].tolist()) == {0}
