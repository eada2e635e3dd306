"""Resolving a ``world`` argument, and the ``embodied worlds`` command.

``world`` is a shipped layout name (a file ``worlds/<name>.maze``), a path to a layout file,
or ``procedural:WxH[:loops=…,rooms=…]``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..paths import WORLDS
from .layout import Layout, LayoutError, load_layout
from .procedural import parse_procedural_spec


def shipped_worlds() -> list[str]:
    return sorted(path.stem for path in WORLDS.glob("*.maze"))


def resolve_world(world: str, *, cell_size: float | None = None) -> Layout | dict:
    """A fixed :class:`Layout`, or the keyword arguments of the procedural generator."""
    if world.startswith("procedural"):
        return parse_procedural_spec(world)
    path = Path(world)
    if path.suffix == ".maze" or path.exists() or "/" in world:
        return load_layout(path, cell_size=cell_size)
    if (WORLDS / f"{world}.maze").exists():
        return load_layout(WORLDS / f"{world}.maze", cell_size=cell_size)
    raise LayoutError(f"unknown world {world!r}: not a file, not 'procedural:WxH', and not one of "
                      f"the shipped layouts ({', '.join(shipped_worlds())})", world)


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
        except LayoutError as err:
            print(err)
            status = 1
    return status
