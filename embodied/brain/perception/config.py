"""The ``brain.perception`` config section: which world model, and whether it earns intrinsic rewards."""

from __future__ import annotations

from dataclasses import dataclass

from embodied.settings import setting


@dataclass
class PerceptionConfig:
    """Knobs of the perception part (defaults here and nowhere else)."""

    world_model: str = setting(
        "cpu",
        "world-model preset: cpu | gpu (embodied.brain.perception.world_model.WorldModelConfig.preset)",
        choices=("cpu", "gpu"),
    )
    world_model_overrides: dict = setting(
        {"batch_size": 8, "seq_len": 16}, "WorldModelConfig fields that override the preset"
    )
    intrinsic: bool = setting(True, "intrinsic rewards (prediction success, novelty, coherence) on/off")
    intrinsic_overrides: dict = setting({"episodic_capacity": 512}, "IntrinsicConfig fields that override its defaults")
