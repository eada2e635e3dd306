"""The top-down map picture, drawn by the arena (:mod:`embodied.arena.topdown`) and re-exported here.

The env's ``render`` and the video panels share one drawing; it moved to the arena so that
``embodied/env.py`` imports nothing from ``viz`` (docs/architecture.md, "Layering").
"""

from ..arena.topdown import draw_topdown

__all__ = ["draw_topdown"]
