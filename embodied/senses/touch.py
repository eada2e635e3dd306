"""Touch: a whisker array (ray-cast) plus contact force on the body.

Whiskers fan out from a pad either side of the snout, as a rat's macrovibrissae do, each a
ray of ``length`` metres. A whisker reports proximity 1 − hit_fraction (1 = touching at the
base, 0 = nothing within reach). Contacts of the rat's own body are ignored. Body contact
normal forces are summed in four sectors of the torso frame (front, left, back, right) and
squashed as tanh(F / 1 N).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pybullet as p

from ..body.checks import check_int, check_number
from ..body.rat import NECK_HEIGHT, WHISKER_PAD
from .base import Sense, SimView, register_sense


@register_sense
class WhiskerArray(Sense):
    name = "touch"
    order = 1

    def __init__(
        self,
        per_side: int = 8,
        length: float = 0.16,
        spread_deg: tuple[float, float] = (10.0, 110.0),
        force_scale: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_int("touch: per_side", per_side, 1, 64)
        check_number("touch: length", length, 0.0, 1.0, low_open=True, unit="metres")
        check_number("touch: force_scale", force_scale, 0.0, 1e6, low_open=True, unit="newtons")
        for angle in spread_deg:
            check_number("touch: spread_deg", angle, -180.0, 180.0, unit="degrees")
        self.per_side, self.length, self.force_scale = per_side, length, force_scale
        self.angles = np.deg2rad(np.linspace(*spread_deg, per_side))  # front to back
        self._side_angles = np.concatenate([self.angles, -self.angles])  # left (+) then right (−)
        self.height = NECK_HEIGHT - 0.004

    @property
    def space(self) -> gym.spaces.Box:
        return gym.spaces.Box(0.0, 1.0, (2 * self.per_side + 4,), np.float32)

    def rays(self, view: SimView) -> tuple[np.ndarray, np.ndarray]:
        """(from, to) arrays of shape (2·per_side, 3): left whiskers then right."""
        s = view.state
        pads = np.repeat(
            np.stack([s.head_point(WHISKER_PAD[0], WHISKER_PAD[1]), s.head_point(WHISKER_PAD[0], -WHISKER_PAD[1])]),
            self.per_side,
            axis=0,
        )
        angles = s.head_yaw + self._side_angles
        starts = np.empty((2 * self.per_side, 3))
        starts[:, :2], starts[:, 2] = pads, self.height
        ends = starts.copy()
        ends[:, 0] += self.length * np.cos(angles)
        ends[:, 1] += self.length * np.sin(angles)
        return starts, ends

    def whiskers(self, view: SimView) -> np.ndarray:
        starts, ends = self.rays(view)
        hits = p.rayTestBatch(starts.tolist(), ends.tolist(), physicsClientId=view.client)
        return np.array([1.0 - h[2] if h[0] not in (-1, view.rat.body) else 0.0 for h in hits], np.float32)

    def body_force(self, view: SimView) -> np.ndarray:
        sectors = np.zeros(4, np.float32)
        s = view.state
        c, sn = np.cos(s.yaw), np.sin(s.yaw)
        for contact in p.getContactPoints(bodyA=view.rat.body, physicsClientId=view.client):
            dx, dy = contact[5][0] - s.x, contact[5][1] - s.y
            bearing = np.arctan2(-sn * dx + c * dy, c * dx + sn * dy)  # in the torso frame
            sector = int(((bearing + np.pi / 4) % (2 * np.pi)) // (np.pi / 2))  # 0 front, 1 left, 2 back, 3 right
            sectors[sector] += contact[9]
        return np.tanh(sectors / self.force_scale).astype(np.float32)

    def measure(self, view: SimView) -> np.ndarray:
        return np.concatenate([self.whiskers(view), self.body_force(view)])
