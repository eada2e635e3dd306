"""Polyak-averaged weights of a learned actor (``actor_average``): the policy a checkpoint acts with.

After the n-th update of an actor's live weights θ its average moves

    θ̄ ← θ̄ + w (θ − θ̄),        w = max(1/n, 1 − τ)

a running mean for the first 1/(1−τ) updates, then an exponential average over about that many
(weight averaging for a steadier policy than the last update's: Nikishin et al. 2018, "Improving stability
in deep reinforcement learning with weight averaging"; Polyak & Juditsky 1992). Training acts and learns
with θ; a policy loaded only to act (evaluation, videos) acts with θ̄. Keeping θ̄ draws no random numbers,
so a run trains the same weights θ with or without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class WeightAverage:
    """θ̄ of one actor (every floating tensor of its state dict) and its update count n."""

    weights: dict[str, torch.Tensor] = field(repr=False)
    updates: int = 0

    @classmethod
    def of(cls, actor: nn.Module) -> "WeightAverage":
        """θ̄ := θ: a newborn actor, or a copy whose mutation just changed θ."""
        return cls({k: v.detach().clone() for k, v in actor.state_dict().items()})

    def update(self, actor: nn.Module, tau: float) -> None:
        """One step of the average toward the actor's live weights after its update."""
        self.updates += 1
        weight = max(1.0 / self.updates, 1.0 - tau)
        with torch.no_grad():
            for key, value in actor.state_dict().items():
                if value.is_floating_point():
                    self.weights[key].add_(value - self.weights[key], alpha=weight)

    def entry(self) -> dict:
        """The checkpoint's fields (plain tensors and numbers)."""
        return {"average": dict(self.weights), "updates": int(self.updates)}


def restore(entry: dict, actor: nn.Module, tau: float, acting: bool, device) -> WeightAverage | None:
    """Load a checkpoint's module ``entry`` into ``actor``: θ̄ when ``acting`` and the entry has it (with
    ``tau`` > 0), else θ. Returns the average to keep training with (None when ``tau`` is 0 or the actor
    only acts); an entry written before averaging existed starts it at θ."""
    average = entry.get("average")
    use_average = acting and tau > 0 and average is not None
    actor.load_state_dict(average if use_average else entry["actor"])
    if tau <= 0 or use_average:
        return None
    if average is None:
        return WeightAverage.of(actor)
    return WeightAverage({k: v.detach().clone().to(device) for k, v in average.items()}, int(entry.get("updates", 0)))
