"""Forage: food pellets that smell, eaten on contact, respawned elsewhere.

A pellet is eaten when the nose comes within ``eat_radius`` of it (reward +1). It respawns at a
random free cell at least ``min_respawn_cells`` cells (path distance) from the rat, so food
must be searched for, guided by its odour (kind 0) which spreads around walls.
"""

from __future__ import annotations

import numpy as np

from ..arena.layout import FOOD
from ..body.checks import check_int, check_number
from ..body.rat import NOSE_OFFSET
from .base import Task

PELLET_RGBA = (0.85, 0.55, 0.1, 1.0)


class Forage(Task):
    name = "forage"

    def __init__(self, n_food: int = 2, eat_radius: float = 0.08, reward: float = 1.0, min_respawn_cells: int = 3):
        n_food = check_int("forage: n_food", n_food, 1, 100)
        check_number("forage: eat_radius", eat_radius, 0.0, 5.0, low_open=True, unit="metres")
        check_number("forage: reward", reward, -1e6, 1e6)
        min_respawn_cells = check_int("forage: min_respawn_cells", min_respawn_cells, 0, 10_000)
        self.n_food, self.eat_radius, self.reward, self.min_respawn_cells = (
            n_food,
            eat_radius,
            reward,
            min_respawn_cells,
        )
        self.food_cells: list[tuple[int, int]] = []
        self._markers: list[int] = []
        self._arena_build = -1
        self.eaten = 0
        self._step_reward = 0.0

    def _free_cells_far_from(self, handle, rng, count, exclude):
        layout, state = handle.layout, handle.body_state
        rat_cell = layout.cell_of(state.x, state.y)
        dist = handle.cell_distances(rat_cell)
        candidates = [
            (c, r)
            for c, r in layout.cells(".SFO^>v<")
            if dist[r, c] >= self.min_respawn_cells and (c, r) not in exclude
        ]
        if not candidates:  # tiny layouts: anywhere free but the rat's cell
            candidates = [cell for cell in layout.cells(".SFO^>v<") if cell != rat_cell and cell not in exclude]
        picks = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
        return [candidates[i] for i in picks]

    def initialize_episode(self, handle, rng):
        arena = handle.arena
        if self._arena_build != arena.builds:  # markers die with a rebuilt arena
            self._markers = [arena.add_marker(PELLET_RGBA) for _ in range(self.n_food)]
            self._arena_build = arena.builds
        fixed = handle.layout.cells(FOOD)[: self.n_food]
        self.food_cells = fixed + self._free_cells_far_from(handle, rng, self.n_food - len(fixed), fixed)
        self.eaten = 0
        self._step_reward = 0.0
        self._place_markers(handle)

    def _place_markers(self, handle):
        for marker, cell in zip(self._markers, self.food_cells):
            x, y = handle.layout.cell_centre(*cell)
            handle.arena.move_marker(marker, x, y)

    def odour_sources(self, handle):
        return [handle.layout.cell_centre(*cell) for cell in self.food_cells]

    def after_step(self, handle, rng):
        """Eat every pellet within ``eat_radius`` of the nose and respawn it far from the rat."""
        nose = handle.body_state.head_point(NOSE_OFFSET)
        reward = 0.0
        for i, cell in enumerate(self.food_cells):
            if np.hypot(*(nose - handle.layout.cell_centre(*cell))) < self.eat_radius:
                reward += self.reward
                self.eaten += 1
                others = self.food_cells[:i] + self.food_cells[i + 1 :]
                self.food_cells[i] = self._free_cells_far_from(handle, rng, 1, others)[0]
        if reward:
            self._place_markers(handle)
            handle.refresh_food_odour()
        self._step_reward = reward

    def get_reward(self, handle):
        return self._step_reward  # ``reward`` per pellet eaten this step

    def info(self):
        return {"food_eaten": self.eaten, "food_cells": list(self.food_cells)}
