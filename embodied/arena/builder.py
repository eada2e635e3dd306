"""Building a layout's PyBullet bodies: floor, merged walls, landmark colours, noisy-TV panels.

Collinear wall cells of the same kind are merged into long boxes (fewer bodies: faster
resets, faster rendering), and bodies are reused across resets while the layout is
unchanged; only a new layout removes and rebuilds them.
"""

from __future__ import annotations

import colorsys

import numpy as np
import pybullet as p

from .layout import LANDMARKS, TV, WALL, Layout

FLOOR_COLOUR = (0.78, 0.74, 0.66, 1.0)
PARKING_DEPTH = -50.0  # metres below the floor: pooled bodies not in the current layout wait here


def merge_wall_cells(layout: Layout) -> list[tuple[str, int, int, int, int]]:
    """Cover wall cells with boxes (char, col0, row0, n_cols, n_rows), each of one character.

    Horizontal runs of two or more cells first, then the remaining cells merged vertically.
    Noisy-TV cells stay single so each panel can show its own colour.
    """
    grid = layout.grid
    used = np.zeros(grid.shape, bool)
    boxes = []
    for r in range(layout.rows):
        c = 0
        while c < layout.cols:
            ch = grid[r, c]
            end = c
            while end + 1 < layout.cols and grid[r, end + 1] == ch and ch != TV:
                end += 1
            if ch in (WALL,) + LANDMARKS and end > c:
                boxes.append((ch, c, r, end - c + 1, 1))
                used[r, c : end + 1] = True
            c = end + 1
    for c in range(layout.cols):
        r = 0
        while r < layout.rows:
            ch = grid[r, c]
            if used[r, c] or ch not in (WALL, TV) + LANDMARKS:
                r += 1
                continue
            end = r
            while end + 1 < layout.rows and grid[end + 1, c] == ch and not used[end + 1, c] and ch != TV:
                end += 1
            boxes.append((ch, c, r, 1, end - r + 1))
            used[r : end + 1, c] = True
            r = end + 1
    return boxes


def plain_wall_colour(col: float, row: float) -> tuple[float, float, float]:
    """A muted colour that varies smoothly with position, so every wall stretch looks different."""
    hue = (0.13 * col + 0.29 * row) % 1.0
    return colorsys.hsv_to_rgb(hue, 0.35, 0.75)


class Arena:
    """The PyBullet bodies of one layout in one client."""

    def __init__(self, client: int):
        self.client = client
        self.layout: Layout | None = None
        self._key: bytes | None = None
        self.bodies: list[int] = []
        self.boxes: list[tuple[str, int, int, int, int]] = []
        self.wall_colours: list[tuple[float, float, float]] = []
        self.tv_bodies: list[int] = []
        self.builds = 0  # how often bodies were (re)built; tests check reuse
        # PyBullet never frees a visual shape and keeps ~1 kB per removed body, so shapes are
        # cached by size and bodies are pooled by size: a new layout moves pooled bodies into
        # place (recoloured with changeVisualShape) and parks the rest out of sight below the
        # floor. 1,000 new layouts then cost no memory (scripts/check_reset_leak.py).
        self._shapes: dict[tuple, tuple[int, int]] = {}
        self._pool: dict[tuple, list[int]] = {}
        self._in_use: list[tuple[tuple, int]] = []

    def _box_shapes(self, half) -> tuple[int, int]:
        key = ("box",) + tuple(round(v, 6) for v in half)
        if key not in self._shapes:
            self._shapes[key] = (
                p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=self.client),
                p.createVisualShape(p.GEOM_BOX, halfExtents=half, physicsClientId=self.client),
            )
        return self._shapes[key]

    def _pooled_body(self, key: tuple, make, position, rgba) -> int:
        pool = self._pool.setdefault(key, [])
        if pool:
            body = pool.pop()
            p.resetBasePositionAndOrientation(body, position, [0, 0, 0, 1], physicsClientId=self.client)
        else:
            body = make(position)
        p.changeVisualShape(body, -1, rgbaColor=list(rgba), physicsClientId=self.client)
        self._in_use.append((key, body))
        self.bodies.append(body)
        return body

    def _box_body(self, half, position, rgb) -> int:
        shape, visual = self._box_shapes(half)
        key = ("box",) + tuple(round(v, 6) for v in half)
        return self._pooled_body(
            key,
            lambda pos: p.createMultiBody(0, shape, visual, pos, physicsClientId=self.client),
            position,
            list(rgb)[:3] + [1.0],
        )

    def build(self, layout: Layout) -> bool:
        """Make ``layout``'s bodies; returns False when the current ones were reused."""
        key = layout.key()
        if key == self._key:
            self.layout = layout
            return False
        self.clear()
        self.layout, self._key = layout, key
        size, height = layout.cell_size, layout.wall_height
        w, h = layout.cols * size, layout.rows * size
        self._box_body([w / 2, h / 2, 0.005], [w / 2, h / 2, -0.005], FLOOR_COLOUR)
        self.boxes = merge_wall_cells(layout)
        self.wall_colours = []
        for ch, c0, r0, nc, nr in self.boxes:
            half = [nc * size / 2, nr * size / 2, height / 2]
            x, y = layout.cell_centre(c0 + (nc - 1) / 2, r0 + (nr - 1) / 2)
            if ch in LANDMARKS:
                rgb = tuple(layout.landmark_colours[ch])
            elif ch == TV:
                rgb = (0.0, 0.0, 0.0)
            else:
                rgb = plain_wall_colour(c0 + nc / 2, r0 + nr / 2)
            self.wall_colours.append(rgb)
            body = self._box_body(half, [x, y, height / 2], rgb)
            if ch == TV:
                self.tv_bodies.append(body)
        self.builds += 1
        return True

    def add_marker(self, rgba, radius: float = 0.02, height: float = 0.02) -> int:
        """A visual-only sphere (food pellet, odour source) the caller moves; removed with the arena."""
        key = ("sphere", radius)
        if key not in self._shapes:
            self._shapes[key] = (-1, p.createVisualShape(p.GEOM_SPHERE, radius=radius, physicsClientId=self.client))
        visual = self._shapes[key][1]
        return self._pooled_body(
            key, lambda pos: p.createMultiBody(0, -1, visual, pos, physicsClientId=self.client), [0, 0, height], rgba
        )

    def move_marker(self, body: int, x: float, y: float, z: float = 0.02) -> None:
        """Move a marker (or any body of this arena) to (x, y, z) metres, upright."""
        p.resetBasePositionAndOrientation(body, [x, y, z], [0, 0, 0, 1], physicsClientId=self.client)

    def set_colour(self, body: int, rgba) -> None:
        """Recolour a body of this arena (a cue light, the floor under a house light)."""
        p.changeVisualShape(body, -1, rgbaColor=list(rgba), physicsClientId=self.client)

    def update_noisy_tv(self, rng: np.random.Generator) -> None:
        """Each noisy-TV panel shows a new random colour every step (an unlearnable stimulus)."""
        for body in self.tv_bodies:
            p.changeVisualShape(body, -1, rgbaColor=list(rng.random(3)) + [1.0], physicsClientId=self.client)

    def clear(self) -> None:
        """Park every body of the current layout out of sight, back in its pool."""
        for key, body in self._in_use:
            p.resetBasePositionAndOrientation(body, [0, 0, PARKING_DEPTH], [0, 0, 0, 1], physicsClientId=self.client)
            self._pool[key].append(body)
        self._in_use, self.bodies, self.tv_bodies, self.boxes, self._key = [], [], [], [], None
