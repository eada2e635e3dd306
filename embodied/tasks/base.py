"""A task owns extrinsic reward, termination and what it places in the arena.

The env calls the hooks in this order (dm_control composer's lifecycle):
``initialize_episode`` after the rat is placed, ``before_step`` before physics,
``after_step`` after physics and sensing. The env itself holds no reward logic.
"""
from __future__ import annotations

import numpy as np


class Task:
    name = "task"

    def initialize_episode(self, env, rng: np.random.Generator) -> None:
        """Place the task's objects (food, cues) for a new episode (and the rat, if the task holds it
        somewhere: the env reads the body's state again afterwards)."""

    def before_step(self, env, action: np.ndarray, rng: np.random.Generator) -> None:
        """Anything the task changes before physics runs (cue lights, feeders)."""

    def after_step(self, env, rng: np.random.Generator) -> tuple[float, bool]:
        """(extrinsic reward, terminated) after physics."""
        return 0.0, False

    def odour_sources(self, env) -> list[tuple[float, float]]:
        """World positions that emit odour kind 0 (food)."""
        return []

    def info(self) -> dict:
        """Privileged facts for metrics and pictures (never for learning)."""
        return {}
