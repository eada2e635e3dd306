"""Resolving a ``world`` argument, and the ``embodied worlds`` command.

``world`` is a shipped layout name (a file ``worlds/<name>.maze``), a path to a layout file,
or ``procedural:WxH[:loops=…,rooms=…]``. An existing path, or a name ending in ``.maze``, is
always a file (``procedural_room.maze`` too); only the ``procedural:`` prefix makes a spec.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..paths import WORLDS
from .layout import Layout, LayoutError, load_layout
from .procedural import parse_procedural_spec

MAX_WORLD_CHARS = 4096  # a longer world argument is no path any file system accepts


def shipped_worlds() -> list[str]:
    return sorted(path.stem for path in WORLDS.glob("*.maze"))


def resolve_world(world: str, *, cell_size: float | None = None) -> Layout | dict:
    """A fixed :class:`Layout`, or the keyword arguments of the procedural generator."""
    if not isinstance(world, str | Path):
        raise LayoutError(
            f"world must be a layout name, a path or 'procedural:WxH'; got {type(world).__name__}", "world"
        )
    world = str(world)
    if not world.strip() or len(world) > MAX_WORLD_CHARS or "\x00" in world:
        raise LayoutError(
            f"{world[:60]!r} is no layout name, path or procedural spec "
            f"(empty, a NUL byte, or over {MAX_WORLD_CHARS} characters)",
            "world",
        )
    path = Path(world)
    try:
        exists = path.exists() or path.is_symlink()  # a symlink loop does not "exist" but is a file the user named
    except OSError:  # e.g. a name too long for the file system: no file of that name
        exists = False
    if path.suffix == ".maze" or exists:
        return load_layout(path, cell_size=cell_size)
    if world.startswith("procedural:") or world == "procedural":
        return parse_procedural_spec(world)
    if "/" in world or "\\" in world:
        return load_layout(path, cell_size=cell_size)
    if (WORLDS / f"{world}.maze").exists():
        return load_layout(WORLDS / f"{world}.maze", cell_size=cell_size)
    raise LayoutError(
        f"unknown world {world[:100]!r}: not a file, not 'procedural:WxH', and not one of "
        f"the shipped layouts ({', '.join(shipped_worlds())})",
        world,
    )


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="layout files to check (default: list the shipped layouts)")


def run(args: argparse.Namespace) -> int:
    if not args.paths:
        for name in shipped_worlds():
            layout = load_layout(WORLDS / f"{name}.maze")
            print(f"{name:<16} {layout.cols}x{layout.rows}  free cells {int(layout.free.sum()):>3}  {layout.name}")
        return 0
    status = 0
    for path in args.paths:
        try:
            layout = load_layout(path)
            print(f"{path}: ok ({layout.cols}x{layout.rows}, {int(layout.free.sum())} free cells)")
        except LayoutError as err:  # a bad file is the user's input: one line on stderr, exit 2 (usage error)
            print(f"embodied worlds: {err}", file=sys.stderr)
            status = 2
    return status
