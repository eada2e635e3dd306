"""The senses, one object each: vision, touch (whiskers + body), proprio, scent, and any sense added here.

Every module in this folder is imported here, so a module that defines a class decorated with
``@register_sense`` is all a new sense needs (see ``base.py``); ``SENSE_NAMES`` are the four
senses an env has by default.
"""

import importlib
import pkgutil

from .base import SENSES, Sense, SenseSettings, SimView, build_senses, register_sense, sense_names, unregister_sense
from .proprio import Proprioception
from .scent import Scent
from .touch import WhiskerArray
from .vision import Vision

for _module in pkgutil.iter_modules(__path__):  # a new sense file registers itself on import
    importlib.import_module(f"{__name__}.{_module.name}")

SENSE_NAMES = ("vision", "touch", "proprio", "scent")

__all__ = [
    "SENSES",
    "SENSE_NAMES",
    "Proprioception",
    "Scent",
    "Sense",
    "SenseSettings",
    "SimView",
    "Vision",
    "WhiskerArray",
    "build_senses",
    "register_sense",
    "sense_names",
    "unregister_sense",
]
