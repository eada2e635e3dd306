"""A top-down picture of the maze: walls in their colours, visited cells, food, the rat.

Drawn with OpenCV from the layout and privileged state, so it costs well under a
millisecond and needs no second camera. Used by ``render_mode="rgb_array"`` and video panels.

It lives with the arena because it draws the arena's own geometry and colours (``FLOOR_COLOUR``,
``plain_wall_colour``, landmark colours), so the env renders it without importing ``viz``;
``embodied.viz.topdown`` re-exports it for the video panels.
"""

from __future__ import annotations

import cv2
import numpy as np

from .builder import FLOOR_COLOUR, plain_wall_colour
from .layout import LANDMARKS, TV, WALL, Layout


def _rgb255(rgb) -> tuple[int, int, int]:
    return tuple(int(255 * v) for v in rgb[:3])


def draw_topdown(
    layout: Layout,
    *,
    position=None,
    heading=None,
    head_yaw=None,
    visited=None,
    food=(),
    odour=(),
    trajectory=None,
    px_per_cell: int = 24,
) -> np.ndarray:
    """(rows·px, cols·px, 3) uint8 RGB. ``position``/``trajectory`` in world metres."""
    s = px_per_cell
    img = np.empty((layout.rows * s, layout.cols * s, 3), np.uint8)
    img[:] = np.tile(np.asarray(_rgb255(FLOOR_COLOUR), np.uint8), (layout.cols * s, 1))  # a row copies fast
    for r in range(layout.rows):
        for c in range(layout.cols):
            ch = layout.grid[r, c]
            if ch == WALL:
                colour = _rgb255(plain_wall_colour(c + 0.5, r + 0.5))
            elif ch in LANDMARKS:
                colour = _rgb255(layout.landmark_colours[ch])
            elif ch == TV:
                colour = (40, 40, 40)
            elif visited is not None and visited[r, c]:
                colour = (236, 228, 196)
            else:
                continue
            img[r * s : (r + 1) * s, c * s : (c + 1) * s] = np.asarray(colour, np.uint8)
    if TV in layout.grid:  # static pattern so the panel reads as "noise" in pictures
        for c, r in layout.cells(TV):
            img[r * s : (r + 1) * s, c * s : (c + 1) * s] = (np.indices((s, s)).sum(0) % 4 < 2)[..., None] * 200

    def to_px(x, y):
        return int(x / layout.cell_size * s), int((layout.rows - y / layout.cell_size) * s)

    if trajectory is not None and len(trajectory) > 1:
        metres = np.asarray(trajectory, np.float64)  # to_px on the whole path at once: it grows every step
        pts = np.stack([metres[:, 0] / layout.cell_size * s, (layout.rows - metres[:, 1] / layout.cell_size) * s], 1)
        pts = pts.astype(np.int32)
        cv2.polylines(img, [pts], False, (70, 110, 200), max(1, s // 12), cv2.LINE_AA)
    for c, r in odour:
        cv2.circle(img, to_px(*layout.cell_centre(c, r)), s // 5, (120, 60, 160), -1, cv2.LINE_AA)
    for c, r in food:
        cv2.circle(img, to_px(*layout.cell_centre(c, r)), s // 4, (220, 140, 25), -1, cv2.LINE_AA)
    if position is not None:
        centre = to_px(*position)
        radius = max(3, int(0.07 / layout.cell_size * s))
        cv2.circle(img, centre, radius, (140, 115, 95), -1, cv2.LINE_AA)
        for angle, colour, length in ((heading, (60, 40, 30), 1.6), (head_yaw, (230, 60, 90), 2.2)):
            if angle is not None:
                tip = (
                    int(centre[0] + length * radius * np.cos(angle)),
                    int(centre[1] - length * radius * np.sin(angle)),
                )
                cv2.line(img, centre, tip, colour, max(1, s // 12), cv2.LINE_AA)
    return img
