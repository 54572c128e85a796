import numpy as np
import torch

from bitstream import encode_symbols
from codec.entropy_model import LatentEntropyModel, logistic_mass


def test_logistic_mass_is_accurate_in_both_tails():
    # P(30 < X <= 31) = e^-30 (1 - e^-1) to float precision; plain sigmoid differences give 0
    mass = logistic_mass(torch.tensor([30.0, -31.0]), torch.tensor([31.0, -30.0]))
    np.testing.assert_allclose(mass.numpy(), np.exp(-30) * (1 - np.exp(-1)), rtol=1e-4)


def test_integer_probabilities_sum_to_one():
    torch.manual_seed(0)
    model = LatentEntropyModel(channels=4)
    with torch.no_grad():
        model.means.normal_(0, 3)
        model.log_scales.normal_(0, 1)
    grid = torch.arange(-200, 201, dtype=torch.float32).expand(1, 4, -1)
    torch.testing.assert_close(model.likelihood(grid).sum(-1), torch.ones(1, 4))


def test_frozen_tables_code_within_the_model_estimate(fitted, stereo):
    """The coder really writes what the frozen tables promise, and the tables (renormalized
    to the symbols that occur) cost no more than the learned model estimated."""
    model, entropy = fitted
    audio = torch.from_numpy((stereo / np.sqrt(np.mean(stereo**2))).T.copy())
    with torch.no_grad():
        latents = torch.round(model.encoder(audio[None]))[0]
    estimate = entropy.bits(latents[None]).sum().item()
    symbols = latents.numpy().astype(np.int32)
    tables = entropy.freeze(symbols.min(axis=1), symbols.max(axis=1))
    real = 8 * len(encode_symbols(list(zip(symbols, tables, strict=True))))
    ideal = sum(table.bits(row) for row, table in zip(symbols, tables, strict=True))
    assert ideal <= real <= 1.01 * ideal + 64
    assert real <= 1.01 * estimate + 64
