"""Vision: egocentric RGB (optionally + depth) from a camera between the rat's eyes.

Rats have a very wide visual field (~300°); a pinhole camera cannot reach that, so the
default is a wide 110° field of view looking along the head. TinyRenderer (CPU) by default;
``renderer="egl"`` only where a GPU is present (on a CPU it falls back to slower software GL).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pybullet as p

from ..body.checks import check_bool, check_int, check_number
from ..body.rat import EYE_OFFSET, NECK_HEIGHT
from .base import Sense, SenseSettings, SimView, register_sense

MIN_PIXELS, MAX_PIXELS = 8, 512


@register_sense
class Vision(Sense):
    name = "vision"
    order = 0

    def __init__(
        self, width: int = 64, height: int = 64, fov: float = 110.0, depth: bool = False, far: float = 10.0, **kwargs
    ):
        super().__init__(**kwargs)
        width = check_int("vision: width (pixels)", width, MIN_PIXELS, MAX_PIXELS)
        height = check_int("vision: height (pixels)", height, MIN_PIXELS, MAX_PIXELS)
        # fov 0 renders an all-white image and 180 an infinite frustum: the pinhole camera needs 0 < fov < 180
        check_number("vision: fov", fov, 0.0, 180.0, low_open=True, high_open=True, unit="degrees")
        check_bool("vision: depth", depth)
        check_number("vision: far", far, 0.1, 1000.0, unit="metres")
        self.width, self.height, self.fov, self.depth, self.near, self.far = width, height, fov, depth, 0.01, far
        self._projection = p.computeProjectionMatrixFOV(fov, width / height, self.near, far)

    @classmethod
    def from_settings(cls, settings: SenseSettings) -> "Vision":
        return cls(
            settings.width,
            settings.height,
            fov=settings.fov,
            depth=settings.depth,
            noise_std=settings.noise.get(cls.name, 0.0),
        )

    @property
    def space(self) -> gym.spaces.Box:
        return gym.spaces.Box(0, 255, (self.height, self.width, 4 if self.depth else 3), np.uint8)

    def camera_pose(self, view: SimView) -> tuple[np.ndarray, np.ndarray]:
        s = view.state
        eye_xy = s.head_point(EYE_OFFSET[0])
        eye = np.array([eye_xy[0], eye_xy[1], NECK_HEIGHT + EYE_OFFSET[1]])
        target = eye + np.array([np.cos(s.head_yaw), np.sin(s.head_yaw), -0.05])
        return eye, target

    def measure(self, view: SimView) -> np.ndarray:
        eye, target = self.camera_pose(view)
        view_matrix = p.computeViewMatrix(eye.tolist(), target.tolist(), [0, 0, 1])
        _, _, rgba, depth, _ = p.getCameraImage(
            self.width,
            self.height,
            view_matrix,
            self._projection,
            renderer=p.ER_TINY_RENDERER,
            flags=p.ER_NO_SEGMENTATION_MASK,
            shadow=0,
            physicsClientId=view.client,
        )
        rgba = np.asarray(rgba, np.uint8).reshape(self.height, self.width, 4)
        if not self.depth:
            return rgba[..., :3].copy()
        buf = np.asarray(depth, np.float32).reshape(self.height, self.width)
        metres = self.far * self.near / (self.far - (self.far - self.near) * buf)  # OpenGL depth linearised
        grey = (255 * np.clip(metres / self.far, 0, 1)).astype(np.uint8)
        return np.concatenate([rgba[..., :3], grey[..., None]], axis=-1)
