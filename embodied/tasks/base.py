"""A task owns extrinsic reward, termination and what it places in the arena.

The env calls the hooks in this order (dm_control composer's lifecycle): ``initialize_episode``
after the rat is placed, ``before_step`` before physics, then after physics ``after_step`` (the
task's own bookkeeping: eating, respawning), ``get_reward`` and ``should_terminate``. The env
itself holds no reward logic.

Every hook receives a :class:`TaskHandle`, not the env: the arena (layout, bodies, markers), the
body (place, restrain) and its state, path distances and the food odour; the random generator
comes as a separate argument. A task cannot step the env, read the senses or see another
episode's bookkeeping.
"""

from __future__ import annotations

import numpy as np


class TaskHandle:
    """What a task may touch (dm_control composer: a task sees the arena and the walker, not the env).

    Built by the env over itself (``TaskHandle(env)``); every member reads the env's current value,
    so a task never holds a stale layout or body state. Members: ``layout``, ``arena``
    (``add_marker``, ``move_marker``, ``set_colour``, ``bodies``, ``wall_colours``, ``builds``),
    ``body`` (``place``, ``restrain``), ``body_state`` (the :class:`~embodied.body.rat.BodyState`
    read after physics), ``cell_distances(cell)`` and ``refresh_food_odour()``.
    """

    __slots__ = ("_env",)

    def __init__(self, env):
        self._env = env

    @property
    def layout(self):
        return self._env.layout

    @property
    def arena(self):
        return self._env.arena

    @property
    def body(self):
        return self._env.rat

    @property
    def body_state(self):
        return self._env.state

    def cell_distances(self, cell: tuple[int, int]) -> np.ndarray:
        """Path distance in cells from ``cell`` to every cell of the layout (cached per episode)."""
        return self._env.cell_distances(cell)

    def refresh_food_odour(self) -> None:
        """Make the odour field emit food odour from the task's ``odour_sources`` again (after food moved)."""
        if self._env.odour is not None:  # the first reset builds the field after the arena
            self._env.refresh_food_odour()


class Task:
    name = "task"

    def initialize_episode(self, handle: TaskHandle, rng: np.random.Generator) -> None:
        """Place the task's objects (food, cues) for a new episode (and the rat, if the task holds it
        somewhere: the env reads the body's state again afterwards)."""

    def before_step(self, handle: TaskHandle, action: np.ndarray, rng: np.random.Generator) -> None:
        """Anything the task changes before physics runs (cue lights, feeders)."""

    def after_step(self, handle: TaskHandle, rng: np.random.Generator) -> None:
        """The task's bookkeeping after physics (food eaten, respawned), before reward and termination."""

    def get_reward(self, handle: TaskHandle) -> float:
        """The extrinsic reward of the step just taken (read after ``after_step``)."""
        return 0.0

    def should_terminate(self, handle: TaskHandle) -> bool:
        """Whether the episode ends with the step just taken (read after ``get_reward``)."""
        return False

    def odour_sources(self, handle: TaskHandle) -> list[tuple[float, float]]:
        """World positions that emit odour kind 0 (food)."""
        return []

    def info(self) -> dict:
        """Privileged facts for metrics and pictures (never for learning)."""
        return {}
