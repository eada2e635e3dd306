"""Reference policies that need no learning: baselines, data collection and demos.

Both read only the observation (the one hard rule), never privileged state.
"""
from __future__ import annotations

import numpy as np


class RandomPolicy:
    """Uniform random actions: the baseline that visits ~2% of a 9×9 maze in 2,000 steps."""

    def __init__(self, action_space, seed: int | None = None):
        self.low, self.high = action_space.low, action_space.high
        self.rng = np.random.default_rng(seed)

    def reset(self, num_envs: int = 1) -> None:
        pass

    def act(self, obs: dict) -> tuple[np.ndarray, dict]:
        return self.rng.uniform(self.low, self.high).astype(np.float32), {}


class WanderPolicy:
    """Run forward, turn away from whisker contacts, and now and then turn at random.

    A Braitenberg-style reflex (Braitenberg 1984) on the rat's own whiskers: turn rate
    ∝ (right contact − left contact), plus a slowly drifting random turn and head sweep.
    """

    def __init__(self, seed: int | None = None, gain: float = 3.0, drift: float = 0.4):
        self.rng = np.random.default_rng(seed)
        self.gain, self.drift = gain, drift
        self._turn = 0.0
        self._t = 0

    def reset(self, num_envs: int = 1) -> None:
        self._turn, self._t = 0.0, 0

    def act(self, obs: dict) -> tuple[np.ndarray, dict]:
        touch = obs["touch"]
        n = (len(touch) - 4) // 2
        left, right = touch[:n], touch[n:2 * n]
        front = max(left[: n // 2].max(initial=0), right[: n // 2].max(initial=0))
        self._t += 1
        self._turn = 0.9 * self._turn + 0.1 * self.rng.normal(0, self.drift * 3)
        turn = np.clip(self.gain * (right.mean() - left.mean()) + self._turn, -1, 1)
        if front > 0.5:  # something right ahead: turn hard, away from the more touched side
            turn = 1.0 if right.sum() >= left.sum() else -1.0
        forward = 1.0 - 0.8 * front
        head = np.sin(self._t / 15.0) * 0.5
        return np.array([forward, turn, head], np.float32), {}
