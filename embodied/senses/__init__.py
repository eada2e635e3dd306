"""The four senses, one object each: vision, touch (whiskers + body), proprio, scent."""
from .base import Sense, SimView
from .proprio import Proprioception
from .scent import Scent
from .touch import WhiskerArray
from .vision import Vision

SENSE_NAMES = ("vision", "touch", "proprio", "scent")

__all__ = ["SENSE_NAMES", "Proprioception", "Scent", "Sense", "SimView", "Vision", "WhiskerArray"]
