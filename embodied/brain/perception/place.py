"""A place code from self-motion, and an episodic memory of the places visited.

Path integration (dead reckoning) is how a rat keeps track of where it is in the dark: the
entorhinal grid-cell system integrates its own running speed and head turning (McNaughton,
Battaglia, Jensen, Moser & Moser 2006, "Path integration and the neural basis of the 'cognitive
map'"). Here it integrates the rat's own proprioceptive/vestibular readings, nothing else:

    θ̂_{t+1} = θ̂_t + Δt · ω_t
    p̂_{t+1} = p̂_t + Δt · R(θ̂_t) [v_forward, v_lateral]ᵀ

with ω the yaw rate and v the torso-frame velocities of ``obs["proprio"]`` (``embodied.senses.proprio``),
Δt the control period, p̂ and θ̂ zero at each episode's start (an egocentric origin: the rat never
learns where it is in the simulator's frame). Noise in those senses makes p̂ drift, as it does in rats.

The episodic place memory counts visits to place fields (squares of side ``field`` metres over
p̂) within the episode; the count-based bonus ``1 / √n(field)`` (Strehl & Littman 2008; the
pseudo-count form of Bellemare et al. 2016) is the episodic novelty of *places*: spinning or
sitting still raises the count of one field, so the bonus fades, whereas views change while
turning and a view-based memory keeps paying for them.
"""

from __future__ import annotations

import numpy as np

#: where the proprio reading holds the torso-frame velocities and the yaw rate (the sense's layout,
#: ``embodied.senses.proprio.LABELS``; the brain does not import the senses, a test checks they agree)
V_FORWARD, V_LATERAL, YAW_RATE = 0, 1, 2
#: the body's control period in seconds (``embodied.body.rat.CONTROL_DT``; a test checks they agree)
CONTROL_PERIOD = 1 / 30


class PathIntegrator:
    """Per-env dead reckoning from the proprio sense: position estimate (B, 2), heading (B,)."""

    def __init__(self, num_envs: int, dt: float) -> None:
        self.dt = float(dt)
        self.position = np.zeros((num_envs, 2))
        self.heading = np.zeros(num_envs)

    def step(self, proprio: np.ndarray, is_first: np.ndarray) -> np.ndarray:
        """Integrate one step of readings ``proprio (B, 10)`` (the motion that led to this
        observation); an episode's first step restarts at the origin. Returns p̂ (B, 2)."""
        proprio = np.asarray(proprio, np.float64).reshape(len(self.heading), -1)
        first = np.asarray(is_first, bool)
        self.position[first], self.heading[first] = 0.0, 0.0
        moving = ~first
        c, s = np.cos(self.heading), np.sin(self.heading)
        vf, vl = proprio[:, V_FORWARD], proprio[:, V_LATERAL]
        self.position[moving] += self.dt * np.stack([c * vf - s * vl, s * vf + c * vl], -1)[moving]
        self.heading[moving] += self.dt * proprio[moving, YAW_RATE]
        return self.position.copy()


class PlaceMemory:
    """Per-env visit counts of place fields this episode, and the count-based novelty bonus ``n^−p``
    (``power`` p: 0.5 the pseudo-count bonus 1/√n; 1 the 1/n of Kolter & Ng 2009, "Near-Bayesian
    exploration in polynomial time", which fades faster against a running normalisation)."""

    def __init__(self, num_envs: int, field: float, power: float = 0.5) -> None:
        self.field, self.power = float(field), float(power)
        self.counts: list[dict[tuple[int, int], int]] = [{} for _ in range(num_envs)]

    def visit(self, position: np.ndarray, is_first: np.ndarray) -> np.ndarray:
        """Count this step's field for each env (cleared at an episode's first step) and return
        the bonus ``n^−p`` after counting (1 on a first visit). Returns (B,) float32."""
        bonus = np.zeros(len(self.counts), np.float32)
        for b, (x, y) in enumerate(np.asarray(position)):
            if is_first[b]:
                self.counts[b] = {}
            key = (int(np.floor(x / self.field)), int(np.floor(y / self.field)))
            n = self.counts[b].get(key, 0) + 1
            self.counts[b][key] = n
            bonus[b] = 1.0 / np.sqrt(n) if self.power == 0.5 else float(n) ** -self.power  # √: today's exact floats
        return bonus

    def fields_visited(self) -> list[int]:
        return [len(c) for c in self.counts]
