"""Recurrent state-space model (RSSM): the rat's recurrent latent state ("place memory").

State s_t = (h_t, z_t): h_t deterministic (a GRU), z_t stochastic (``groups`` categorical
variables of ``classes`` classes each, sampled one-hot with straight-through gradients).

    h_t      = GRU(h_{t-1}, [z_{t-1}, a_{t-1}])                      (sequence model)
    prior    p(z_t | h_t)        = Cat(logits = MLP(h_t))              (dynamics predictor)
    posterior q(z_t | h_t, e_t)  = Cat(logits = MLP([h_t, e_t]))       (representation)

with e_t the fused per-sense embeddings of o_t. Source: Hafner et al. 2019 (PlaNet),
2021 (DreamerV2: categorical latents, KL balancing), 2023 (DreamerV3: 1 % unimix, free bits).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from embodied.brain.nets import mlp


@dataclass
class LatentState:
    """The recurrent latent state for a batch: ``deter`` (B, D) and one-hot ``stoch`` (B, G, C)."""

    deter: torch.Tensor
    stoch: torch.Tensor
    #: the model's percept of the present observation per sense, in its comparison space
    #: (the real one after ``observe``, the predicted one after ``predict``); next-step
    #: predictions are residuals on it. None inside imagination, which needs only features.
    percept: dict | None = None
    #: per-sense embeddings of the observation this state saw (set by ``observe``; intrinsic
    #: rewards reuse them instead of encoding the frame again)
    embeds: dict | None = None
    #: per vector sense, the percept's change over the last step (o_t - o_{t-1}, zero at an
    #: episode start), in the comparison space; the vector next-step heads read it
    change: dict | None = None
    #: the (prior, posterior) log-probabilities (B, G, C) of the filter step that made this state
    #: (set by ``observe``): the intrinsic rewards reuse them instead of running the same heads again
    logits: tuple | None = None

    @property
    def features(self) -> torch.Tensor:
        """[h, flatten(z)]: what decoders, the policy and the critics read."""
        return torch.cat([self.deter, self.stoch.flatten(-2)], -1)

    def _map(self, fn) -> "LatentState":
        percept = None if self.percept is None else {k: fn(v) for k, v in self.percept.items()}
        embeds = None if self.embeds is None else {k: fn(v) for k, v in self.embeds.items()}
        change = None if self.change is None else {k: fn(v) for k, v in self.change.items()}
        logits = None if self.logits is None else tuple(fn(v) for v in self.logits)
        return LatentState(fn(self.deter), fn(self.stoch), percept, embeds, change, logits)

    def detach(self) -> "LatentState":
        return self._map(lambda t: t.detach())

    def to(self, device) -> "LatentState":
        return self._map(lambda t: t.to(device))

    def __getitem__(self, index) -> "LatentState":
        return self._map(lambda t: t[index])

    @staticmethod
    def stack(states: list["LatentState"], dim: int = 1) -> "LatentState":
        return LatentState(torch.stack([s.deter for s in states], dim), torch.stack([s.stoch for s in states], dim))


class RSSM(nn.Module):
    def __init__(
        self, embed_dim: int, action_dim: int, deter: int, groups: int, classes: int, hidden: int, unimix: float
    ) -> None:
        super().__init__()
        self.deter_dim, self.groups, self.classes, self.unimix = deter, groups, classes, unimix
        self.img_in = nn.Sequential(nn.Linear(groups * classes + action_dim, hidden), nn.LayerNorm(hidden), nn.SiLU())
        self.gru = nn.GRUCell(hidden, deter)
        self.prior_net = mlp(deter, hidden, 1, groups * classes)
        self.post_net = mlp(deter + embed_dim, hidden, 1, groups * classes)

    @property
    def feature_dim(self) -> int:
        return self.deter_dim + self.groups * self.classes

    def initial(self, batch: int, device) -> LatentState:
        return LatentState(
            torch.zeros(batch, self.deter_dim, device=device),
            torch.zeros(batch, self.groups, self.classes, device=device),
        )

    def _logits(self, raw: torch.Tensor) -> torch.Tensor:
        """Mix 1 % uniform into the probabilities (DreamerV3) so KL terms stay finite."""
        probs = F.softmax(raw.reshape(*raw.shape[:-1], self.groups, self.classes), -1)
        probs = (1 - self.unimix) * probs + self.unimix / self.classes
        return torch.log(probs)

    def sample(self, logits: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """One-hot sample (or mode) with straight-through gradients."""
        probs = logits.exp()
        if sample:  # Gumbel-max: a categorical sample that stays defined (not raising) on NaN input
            gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp(1e-20, 1.0)).clamp(min=1e-20))
            index = (logits.detach() + gumbel).argmax(-1)
        else:
            index = probs.argmax(-1)
        onehot = F.one_hot(index, self.classes).to(probs.dtype)
        return onehot + probs - probs.detach()

    def reset_where(
        self, state: LatentState, action: torch.Tensor, is_first: torch.Tensor
    ) -> tuple[LatentState, torch.Tensor]:
        """Zero the state and previous action where an episode starts."""
        keep = (~is_first).to(state.deter.dtype)
        return LatentState(state.deter * keep[:, None], state.stoch * keep[:, None, None]), action * keep[:, None]

    def img_step(
        self, state: LatentState, action: torch.Tensor, sample: bool = True
    ) -> tuple[LatentState, torch.Tensor]:
        """Prior step: (s_{t-1}, a_{t-1}) -> (h_t, z_t ~ p(z_t | h_t)); returns (state, prior logits)."""
        x = self.img_in(torch.cat([state.stoch.flatten(-2), action], -1))
        deter = self.gru(x, state.deter)
        logits = self._logits(self.prior_net(deter))
        return LatentState(deter, self.sample(logits, sample)), logits

    def obs_step(
        self, deter: torch.Tensor, embed: torch.Tensor, sample: bool = True
    ) -> tuple[LatentState, torch.Tensor]:
        """Posterior: (h_t, e_t) -> z_t ~ q(z_t | h_t, e_t); returns (state, posterior logits)."""
        logits = self.posterior_logits(deter, embed)
        return LatentState(deter, self.sample(logits, sample)), logits

    def posterior_logits(self, deter: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        """log q(z_t | h_t, e_t) per group and class (unimix applied), without sampling."""
        return self._logits(self.post_net(torch.cat([deter, embed], -1)))


def categorical_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) summed over groups, for log-probability tensors (..., G, C)."""
    return (logits_p.exp() * (logits_p - logits_q)).sum(-1).sum(-1)
