"""Proprioception, vestibular sense and efference copy.

[forward velocity, lateral velocity (torso frame, m/s), yaw rate (rad/s), head angle (rad),
head angular velocity (rad/s), forward and lateral acceleration (torso frame, m/s², finite
difference over one step: the vestibular signal), last action ×3 (efference copy)].
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from .base import Sense, SimView, register_sense

LABELS = (
    "v_forward",
    "v_lateral",
    "yaw_rate",
    "head_angle",
    "head_rate",
    "a_forward",
    "a_lateral",
    "act_forward",
    "act_turn",
    "act_head",
)
#: physical bounds of each reading (readings are clipped to them; a collision can spike acceleration)
BOUNDS = np.array([3.0, 3.0, 20.0, 1.2, 30.0, 60.0, 60.0, 1.0, 1.0, 1.0], np.float32)


@register_sense
class Proprioception(Sense):
    name = "proprio"
    order = 2

    @property
    def space(self) -> gym.spaces.Box:
        return gym.spaces.Box(-BOUNDS, BOUNDS, (len(LABELS),), np.float32)

    def measure(self, view: SimView) -> np.ndarray:
        s = view.state
        v = s.body_velocity()
        if view.prev_state is None:
            acc = np.zeros(2)
        else:  # both velocities in the current torso frame
            pv = view.prev_state
            c, sn = np.cos(s.yaw), np.sin(s.yaw)
            prev = np.array([c * pv.vx + sn * pv.vy, -sn * pv.vx + c * pv.vy])
            acc = (v - prev) / view.dt
        reading = np.array(
            [v[0], v[1], s.yaw_rate, s.head_angle, s.head_rate, acc[0], acc[1], *view.last_action], np.float32
        )
        return np.clip(reading, -BOUNDS, BOUNDS)
