"""Smell: odour concentration at the left and right nostrils, one pair per odour kind.

Layout [kind 0 left, kind 0 right, kind 1 left, kind 1 right, ...]; kind 0 is food, kind 1 the
marker odours ('O' in layouts). Concentrations come from :class:`embodied.arena.odour.OdourField`,
which spreads odour along paths around walls. The left/right difference gives the rat a
bilateral gradient cue (rats do sniff stereo: Rajan, Clement & Bhalla, Science 2006).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from ..body.checks import check_int
from .base import Sense, SimView, register_sense


@register_sense
class Scent(Sense):
    name = "scent"
    order = 3

    def __init__(self, n_kinds: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.n_kinds = check_int("scent: n_kinds", n_kinds, 1, 16)

    @property
    def space(self) -> gym.spaces.Box:
        return gym.spaces.Box(0.0, 1.0, (2 * self.n_kinds,), np.float32)

    def measure(self, view: SimView) -> np.ndarray:
        return view.odour.sample(view.state.nostrils()).reshape(-1)  # (kinds, 2) -> kind-major
