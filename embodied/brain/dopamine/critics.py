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

Two opt-in aids for rare rewards (both off by default; ``embodied train``'s defaults use neither):

* **replayed critic updates** (:class:`CriticReplay`): the agent keeps the latent features and
  reward vectors it saw and, after each rollout, takes extra critic steps on λ-returns computed
  over sequences sampled from that memory — DreamerV3 (Hafner et al. 2023) trains its critic
  on many replayed (there: imagined-from-replay) sequences per collected step. Features are
  stored as the world model produced them at collection time, so old ones are slightly stale;
  a bounded capacity keeps them recent.
* **per-channel return normalisation** (``return_norm``): channel c's loss is divided by
  ``max(σ_c, σ_min)²`` with ``σ_c² ← σ_c² + η (Var_batch(G^λ_c) − σ_c²)`` a running variance
  of its λ-returns — the adaptive target rescaling of Pop-Art (van Hasselt et al. 2016,
  "Learning values across many orders of magnitude"), here applied to the loss only so the
  heads keep predicting raw returns. Without it the large dense novelty/coherence returns
  dominate the shared trunk's gradient and the rare food return is fitted last.
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from embodied.brain.dopamine.rules import expectile_loss, head_spread, lambda_returns, precision_weighted, td_error
from embodied.brain.nets import mlp


class ChannelCritics(nn.Module):
    """Value heads ``[..., C, K]`` for C channels and K expectiles, with their optimiser."""

    def __init__(
        self,
        feature_dim: int,
        channels: Sequence[str],
        taus: Sequence[float],
        units: int = 128,
        lr: float = 3e-4,
        gamma: float = 0.97,
        lam: float = 0.9,
        precision_eps: float = 0.1,
        slow_rate: float = 0.02,
        return_norm: bool = False,
        norm_rate: float = 0.01,
        norm_floor: float = 0.01,
        device="cpu",
    ):
        super().__init__()
        taus = sorted(float(t) for t in taus)
        if 0.5 not in taus:
            taus = sorted(taus + [0.5])
        self.channels, self.gamma, self.lam = list(channels), gamma, lam
        self.precision_eps, self.slow_rate = precision_eps, slow_rate
        self.return_norm, self.norm_rate, self.norm_floor = bool(return_norm), float(norm_rate), float(norm_floor)
        if self.return_norm:  # running variance of each channel's λ-returns (−1: not seen yet); saved with the weights
            self.register_buffer("return_var", torch.full((len(self.channels),), -1.0))
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

    def rpe(
        self, reward: np.ndarray, value: np.ndarray, next_value: np.ndarray, spread: np.ndarray, done=0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(δ, precision-weighted δ)`` per channel (numpy, [..., C])."""
        delta = td_error(reward, value, next_value, self.gamma, done)
        return delta, precision_weighted(delta, spread, self.precision_eps)

    def loss(
        self, features: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Expectile loss on λ-returns over a rollout.

        ``features [T+1, B, F]`` (s_0 .. s_T), ``rewards [T, B, C]`` (r_t for s_t -> s_{t+1}),
        ``discounts [T, B]`` (γ(1 − done_t)), ``mask [T, B]`` (1 where the transition is real).
        Returns ``(loss, returns [T, B, C], values [T, B, C])``; returns are detached.
        """
        with torch.no_grad():
            slow_values = self.heads(features, slow=True)[..., self.mean_head]  # [T+1, B, C]
            returns = lambda_returns(rewards, slow_values, discounts[..., None].expand_as(rewards), self.lam)
        pred = self.heads(features[:-1])  # [T, B, C, K]
        valid = mask.bool()
        if not bool(valid.any()):
            loss = pred.sum() * 0.0
        elif not self.return_norm:  # mean over heads and real transitions, summed over channels
            loss = expectile_loss(pred[valid], returns[valid], self.taus) * len(self.channels)
        else:  # each channel's loss in units of its own return scale
            scale = self._return_scale(returns[valid])  # [C]
            loss = sum(
                expectile_loss(pred[valid][:, c], returns[valid][:, c], self.taus) / scale[c] ** 2
                for c in range(len(self.channels))
            )
        return loss, returns, pred[..., self.mean_head].detach()

    @torch.no_grad()
    def _return_scale(self, returns: torch.Tensor) -> torch.Tensor:
        """``max(σ_c, σ_min)`` per channel, after one step of the running return variance
        ``σ_c² ← σ_c² + η (Var_batch(G^λ_c) − σ_c²)`` (initialised at the first batch's variance)."""
        batch_var = returns.var(dim=0, unbiased=False) if returns.shape[0] > 1 else torch.zeros_like(self.return_var)
        if bool((self.return_var < 0).any()):
            self.return_var.copy_(batch_var)
        else:
            self.return_var.lerp_(batch_var, self.norm_rate)
        return self.return_var.sqrt().clamp_min(self.norm_floor)

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


class CriticReplay:
    """A bounded memory of what the critics learn from: per env and step, the critic's input
    (``critic_input`` when the record has one, else the latent features),
    the reward vector of the transition into that step and whether the step starts an episode.

    Row layout as in ``Agent.step``'s records: row t's reward belongs to the transition
    t−1 -> t. ``sample`` returns windows of ``seq_len + 1`` consecutive rows of one env that do
    not cross the write head, shaped for :meth:`ChannelCritics.loss`: ``features [L+1, N, F]``,
    ``rewards [L, N, C]`` (rows 1..L) and ``mask [L, N]`` (0 where row t+1 starts an episode, so
    nothing is bootstrapped across episodes).
    """

    def __init__(self, capacity: int, num_envs: int, feature_dim: int, num_channels: int):
        if capacity < 2 or num_envs < 1:
            raise ValueError(
                f"CriticReplay needs capacity >= 2 steps per env and num_envs >= 1, got {capacity}, {num_envs}"
            )
        self.capacity, self.num_envs = int(capacity), int(num_envs)
        self.features = np.zeros((self.capacity, num_envs, feature_dim), np.float32)
        self.rewards = np.zeros((self.capacity, num_envs, num_channels), np.float32)
        self.is_first = np.ones((self.capacity, num_envs), bool)
        self.head, self.size = 0, 0

    def __len__(self) -> int:
        return self.size

    def add(self, records: Sequence[dict]) -> None:
        """Append ``Agent.step`` records (each ``features [B, F]``, ``reward [B, C]``, ``is_first [B]``)."""
        for r in records:
            self.features[self.head] = r.get("critic_input", r["features"])
            self.rewards[self.head] = r["reward"]
            self.is_first[self.head] = r["is_first"]
            self.head = (self.head + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def can_sample(self, seq_len: int) -> bool:
        return self.size >= seq_len + 1

    def sample(self, batch: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(features [L+1, N, F], rewards [L, N, C], mask [L, N])`` for ``batch`` uniform windows."""
        if not self.can_sample(seq_len):
            raise ValueError(f"CriticReplay holds {self.size} steps per env; a window needs {seq_len + 1}")
        oldest = (self.head - self.size) % self.capacity
        starts = oldest + rng.integers(0, self.size - seq_len, size=batch)  # window inside the filled part
        envs = rng.integers(0, self.num_envs, size=batch)
        rows = (starts[None, :] + np.arange(seq_len + 1)[:, None]) % self.capacity  # [L+1, N]
        feats = self.features[rows, envs[None, :]]
        rewards = self.rewards[rows[1:], envs[None, :]]
        mask = (~self.is_first[rows[1:], envs[None, :]]).astype(np.float32)
        return feats, rewards, mask

    def state_dict(self) -> dict:
        """The memory and its write head, as tensors and ints (for an exact resume)."""
        return {
            "features": torch.as_tensor(self.features),
            "rewards": torch.as_tensor(self.rewards),
            "is_first": torch.as_tensor(self.is_first),
            "head": int(self.head),
            "size": int(self.size),
        }

    def fits(self, saved: dict) -> bool:
        """Whether a saved memory has this memory's shape (capacity, envs, input width)."""
        return tuple(saved["features"].shape) == self.features.shape

    def load_state_dict(self, saved: dict) -> None:
        self.features[:], self.rewards[:] = saved["features"].cpu().numpy(), saved["rewards"].cpu().numpy()
        self.is_first[:] = saved["is_first"].cpu().numpy()
        self.head, self.size = int(saved["head"]), int(saved["size"])
