"""Critics: one distributional value head per reward channel (the dopamine system's "V").

Brain word: the ventral striatum's reward *predictions*, one per reward channel, whose
errors are the phasic dopamine vector. For channel c and expectile head k:

* value        ``V_{c,k}(s)`` read from the world model's latent features (detached)
* target       ``G^λ_{c,t} = r_{c,t} + γ(1 − done)[(1 − λ) V_c(s_{t+1}) + λ G^λ_{c,t+1}]``
               (:func:`embodied.brain.dopamine.lambda_returns`, eligibility traces in
               forward view, Sutton 1988), built on the mean head ``τ = ½`` of a slow copy
* loss         ``Σ_c expectile_loss(V_{c,·}(s_t), G^λ_{c,t}, τ)`` — head k converges to the
               τ_k-expectile of the return distribution: optimistic and pessimistic
               predictors (Dabney et al. 2020, Nature 577:671)
* RPE          ``δ_{c,t} = r_{c,t} + γ V_c(s_{t+1}) − V_c(s_t)`` on the mean head
* precision    ``δ / sqrt(spread_c(s_t) + ε)`` with spread the variance across heads
               (:func:`~embodied.brain.dopamine.precision_weighted`, Tobler et al. 2005)

The slow target copy (DreamerV3) keeps the bootstrap from chasing itself.
``channels`` is the reward channel list, or ``("total",)`` for the scalar-dopamine ablation.
"""
from __future__ import annotations

import copy
import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from embodied.brain.dopamine import expectile_loss, head_spread, lambda_returns, precision_weighted, td_error
from embodied.brain.encoders import mlp


class ChannelCritics(nn.Module):
    """Value heads ``[..., C, K]`` for C channels and K expectiles, with their optimiser."""

    def __init__(self, feature_dim: int, channels: Sequence[str], taus: Sequence[float], units: int = 128,
                 lr: float = 3e-4, gamma: float = 0.97, lam: float = 0.9, precision_eps: float = 0.1,
                 slow_rate: float = 0.02, device="cpu"):
        super().__init__()
        taus = sorted(float(t) for t in taus)
        if 0.5 not in taus:
            taus = sorted(taus + [0.5])
        self.channels, self.gamma, self.lam = list(channels), gamma, lam
        self.precision_eps, self.slow_rate = precision_eps, slow_rate
        self.register_buffer("taus", torch.tensor(taus, dtype=torch.float32))
        self.mean_head = taus.index(0.5)
        self.net = mlp(feature_dim, units, 2, len(self.channels) * len(taus))
        nn.init.zeros_(self.net[-1].weight), nn.init.zeros_(self.net[-1].bias)
        self.slow = copy.deepcopy(self.net)
        for p in self.slow.parameters():
            p.requires_grad_(False)
        self.to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, eps=1e-6)

    def heads(self, features: torch.Tensor, slow: bool = False) -> torch.Tensor:
        """All heads ``[..., C, K]``."""
        out = (self.slow if slow else self.net)(features)
        return out.reshape(*out.shape[:-1], len(self.channels), len(self.taus))

    @torch.no_grad()
    def evaluate(self, features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(V [..., C], spread [..., C])``: mean-head value and variance across heads."""
        h = self.heads(features)
        return h[..., self.mean_head].cpu().numpy(), head_spread(h).cpu().numpy()

    def rpe(self, reward: np.ndarray, value: np.ndarray, next_value: np.ndarray, spread: np.ndarray,
            done=0.0) -> tuple[np.ndarray, np.ndarray]:
        """``(δ, precision-weighted δ)`` per channel (numpy, [..., C])."""
        delta = td_error(reward, value, next_value, self.gamma, done)
        return delta, precision_weighted(delta, spread, self.precision_eps)

    def loss(self, features: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor,
             mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Expectile loss on λ-returns over a rollout.

        ``features [T+1, B, F]`` (s_0 .. s_T), ``rewards [T, B, C]`` (r_t for s_t -> s_{t+1}),
        ``discounts [T, B]`` (γ(1 − done_t)), ``mask [T, B]`` (1 where the transition is real).
        Returns ``(loss, returns [T, B, C], values [T, B, C])``; returns are detached.
        """
        with torch.no_grad():
            slow_values = self.heads(features, slow=True)[..., self.mean_head]            # [T+1, B, C]
            returns = lambda_returns(rewards, slow_values, discounts[..., None].expand_as(rewards), self.lam)
        pred = self.heads(features[:-1])                                                 # [T, B, C, K]
        valid = mask.bool()
        if not bool(valid.any()):
            loss = pred.sum() * 0.0
        else:  # mean over heads and real transitions, summed over channels
            loss = expectile_loss(pred[valid], returns[valid], self.taus) * len(self.channels)
        return loss, returns, pred[..., self.mean_head].detach()

    def update(self, loss: torch.Tensor, clip: float = 100.0) -> bool:
        """One guarded optimiser step; False (and no change) when loss or gradient is not finite."""
        self.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            return False
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), clip)
        if not math.isfinite(float(norm)):
            self.optimizer.zero_grad(set_to_none=True)
            return False
        self.optimizer.step()
        with torch.no_grad():
            for slow, fast in zip(self.slow.parameters(), self.net.parameters()):
                slow.lerp_(fast, self.slow_rate)
        return True
