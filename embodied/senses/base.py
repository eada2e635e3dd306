"""What every sense shares: its space, an update interval and additive noise.

A sense is one object (dm_control's "observable"): adding a sense is adding a class, not
editing the env. ``update_every`` > 1 holds the last reading between updates (a slower
sense); ``noise_std`` adds Gaussian noise drawn from the env's generator, clipped to the space.
"""
from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np

from ..body.checks import check_int, check_number
from ..body.rat import BodyState

MAX_NOISE_STD = 100.0  # in units of the reading's range (×255 for images); beyond it a reading is pure noise


@dataclasses.dataclass
class SimView:
    """What senses may read at one step: the client, bodies and the body state."""

    client: int
    rat: object
    arena: object
    odour: object
    state: BodyState
    prev_state: BodyState | None
    last_action: np.ndarray
    dt: float


class Sense:
    name = "sense"

    def __init__(self, noise_std: float = 0.0, update_every: int = 1):
        check_int(f"{self.name}: update_every", update_every, 1, 1_000_000)
        check_number(f"{self.name}: noise_std", noise_std, 0.0, MAX_NOISE_STD)  # NaN noise would poison every reading
        self.noise_std, self.update_every = noise_std, update_every
        self._last: np.ndarray | None = None
        self._count = 0

    @property
    def space(self) -> gym.spaces.Box:
        raise NotImplementedError

    def measure(self, view: SimView) -> np.ndarray:
        """The noiseless reading now; subclasses implement this."""
        raise NotImplementedError

    def reset(self) -> None:
        self._last, self._count = None, 0

    def observe(self, view: SimView, rng: np.random.Generator) -> np.ndarray:
        if self._last is None or self._count % self.update_every == 0:
            reading = self.measure(view)
            if self.noise_std > 0:
                space = self.space
                noisy = reading.astype(np.float32) + rng.normal(0.0, self.noise_std, reading.shape).astype(np.float32) * (
                    255.0 if space.dtype == np.uint8 else 1.0)
                reading = np.clip(noisy, space.low, space.high).astype(space.dtype)
            self._last = reading
        self._count += 1
        return self._last
