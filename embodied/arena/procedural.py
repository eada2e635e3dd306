"""Procedural mazes drawn only from an explicit ``np.random.Generator``.

Perfect mazes come from the randomised depth-first backtracker (every pair of cells joined
by exactly one path). ``loops`` then knocks out that fraction of the remaining inner walls
between two corridors, and ``rooms`` carves open rectangular rooms, giving mazes with cycles
like Memory Maze's. The global numpy RNG is never touched (dm_control's mistake).

Limits (every one stated in the error that enforces it, so work is bounded for any spec):
width and height odd in ``MIN_GRID..MAX_GRID``, ``loops`` a finite fraction in 0..1, ``rooms``
an integer in ``0..MAX_ROOMS``, a spec at most ``MAX_SPEC_CHARS`` characters.
"""

from __future__ import annotations

import math

import numpy as np

from .layout import Layout, LayoutError, parse_layout

MIN_GRID, MAX_GRID = 5, 21
MAX_ROOMS = 50  # a 21x21 maze is all room long before this
MAX_SPEC_CHARS = 200
OPTIONS = ("loops", "rooms")
SPEC_FORM = "'procedural:WxH' or 'procedural:WxH:loops=0.2,rooms=2'"


def parse_procedural_spec(spec: str) -> dict:
    """``procedural:WxH[:loops=0.2,rooms=2]`` -> keyword arguments of :func:`generate_maze`."""
    if len(spec) > MAX_SPEC_CHARS:
        raise LayoutError(
            f"procedural spec of {len(spec)} characters is over the limit of {MAX_SPEC_CHARS}; expected {SPEC_FORM}",
            spec[:60] + "...",
        )
    parts = spec.split(":")
    if parts[0] != "procedural" or len(parts) not in (2, 3):
        raise LayoutError(f"expected {SPEC_FORM}", spec)
    try:
        width, height = (int(v) for v in parts[1].lower().split("x"))
    except ValueError:
        raise LayoutError(
            f"bad size {parts[1]!r}: expected WxH such as 9x9 (odd numbers {MIN_GRID}..{MAX_GRID})", spec
        ) from None
    kwargs: dict = {"width": width, "height": height}
    if len(parts) == 3 and parts[2]:
        for item in parts[2].split(","):
            key, _, value = (part.strip() for part in item.partition("="))
            if key not in OPTIONS:
                raise LayoutError(f"unknown procedural option {key!r}; allowed: {', '.join(OPTIONS)}", spec)
            if key in kwargs:
                raise LayoutError(f"procedural option {key!r} given twice", spec)
            try:
                kwargs[key] = float(value) if key == "loops" else int(value)
            except ValueError:
                kind = "a fraction in 0..1" if key == "loops" else f"an integer in 0..{MAX_ROOMS}"
                raise LayoutError(f"bad value {value[:40]!r} for {key!r}: expected {kind}", spec) from None
    _check_options(width, height, kwargs.get("loops", 0.0), kwargs.get("rooms", 0), spec)
    return kwargs


def _check_options(width: int, height: int, loops: float, rooms: int, source: str) -> None:
    for name, n in (("width", width), ("height", height)):
        if not MIN_GRID <= n <= MAX_GRID or n % 2 == 0:
            raise LayoutError(
                f"{name} {n} out of range: procedural sizes are odd numbers {MIN_GRID}..{MAX_GRID}", source
            )
    if not (math.isfinite(loops) and 0.0 <= loops <= 1.0):
        raise LayoutError(f"loops {loops} out of range: a fraction of inner walls in 0..1", source)
    if isinstance(rooms, bool) or not isinstance(rooms, int | np.integer) or not 0 <= rooms <= MAX_ROOMS:
        raise LayoutError(f"rooms {rooms!r} out of range: an integer in 0..{MAX_ROOMS}", source)


def generate_maze(
    rng: np.random.Generator,
    width: int = 9,
    height: int = 9,
    loops: float = 0.0,
    rooms: int = 0,
    cell_size: float = 0.3,
    n_food: int = 0,
    n_odour: int = 0,
) -> Layout:
    """A maze on a ``width`` x ``height`` grid (odd, walls included) with one random start."""
    _check_options(width, height, loops, rooms, f"procedural:{width}x{height}")
    grid = np.full((height, width), "#", dtype="<U1")
    cw, ch = (width - 1) // 2, (height - 1) // 2  # corridor cells
    seen = np.zeros((ch, cw), bool)
    stack = [(int(rng.integers(cw)), int(rng.integers(ch)))]
    seen[stack[0][1], stack[0][0]] = True
    grid[2 * stack[0][1] + 1, 2 * stack[0][0] + 1] = "."
    while stack:
        x, y = stack[-1]
        options = [
            (x + dx, y + dy)
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
            if 0 <= x + dx < cw and 0 <= y + dy < ch and not seen[y + dy, x + dx]
        ]
        if not options:
            stack.pop()
            continue
        nx, ny = options[int(rng.integers(len(options)))]
        seen[ny, nx] = True
        grid[2 * ny + 1, 2 * nx + 1] = "."
        grid[y + ny + 1, x + nx + 1] = "."
        stack.append((nx, ny))
    if loops > 0:
        inner = [
            (r, c)
            for r in range(1, height - 1)
            for c in range(1, width - 1)
            if grid[r, c] == "#"
            and (r + c) % 2 == 1
            and ((grid[r - 1, c] == "." and grid[r + 1, c] == ".") or (grid[r, c - 1] == "." and grid[r, c + 1] == "."))
        ]
        for idx in np.flatnonzero(rng.random(len(inner)) < loops):
            grid[inner[idx]] = "."
    for _ in range(rooms):
        rw, rh = (int(rng.integers(1, 3)) * 2 + 1 for _ in range(2))
        c0 = 2 * int(rng.integers(0, max(1, (width - 1 - rw) // 2))) + 1
        r0 = 2 * int(rng.integers(0, max(1, (height - 1 - rh) // 2))) + 1
        grid[r0 : min(r0 + rh, height - 1), c0 : min(c0 + rw, width - 1)] = "."
    # Distinct landmark colours on a few wall cells that face a corridor, so vision has landmarks.
    facing = [
        (r, c)
        for r in range(height)
        for c in range(width)
        if grid[r, c] == "#"
        and any(
            0 <= r + dr < height and 0 <= c + dc < width and grid[r + dr, c + dc] == "."
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))
        )
    ]
    n_marks = min(len(facing), max(3, (width * height) // 12))
    for k, idx in enumerate(rng.choice(len(facing), size=n_marks, replace=False)):
        grid[facing[idx]] = str(1 + k % 7)
    free = [(r, c) for r in range(height) for c in range(width) if grid[r, c] == "."]
    picks = rng.choice(len(free), size=min(len(free), 1 + n_food + n_odour), replace=False)
    r, c = free[picks[0]]
    grid[r, c] = "S"
    for k, idx in enumerate(picks[1:]):
        grid[free[idx]] = "F" if k < n_food else "O"
    text = "\n".join("".join(row) for row in grid)
    return parse_layout(text, f"procedural:{width}x{height}", cell_size=cell_size)
