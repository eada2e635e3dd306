"""Privileged oracles — FOR EVALUATION ONLY.

These controllers read the simulator's privileged state (the maze map, the rat's true
position and heading, the food cells) straight from ``env.unwrapped``. They exist to put
the learned agent's figures on a physical scale ("how fast could anything do this in this
body?"). They must never feed learning: no trainer, replay buffer, reward or policy module
may import this file. ``tests/test_oracles.py`` checks they are real controllers driving the
real env (no teleporting), and the scripts under ``scripts/`` use them only as baselines.

Two oracles:

* **Depth-first traversal** (exploration): the depth-first tour of the maze's cells from the
  start cell, 2·(free reachable cells − 1) cell moves (each tree edge walked out and back),
  driven by :class:`WaypointController`. :func:`measure_dfs_steps` drives it through the
  real env and counts env steps; :func:`dfs_steps_formula` gives the kinematic estimate
  ``moves · cell_size / (top_speed · dt) + Σ|turn| / (max_turn_rate · dt)``.
* **Forage** (:class:`ForageOracle`): knows the map and the food cells, walks the shortest
  4-neighbour path to the nearest pellet at top speed, replanning whenever food respawns.

Both use turn-then-go control on cell centres: turn in place (forward 0) until the heading
error is small, then drive at full speed; collinear waypoints are merged so corridors are
run straight through.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..body.rat import CONTROL_DT
from ..driver import Driver

Cell = tuple[int, int]
_MOVES = ((1, 0), (0, -1), (-1, 0), (0, 1))  # east, north (row − 1), west, south


def _wrap(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def _neighbours(layout, cell: Cell):
    free = layout.free
    c, r = cell
    for dc, dr in _MOVES:
        nc, nr = c + dc, r + dr
        if 0 <= nr < layout.rows and 0 <= nc < layout.cols and free[nr, nc]:
            yield (nc, nr)


# ---- plans on the grid ---------------------------------------------------------------
def shortest_path(layout, start: Cell, goal: Cell) -> list[Cell]:
    """Cells from ``start`` to ``goal`` inclusive along a shortest 4-neighbour path ([] if none)."""
    parent: dict[Cell, Cell | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        for nxt in _neighbours(layout, cell):
            if nxt not in parent:
                parent[nxt] = cell
                queue.append(nxt)
    if goal not in parent:
        return []
    path = [goal]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return path[::-1]


def dfs_tour(layout, start: Cell, heading: float | None = None) -> list[Cell]:
    """The depth-first tour from ``start``: every reachable cell, walking back out of dead ends.

    Returns the cell sequence (start first and last); it has 2·(reachable − 1) moves. At each
    cell the unvisited neighbour straight ahead is tried first (fewer turns), then left, right.
    """
    seen = {start}
    tour = [start]

    def direction_of(a: Cell, b: Cell) -> float:
        return float(np.arctan2(-(b[1] - a[1]), b[0] - a[0]))  # row grows southwards

    def visit(cell: Cell, facing: float) -> None:
        options = [n for n in _neighbours(layout, cell) if n not in seen]
        options.sort(key=lambda n: abs(_wrap(direction_of(cell, n) - facing)))
        for nxt in options:
            if nxt in seen:
                continue
            seen.add(nxt)
            tour.append(nxt)
            visit(nxt, direction_of(cell, nxt))
            tour.append(cell)
            facing = direction_of(nxt, cell)

    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * layout.rows * layout.cols + 100))
    try:
        visit(start, 0.0 if heading is None else heading)
    finally:
        sys.setrecursionlimit(limit)
    return tour


def dfs_cell_moves(layout, start: Cell) -> int:
    """2·(reachable free cells − 1): the cell moves of a depth-first traversal."""
    return 2 * (int(layout.reachable_from(start).sum()) - 1)


def merge_collinear(cells: list[Cell]) -> list[Cell]:
    """Drop cells in the middle of straight runs; keep turns, reversals and both ends."""
    if len(cells) <= 2:
        return list(cells)
    kept = [cells[0]]
    for prev, cell, nxt in zip(cells, cells[1:], cells[2:]):
        if (cell[0] - prev[0], cell[1] - prev[1]) != (nxt[0] - cell[0], nxt[1] - cell[1]):
            kept.append(cell)
    kept.append(cells[-1])
    return kept


def steps_per_cell_move(cell_size: float, top_speed: float = 0.6, dt: float = CONTROL_DT) -> float:
    """Env steps to cross one cell at top speed: cell_size / (top_speed · dt) (15 at 0.3 m, 0.6 m/s)."""
    return cell_size / (top_speed * dt)


def dfs_steps_formula(
    layout,
    start: Cell,
    heading: float = 0.0,
    top_speed: float = 0.6,
    max_turn_rate: float = np.pi,
    dt: float = CONTROL_DT,
) -> float:
    """Kinematic lower estimate of the tour in env steps: straight runs at top speed plus
    turns in place at the top turn rate (no acceleration, no corner cutting)."""
    tour = dfs_tour(layout, start, heading)
    moves = len(tour) - 1
    turning, facing = 0.0, heading
    for a, b in zip(tour, tour[1:]):
        direction = float(np.arctan2(-(b[1] - a[1]), b[0] - a[0]))
        turning += abs(_wrap(direction - facing))
        facing = direction
    return moves * steps_per_cell_move(layout.cell_size, top_speed, dt) + turning / (max_turn_rate * dt)


# ---- control --------------------------------------------------------------------------
class WaypointController:
    """Turn-then-go on world points: turn in place until heading error < ``go_tolerance``,
    then drive at top speed while steering; a waypoint counts as reached within ``reach`` m."""

    def __init__(self, reach: float = 0.04, go_tolerance: float = 0.12, turn_gain: float = 6.0):
        self.reach, self.go_tolerance, self.turn_gain = reach, go_tolerance, turn_gain

    def action(self, x: float, y: float, heading: float, target) -> np.ndarray:
        dx, dy = target[0] - x, target[1] - y
        error = _wrap(np.arctan2(dy, dx) - heading)
        turn = float(np.clip(self.turn_gain * error, -1.0, 1.0))
        forward = 1.0 if abs(error) < self.go_tolerance else 0.0
        return np.array([forward, turn, 0.0], np.float32)

    def reached(self, x: float, y: float, target) -> bool:
        return float(np.hypot(target[0] - x, target[1] - y)) < self.reach


class _Oracle:
    """Common base: holds the env (unwrapped) and a waypoint queue; the Policy protocol."""

    privileged = True  # marks this as a privileged, evaluation-only policy

    def __init__(self, env, controller: WaypointController | None = None):
        self.env = env.unwrapped
        self.controller = controller or WaypointController()
        self.waypoints: list[tuple[float, float]] = []

    def reset(self, num_envs: int = 1) -> None:
        self.waypoints = []

    def _state(self):
        s = self.env.state
        return s.x, s.y, s.yaw

    def _set_path(self, cells: list[Cell]) -> None:
        """Waypoints on the centres of ``cells`` (from the rat's cell), collinear ones merged.
        The first centre is skipped when the rat already sits on the first leg's axis."""
        layout = self.env.layout
        cells = merge_collinear(cells)
        points = [layout.cell_centre(*c) for c in cells]
        if len(points) >= 2:
            x, y, _ = self._state()
            (ax, ay), (_, by) = points[0], points[1]
            off_axis = abs(y - ay) if ay == by else abs(x - ax)
            if off_axis < self.controller.reach:
                points = points[1:]
        self.waypoints = points

    def _drive(self) -> np.ndarray:
        x, y, yaw = self._state()
        while self.waypoints and self.controller.reached(x, y, self.waypoints[0]):
            self.waypoints.pop(0)
        if not self.waypoints:
            return np.zeros(3, np.float32)
        return self.controller.action(x, y, yaw, self.waypoints[0])


class DFSOracle(_Oracle):
    """Drives the depth-first tour of the maze from where the episode starts (evaluation only)."""

    def reset(self, num_envs: int = 1) -> None:
        super().reset(num_envs)
        self._planned = False

    @property
    def done(self) -> bool:
        return self._planned and not self.waypoints

    def _plan(self) -> None:
        """The tour from the rat's cell and heading, once per episode (at the first act)."""
        if not self._planned:
            x, y, yaw = self._state()
            start = self.env.layout.cell_of(x, y)
            self.tour = dfs_tour(self.env.layout, start, yaw)
            self._set_path(self.tour)
            self._planned = True

    def finished(self) -> bool:
        """Whether the tour is over where the rat stands now: planned, and every waypoint reached.
        Asked before acting, it plans and drops the reached waypoints exactly as ``act`` would."""
        self._plan()
        x, y, _ = self._state()
        while self.waypoints and self.controller.reached(x, y, self.waypoints[0]):
            self.waypoints.pop(0)
        return self.done

    def act(self, obs=None) -> tuple[np.ndarray, dict]:
        self._plan()
        return self._drive(), {"module": "dfs_oracle"}


class ForageOracle(_Oracle):
    """Walks the shortest path to the nearest food pellet at top speed (evaluation only).

    Reads ``env.unwrapped.task.food_cells`` (privileged) and replans when they change.
    """

    def reset(self, num_envs: int = 1) -> None:
        super().reset(num_envs)
        self._food: list[Cell] | None = None

    def act(self, obs=None) -> tuple[np.ndarray, dict]:
        food = list(self.env.task.food_cells)
        if food != self._food or not self.waypoints:
            self._food = food
            x, y, _ = self._state()
            here = self.env.layout.cell_of(x, y)
            paths = [shortest_path(self.env.layout, here, cell) for cell in food]
            paths = [path for path in paths if path]
            if paths:
                best = min(paths, key=len)
                if len(best) == 1:  # already in the food cell: go for its centre
                    self.waypoints = [self.env.layout.cell_centre(*best[0])]
                else:
                    self._set_path(best)
        return self._drive(), {"module": "forage_oracle"}


# ---- measurements -------------------------------------------------------------------------
def measure_dfs_steps(env, seed: int | None = None, max_steps: int = 20_000, options: dict | None = None) -> dict:
    """Drive :class:`DFSOracle` through one episode of ``env`` (reset with ``seed``).

    Returns ``steps`` (env steps for the whole tour, back at the start), ``steps_to_full``
    (first step with coverage 1.0), ``cell_moves`` (2·(cells − 1)), ``formula_steps``
    (:func:`dfs_steps_formula`), ``coverage`` at the end and ``cells`` (reachable free cells).
    """
    oracle = DFSOracle(env)
    steps_to_full = None

    def watch_coverage(step) -> None:
        nonlocal steps_to_full
        if steps_to_full is None and step.next_info["coverage"] >= 1.0:
            steps_to_full = step.episode_step

    driver = Driver(env, oracle, on_step=[watch_coverage])
    driver.reset(seed=seed, options=options)
    info = driver.info
    layout = env.unwrapped.layout
    start = layout.cell_of(*info["position"])
    start_heading = float(info["heading"])
    if info["coverage"] >= 1.0:
        steps_to_full = 0
    steps = driver.run(steps=max_steps, episodes=1, until=oracle.finished)
    info = driver.info
    return {
        "steps": steps,
        "steps_to_full": steps_to_full,
        "cell_moves": dfs_cell_moves(layout, start),
        "tour_moves": len(oracle.tour) - 1,
        "formula_steps": dfs_steps_formula(layout, start, start_heading),
        "coverage": float(info["coverage"]),
        "cells": int(layout.reachable_from(start).sum()),
        "finished": oracle.done,
    }


__all__ = [
    "DFSOracle",
    "ForageOracle",
    "WaypointController",
    "dfs_cell_moves",
    "dfs_steps_formula",
    "dfs_tour",
    "measure_dfs_steps",
    "merge_collinear",
    "shortest_path",
    "steps_per_cell_move",
]
