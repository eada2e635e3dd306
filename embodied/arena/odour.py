"""The odour field: concentration that spreads *around* walls, not through them.

Odour from a source reaches a point along the shortest free path, so the concentration is a
function of path distance d (geodesic distance through the maze), not of the straight line:

    c(x) = sum_sources exp(-d(x, source) / length_scale)          (clipped to [0, 1])

which is the steady state of diffusion with first-order decay in one dimension along the
corridor (Berg, *Random Walks in Biology*, 1993, ch. 2), a standard simplification for odour
plumes in still air. Path distances are computed once per source set by Dijkstra on a fine
grid (``resolution`` sub-cells per maze cell, 8-connected), then read by bilinear
interpolation at the nostrils, so a step costs a few array reads.

Optional turbulence multiplies each reading by a temporally correlated log-normal factor
(an Ornstein-Uhlenbeck process in log space), a crude stand-in for intermittent plumes.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from ..body.checks import check_int, check_number
from .layout import Layout

#: turbulence is the stationary std of log concentration; beyond ~3 a reading is 0 or 1, and exp() overflows sooner
MAX_TURBULENCE = 3.0
LENGTH_SCALE_RANGE = (0.01, 100.0)  # metres


class OdourField:
    """Concentration maps, one channel per odour kind, on a fine grid over a layout."""

    def __init__(
        self, layout: Layout, n_kinds: int = 2, length_scale: float = 1.0, resolution: int = 4, turbulence: float = 0.0
    ):
        check_number("odour_length_scale", length_scale, *LENGTH_SCALE_RANGE, unit="metres")
        check_number("turbulence", turbulence, 0.0, MAX_TURBULENCE)
        check_int("odour: n_kinds", n_kinds, 1, 16)
        check_int("odour: resolution", resolution, 1, 16)
        self.layout, self.n_kinds, self.length_scale, self.res = layout, n_kinds, length_scale, resolution
        self.turbulence = turbulence
        self._sub = layout.cell_size / resolution
        free = np.repeat(np.repeat(layout.free, resolution, axis=0), resolution, axis=1)
        self._free = free[::-1]  # index [iy, ix] with iy growing with world y
        self._graph = self._build_graph(self._free)
        self.maps = np.zeros((n_kinds,) + self._free.shape, np.float32)
        self._log_noise = np.zeros(0)

    @staticmethod
    def _build_graph(free: np.ndarray):
        h, w = free.shape
        idx = np.arange(h * w).reshape(h, w)
        rows, cols, weights = [], [], []
        for dy, dx, cost in ((0, 1, 1.0), (1, 0, 1.0), (1, 1, np.sqrt(2)), (1, -1, np.sqrt(2))):
            a = free[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
            b = free[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
            ok = a & b
            if dy == 1 and dx != 0:  # no corner cutting through a wall for diagonal moves
                side1 = free[max(0, -dy) : h - max(0, dy), max(0, dx) : w + min(0, dx)]
                side2 = free[max(0, dy) : h + min(0, dy), max(0, -dx) : w - max(0, dx)]
                ok &= side1 & side2
            ia = idx[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)][ok]
            ib = idx[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)][ok]
            rows += [ia, ib]
            cols += [ib, ia]
            weights += [np.full(ia.size, cost), np.full(ia.size, cost)]
        return coo_matrix(
            (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(h * w, h * w)
        ).tocsr()

    def _index(self, x: float, y: float) -> int:
        h, w = self._free.shape
        ix = int(np.clip(x / self._sub, 0, w - 1))
        iy = int(np.clip(y / self._sub, 0, h - 1))
        return iy * w + ix

    def set_sources(self, kind: int, positions) -> None:
        """Recompute the map of ``kind`` for sources at world ``positions`` [(x, y), ...]."""
        if not 0 <= kind < self.n_kinds:
            raise ValueError(f"odour kind {kind} out of range 0..{self.n_kinds - 1}")
        if len(positions) == 0:
            self.maps[kind] = 0.0
            return
        sources = [self._index(x, y) for x, y in positions]
        dist = dijkstra(self._graph, indices=sources, min_only=True) * self._sub
        conc = np.exp(-dist / self.length_scale).reshape(self._free.shape)
        self.maps[kind] = np.clip(conc, 0.0, 1.0).astype(np.float32)

    def path_distance(self, kind_sources, x: float, y: float) -> float:
        """Geodesic distance (m) from (x, y) to the nearest of ``kind_sources``; for tests and pictures."""
        dist = dijkstra(self._graph, indices=[self._index(*p) for p in kind_sources], min_only=True) * self._sub
        return float(dist[self._index(x, y)])

    def reset_noise(self, rng: np.random.Generator, n_points: int) -> None:
        self._rng = rng
        self._log_noise = np.zeros((self.n_kinds, n_points))

    def sample(self, points: np.ndarray) -> np.ndarray:
        """Concentrations (n_kinds, n_points) at world ``points`` (n_points, 2), bilinear."""
        h, w = self._free.shape
        fx = np.clip(points[:, 0] / self._sub - 0.5, 0, w - 1)
        fy = np.clip(points[:, 1] / self._sub - 0.5, 0, h - 1)
        x0, y0 = np.floor(fx).astype(int), np.floor(fy).astype(int)
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        ax, ay = fx - x0, fy - y0
        m = self.maps
        out = (
            m[:, y0, x0] * (1 - ax) * (1 - ay)
            + m[:, y0, x1] * ax * (1 - ay)
            + m[:, y1, x0] * (1 - ax) * ay
            + m[:, y1, x1] * ax * ay
        )
        if self.turbulence > 0 and self._log_noise.shape == out.shape:
            # OU process in log space: correlation time ~ 10 steps, stationary std = turbulence
            theta = 0.1
            self._log_noise += -theta * self._log_noise + self.turbulence * np.sqrt(
                2 * theta
            ) * self._rng.standard_normal(self._log_noise.shape)
            out = out * np.exp(self._log_noise - 0.5 * self.turbulence**2)
        return np.clip(out, 0.0, 1.0).astype(np.float32)
