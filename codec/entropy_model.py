"""A learned density per latent channel: the rate term of training, frozen into tables.

Each channel's latents are modelled by a mixture of logistics; the probability of the
integer ``n`` is the mixture's mass on ``[n - 1/2, n + 1/2]``. During training the same
formula, evaluated at latents plus uniform noise, gives a differentiable bit count.
:meth:`LatentEntropyModel.freeze` turns the densities into the integer frequency tables
that go into the file, so the decoder never evaluates a float probability.

>>> model = LatentEntropyModel(channels=2)
>>> bits = model.bits(torch.zeros(1, 2, 5))
>>> bits.shape, bool(bits.sum() > 0)
(torch.Size([1, 2, 5]), True)
>>> tables = model.freeze(np.array([-3, 0]), np.array([3, 0]))
>>> [table.symbols for table in tables]
[range(-3, 4), range(0, 1)]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bitstream import FrequencyTable

MIN_LIKELIHOOD = 1e-9


def logistic_mass(low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """P(low < X <= high) for a standard logistic X, accurate in both tails."""
    # mirror into the lower tail, where the sigmoid difference keeps its precision
    flip = torch.where(low + high > 0, -1.0, 1.0)
    return (torch.sigmoid(flip * high) - torch.sigmoid(flip * low)).abs()


class LatentEntropyModel(nn.Module):
    """Per-channel mixture of ``components`` logistics over (noisy) integer latents."""

    def __init__(self, channels: int, components: int = 3) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(channels, components))
        self.means = nn.Parameter(torch.linspace(-1, 1, components).repeat(channels, 1))
        self.log_scales = nn.Parameter(torch.zeros(channels, components))

    def likelihood(self, latents: torch.Tensor) -> torch.Tensor:
        """Probability of each value's unit-wide bin; ``latents`` is (batch, channels, steps)."""
        y = latents.unsqueeze(-1)  # (batch, channels, steps, 1) against (channels, 1, K)
        means = self.means[:, None, :]
        inv_scales = torch.exp(-self.log_scales)[:, None, :]
        mass = logistic_mass((y - 0.5 - means) * inv_scales, (y + 0.5 - means) * inv_scales)
        weights = torch.softmax(self.logits, dim=-1)[:, None, :]
        return (mass * weights).sum(-1)

    def bits(self, latents: torch.Tensor) -> torch.Tensor:
        """Bits for each latent value under the model (differentiable)."""
        return -torch.log2(self.likelihood(latents).clamp_min(MIN_LIKELIHOOD))

    def freeze(self, low: np.ndarray, high: np.ndarray) -> list[FrequencyTable]:
        """One integer table per channel c covering the symbols ``low[c]..high[c]``."""
        grid = torch.arange(int(low.min()), int(high.max()) + 1, dtype=torch.float32)
        with torch.no_grad():
            p = self.likelihood(grid.expand(1, len(self.logits), -1))[0].double().numpy()
        start = int(low.min())
        return [
            FrequencyTable.from_probabilities(lo, p[c, lo - start : hi - start + 1])
            for c, (lo, hi) in enumerate(zip(low.tolist(), high.tolist(), strict=True))
        ]
