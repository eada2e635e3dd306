"""Explore: no extrinsic reward, no termination; the rat's own drives are all there is."""

from .base import Task


class Explore(Task):
    name = "explore"
