"""What every sense shares: its space, an update interval, additive noise, and the registry.

A sense is one object (dm_control's "observable") that owns its space. Adding a sense is adding
one file to ``embodied/senses/`` with a class decorated by :func:`register_sense`: the package
imports every module in its folder, and the env builds the senses it is asked for from the
registry (``Sense.from_settings`` turns the env's arguments into the class's constructor
arguments), so neither the env nor a dict of constructors is edited. ``update_every`` > 1 holds
the last reading between updates (a slower sense); ``noise_std`` adds Gaussian noise drawn from
the env's generator, clipped to the space.

Order matters and is fixed by ``Sense.order``: it is the order of the observation dict and of
the noise draws from the env's generator (vision 0, touch 1, proprio 2, scent 3; a new sense
sorts after them unless it says otherwise).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import gymnasium as gym
import numpy as np

from ..body.checks import check_int, check_number
from ..body.rat import BodyState

MAX_NOISE_STD = 100.0  # in units of the reading's range (×255 for images); beyond it a reading is pure noise


@dataclasses.dataclass
class SimView:
    """What senses may read at one step: the client, bodies and the body state."""

    client: int
    rat: object
    arena: object
    odour: object
    state: BodyState
    prev_state: BodyState | None
    last_action: np.ndarray
    dt: float


@dataclasses.dataclass(frozen=True)
class SenseSettings:
    """The env's sense arguments, already checked by the env: what a sense may build itself from."""

    width: int = 64  # vision_size, pixels
    height: int = 64
    fov: float = 110.0  # degrees
    depth: bool = False
    noise: Mapping[str, float] = dataclasses.field(default_factory=dict)  # sense name -> noise_std


class Sense:
    name = "sense"
    order = 100  # place in the observation dict and in the noise draws (the built-in senses are 0..3)

    @classmethod
    def from_settings(cls, settings: SenseSettings) -> "Sense":
        """This sense for an env made with ``settings`` (a sense with more arguments overrides this)."""
        return cls(noise_std=settings.noise.get(cls.name, 0.0))

    def __init__(self, noise_std: float = 0.0, update_every: int = 1):
        check_int(f"{self.name}: update_every", update_every, 1, 1_000_000)
        check_number(f"{self.name}: noise_std", noise_std, 0.0, MAX_NOISE_STD)  # NaN noise would poison every reading
        self.noise_std, self.update_every = noise_std, update_every
        self._last: np.ndarray | None = None
        self._count = 0

    @property
    def space(self) -> gym.spaces.Box:
        raise NotImplementedError

    def measure(self, view: SimView) -> np.ndarray:
        """The noiseless reading now; subclasses implement this."""
        raise NotImplementedError

    def reset(self) -> None:
        self._last, self._count = None, 0

    def observe(self, view: SimView, rng: np.random.Generator) -> np.ndarray:
        if self._last is None or self._count % self.update_every == 0:
            reading = self.measure(view)
            if self.noise_std > 0:
                space = self.space
                noisy = reading.astype(np.float32) + rng.normal(0.0, self.noise_std, reading.shape).astype(
                    np.float32
                ) * (255.0 if space.dtype == np.uint8 else 1.0)
                reading = np.clip(noisy, space.low, space.high).astype(space.dtype)
            self._last = reading
        self._count += 1
        return self._last


#: name -> sense class, filled by :func:`register_sense` when each module of ``embodied.senses`` is imported
SENSES: dict[str, type[Sense]] = {}


def register_sense(cls: type[Sense]) -> type[Sense]:
    """Class decorator: make ``cls`` available to the env as ``senses=(..., cls.name)``.

    A ValueError for a name already taken by another class (a new sense must not replace a built-in
    one silently) or a class that is not a :class:`Sense`.
    """
    if not (isinstance(cls, type) and issubclass(cls, Sense)):
        raise ValueError(f"register_sense: {cls!r} is not a subclass of embodied.senses.Sense")
    if not isinstance(cls.name, str) or not cls.name or cls.name == Sense.name:
        raise ValueError(f"register_sense: {cls.__name__} needs its own name (a class attribute `name = ...`)")
    if SENSES.get(cls.name, cls) is not cls:
        raise ValueError(f"register_sense: the name {cls.name!r} is taken by {SENSES[cls.name].__qualname__}")
    SENSES[cls.name] = cls
    return cls


def unregister_sense(name: str) -> None:
    """Remove a registered sense (tests that register a toy sense clean up with this)."""
    SENSES.pop(name, None)


def sense_names() -> tuple[str, ...]:
    """Every registered sense name, in observation order (``order``, then registration order)."""
    ranked = sorted(enumerate(SENSES.values()), key=lambda item: (item[1].order, item[0]))
    return tuple(cls.name for _, cls in ranked)


def build_senses(names, settings: SenseSettings) -> list[Sense]:
    """The senses named in ``names`` (registered names; repeats count once), built in observation order."""
    wanted = set(names)
    return [SENSES[name].from_settings(settings) for name in sense_names() if name in wanted]
