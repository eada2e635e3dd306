"""Forage: food pellets that smell, eaten on contact, respawned elsewhere.

A pellet is eaten when the nose comes within ``eat_radius`` of it (reward +1). It respawns at a
random free cell at least ``min_respawn_cells`` cells (path distance) from the rat, so food
must be searched for, guided by its odour (kind 0) which spreads around walls.
"""
from __future__ import annotations

import numpy as np

from ..body.checks import check_int, check_number
from ..body.rat import NOSE_OFFSET
from ..arena.layout import FOOD
from .base import Task

PELLET_RGBA = (0.85, 0.55, 0.1, 1.0)


class Forage(Task):
    name = "forage"

    def __init__(self, n_food: int = 2, eat_radius: float = 0.08, reward: float = 1.0, min_respawn_cells: int = 3):
        n_food = check_int("forage: n_food", n_food, 1, 100)
        check_number("forage: eat_radius", eat_radius, 0.0, 5.0, low_open=True, unit="metres")
        check_number("forage: reward", reward, -1e6, 1e6)
        min_respawn_cells = check_int("forage: min_respawn_cells", min_respawn_cells, 0, 10_000)
        self.n_food, self.eat_radius, self.reward, self.min_respawn_cells = n_food, eat_radius, reward, min_respawn_cells
        self.food_cells: list[tuple[int, int]] = []
        self._markers: list[int] = []
        self._arena_build = -1
        self.eaten = 0

    def _free_cells_far_from(self, env, rng, count, exclude):
        layout = env.layout
        rat_cell = layout.cell_of(env.state.x, env.state.y)
        dist = env.cell_distances(rat_cell)
        candidates = [(c, r) for c, r in layout.cells(".SFO^>v<")
                      if dist[r, c] >= self.min_respawn_cells and (c, r) not in exclude]
        if not candidates:  # tiny layouts: anywhere free but the rat's cell
            candidates = [cell for cell in layout.cells(".SFO^>v<") if cell != rat_cell and cell not in exclude]
        picks = rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
        return [candidates[i] for i in picks]

    def initialize_episode(self, env, rng):
        if self._arena_build != env.arena.builds:  # markers die with a rebuilt arena
            self._markers = [env.arena.add_marker(PELLET_RGBA) for _ in range(self.n_food)]
            self._arena_build = env.arena.builds
        fixed = env.layout.cells(FOOD)[: self.n_food]
        self.food_cells = fixed + self._free_cells_far_from(env, rng, self.n_food - len(fixed), fixed)
        self.eaten = 0
        self._place_markers(env)

    def _place_markers(self, env):
        for marker, cell in zip(self._markers, self.food_cells):
            x, y = env.layout.cell_centre(*cell)
            env.move_marker(marker, x, y)

    def odour_sources(self, env):
        return [env.layout.cell_centre(*cell) for cell in self.food_cells]

    def after_step(self, env, rng):
        nose = env.state.head_point(NOSE_OFFSET)
        reward = 0.0
        for i, cell in enumerate(self.food_cells):
            if np.hypot(*(nose - env.layout.cell_centre(*cell))) < self.eat_radius:
                reward += self.reward
                self.eaten += 1
                others = self.food_cells[:i] + self.food_cells[i + 1:]
                self.food_cells[i] = self._free_cells_far_from(env, rng, 1, others)[0]
        if reward:
            self._place_markers(env)
            env.refresh_food_odour()
        return reward, False

    def info(self):
        return {"food_eaten": self.eaten, "food_cells": list(self.food_cells)}
