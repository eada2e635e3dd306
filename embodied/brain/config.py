"""The ``brain`` config section: one sub-section per part, each the single source of its defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from embodied.brain.basal_ganglia.config import BasalGangliaConfig
from embodied.brain.dopamine.config import DopamineConfig
from embodied.brain.perception.config import PerceptionConfig


@dataclass
class BrainConfig:
    """``perception`` (world model, intrinsic rewards), ``dopamine`` (critics, tonic level),
    ``basal_ganglia`` (modules, options, selection, plasticity)."""

    perception: PerceptionConfig = field(default_factory=PerceptionConfig)
    dopamine: DopamineConfig = field(default_factory=DopamineConfig)
    basal_ganglia: BasalGangliaConfig = field(default_factory=BasalGangliaConfig)
