"""Building blocks shared by the brain's three parts: an MLP and the symlog squashing.

symlog(x) = sign(x) · log(1 + |x|) and its inverse symexp(x) = sign(x) · (exp(|x|) − 1)
(Hafner et al. 2023, DreamerV3): quantities with different units and scales come into a
similar range without hand-set statistics.
"""

from __future__ import annotations

import torch
from torch import nn


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(torch.abs(x))


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(torch.abs(x))


def mlp(in_dim: int, units: int, layers: int, out_dim: int | None = None) -> nn.Sequential:
    """``layers`` x (Linear, LayerNorm, SiLU), then an optional linear output layer."""
    blocks: list[nn.Module] = []
    dim = in_dim
    for _ in range(layers):
        blocks += [nn.Linear(dim, units), nn.LayerNorm(units), nn.SiLU()]
        dim = units
    if out_dim is not None:
        blocks.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*blocks)
