"""Innate motor programs that read only the whiskers: the reflexes a newborn rat brings.

Each program is batched over envs (``obs`` is a dict of ``[n, …]`` arrays; programs read only
``touch`` and ``scent``) and has a small vector of heritable parameters, so a copied module
can mutate them.

* :class:`WanderProgram` — run, and turn away from touch (a Braitenberg vehicle, Braitenberg
  1984): ``turn = bias + gain·(right − left) + noise``; a wall right ahead turns hard away;
  ``forward = drive·(1 − 0.8·front)``; the head sweeps (whisking the surroundings).
  Params ``[drive, bias, gain, head_amp]``.
* :class:`ChemotaxisProgram` — follow the food odour: steer towards the nostril that smells
  more (tropotaxis, stereo sniffing: Rajan, Clement & Bhalla 2006), ``turn = gain·(L − R)/(L + R)``,
  and turn round when the smell weakens as the rat runs (klinotaxis: the lateral difference
  alone cannot tell ahead from behind). Params ``[gain, drop ratio, drive, unused]``.
* :class:`WallFollowProgram` — thigmotaxis: keep the wall on one side at a set whisker
  proximity (rats hug walls in open fields and mazes: Treit & Fundytus 1988). When the side
  whiskers lose the wall, turn towards that side (into the opening); when the front whiskers
  touch, turn away. In a perfect maze (a tree) this is the classic wall-follower that visits
  every corridor. Params ``[side (+1 left, −1 right), target proximity, gain, drive]``.
"""

from __future__ import annotations

import numpy as np


def split_whiskers(touch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left, right, front) of a touch batch: left/right whiskers front-to-back, front contact."""
    n = (touch.shape[-1] - 4) // 2
    left, right = touch[:, :n], touch[:, n : 2 * n]
    front = np.maximum(left[:, : max(1, n // 4)].max(-1), right[:, : max(1, n // 4)].max(-1))
    return left, right, front


class ReflexProgram:
    """A reflex: a few heritable parameters (a copy may mutate them) and ``act(obs, t, rng)``."""

    kind = "reflex"

    def __init__(self, params):
        self.params = np.asarray(params, dtype=np.float64).copy()

    def act(self, obs: dict, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class WanderProgram(ReflexProgram):
    kind = "wander"

    def act(self, obs: dict, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        drive, bias, gain, head_amp = self.params
        touch = np.asarray(obs["touch"], np.float32)
        left, right, _ = split_whiskers(touch)
        n = left.shape[-1]
        front = np.maximum(left[:, : n // 2].max(-1), right[:, : n // 2].max(-1))
        turn = bias + gain * (right.mean(-1) - left.mean(-1)) + rng.normal(0.0, 0.3, len(touch))
        away = np.where(right.sum(-1) >= left.sum(-1), 1.0, -1.0)
        turn = np.where(front > 0.5, away, np.clip(turn, -1, 1))
        forward = drive * (1.0 - 0.8 * front)
        head = head_amp * np.sin(t / 15.0)
        return np.clip(np.stack([forward, turn, head], -1), -1, 1).astype(np.float32)


class WallFollowProgram(ReflexProgram):
    kind = "wall_follow"

    def act(self, obs: dict, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        side, target, gain, drive = self.params
        side = 1.0 if side >= 0 else -1.0
        left, right, front = split_whiskers(np.asarray(obs["touch"], np.float32))
        wall = left if side > 0 else right
        n = wall.shape[-1]
        lateral = wall[:, n // 3 :].max(-1)  # the side-facing whiskers
        follow = np.clip(side * gain * (target - lateral), -1, 1)  # too far: towards the wall
        blocked, lost = front > 0.35, lateral < 0.02
        turn = np.where(blocked, -side, np.where(lost, 0.9 * side, follow))
        forward = drive * np.where(blocked, 0.1, np.where(lost, 0.6, 1.0))
        return np.clip(np.stack([forward, turn, np.zeros_like(turn)], -1), -1, 1).astype(np.float32)


class ChemotaxisProgram(ReflexProgram):
    kind = "chemotaxis"

    def __init__(self, params):
        super().__init__(params)
        self._previous: np.ndarray | None = None  # last food-odour level per env (a sensory memory)

    def act(self, obs: dict, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        gain, drop, drive, _ = self.params
        scent = np.asarray(obs["scent"], np.float64)
        left_nostril, right_nostril = scent[:, 0], scent[:, 1]  # odour kind 0: food
        level = 0.5 * (left_nostril + right_nostril)
        turn = np.clip(gain * (left_nostril - right_nostril) / (left_nostril + right_nostril + 1e-6), -1, 1)
        forward = np.full(len(scent), drive)
        if self._previous is not None and self._previous.shape == level.shape:
            weaker = level < self._previous * drop
            turn, forward = np.where(weaker, 1.0, turn), np.where(weaker, 0.3 * drive, forward)
        self._previous = level
        left, right, front = split_whiskers(np.asarray(obs["touch"], np.float32))
        blocked = front > 0.35
        turn = np.where(blocked, np.where(right.sum(-1) >= left.sum(-1), 1.0, -1.0), turn)
        forward = np.where(blocked, 0.2 * drive, forward)
        return np.clip(np.stack([forward, turn, np.zeros_like(turn)], -1), -1, 1).astype(np.float32)


#: innate presets: module base name -> (program, parameters)
REFLEX_PRESETS = {
    "forward": [1.0, 0.0, 3.0, 0.5],
    "turn_left": [0.3, 0.8, 1.0, 0.2],
    "turn_right": [0.3, -0.8, 1.0, 0.2],
    "wall_follow_left": [1.0, 0.2, 4.0, 1.0],
    "wall_follow_right": [-1.0, 0.2, 4.0, 1.0],
    "chemotaxis": [120.0, 0.997, 1.0, 0.0],
}


def make_program(base: str, params=None):
    """The reflex program of module base name ``base`` (``wall_follow_*``, ``chemotaxis``, or a wander preset)."""
    cls = (
        WallFollowProgram
        if base.startswith("wall_follow")
        else ChemotaxisProgram
        if base == "chemotaxis"
        else WanderProgram
    )
    return cls(REFLEX_PRESETS.get(base, REFLEX_PRESETS["forward"]) if params is None else params)
