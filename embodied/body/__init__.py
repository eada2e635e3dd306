"""The rat's body: loading, actuation, and the kinematic state the senses read."""

from .rat import BodyState, Rat

__all__ = ["BodyState", "Rat"]
