"""The ``brain.dopamine`` config section: channels and their weights, critics, tonic dopamine."""

from __future__ import annotations

from dataclasses import dataclass

from embodied.settings import POSITIVE_RATE, UNIT, WIDTH, Range, setting

DEFAULT_CHANNEL_WEIGHTS = {"prediction_success": 0.5, "novelty": 1.0, "coherence": 0.25, "food": 5.0, "effort": 0.5}


@dataclass
class DopamineConfig:
    """Knobs of the dopamine part (defaults here and nowhere else)."""

    scalar_dopamine: bool = setting(False, "one scalar critic on the weighted reward sum instead of one per channel")
    fixed_tonic: bool = setting(False, "freeze the tonic dopamine level at its reference")
    channel_weights: dict = setting(
        DEFAULT_CHANNEL_WEIGHTS, "weight of each reward channel in phasic dopamine and the tonic level"
    )
    gamma: float = setting(0.97, "discount of every critic", Range(0, 1, lo_open=True))
    lam: float = setting(0.9, "λ of the λ-returns (eligibility traces, forward view)", UNIT)
    critic_taus: list = setting(
        [0.1, 0.3, 0.5, 0.7, 0.9],
        "expectile asymmetries of the distributional heads (0.5 is the mean critic)",
        Range(0, 1, True, True),
        max_items=64,
    )
    critic_units: int = setting(128, "hidden width of the critic heads", WIDTH)
    critic_lr: float = setting(3e-4, "Adam learning rate of the critics", Range(0, 1, lo_open=True))
    critic_epochs: int = setting(
        1, "critic gradient steps per collected rollout (each recomputes the λ-return targets)", Range(1, 1000)
    )
    critic_replay_updates: int = setting(
        0,
        "extra critic gradient steps per rollout on λ-returns over sequences replayed from "
        "a memory of latent features and reward vectors (0 = off; DreamerV3-style)",
        Range(0, 1000),
    )
    critic_replay_capacity: int = setting(
        4096, "steps per env kept in the critic's replay memory (bounds how stale features get)", Range(2, 10**7)
    )
    critic_replay_batch: int = setting(16, "sequences per replayed critic update", Range(1, 4096))
    critic_replay_seq: int = setting(
        64, "steps per replayed sequence (λ-returns bootstrap from the slow critic at its end)", Range(1, 4096)
    )
    critic_return_norm: bool = setting(
        False,
        "divide each channel's critic loss by max(σ_c, 0.01)², σ_c² a running variance of its "
        "λ-returns (Pop-Art-style), so a rare small reward is not drowned by large dense ones",
    )
    critic_senses: bool = setting(
        False,
        "the critics also read the rat's own current senses (vision pooled to 4x4x3, scent), "
        "not only the world-model latent",
    )
    critic_sense_traces: list = setting(
        [],
        "time constants τ (steps) of leaky memory traces of those senses, m ← m + (s − m)/τ, "
        "that the critics also read (needs critic_senses; Ludvig, Sutton & Kehoe 2008)",
        Range(1, 10**6),
        max_items=64,
    )
    critic_sense_delays: list = setting(
        [],
        "delays d (steps) of copies of those senses s_{t-d} that the critics also read: a "
        "delay line, so 'the light came on d steps ago' is a feature (complete serial "
        "compound from the rat's own senses; needs critic_senses)",
        Range(1, 1000),
        max_items=64,
    )
    critic_latent: bool = setting(
        True,
        "the critics read the world-model latent; false: only the rat's own senses, their "
        "traces and delay line (inputs that do not drift as the world model trains; needs critic_senses)",
    )
    critic_slow_rate: float = setting(
        0.02, "rate of the slow target critic: θ_slow ← θ_slow + rate (θ − θ_slow) per critic update", POSITIVE_RATE
    )
    precision_eps: float = setting(0.1, "ε of precision weighting δ / sqrt(spread + ε)", Range(0, 1e6, lo_open=True))
    effort_scale: float = setting(1.0, "effort reward = −effort_scale · |a_t − a_{t−1}|²", Range(0, 1e6))
    tonic_rate: float = setting(0.01, "tonic update rate κ (ρ ← ρ + κ (r − ρ))", UNIT)
    tonic_scale: float = setting(1.0, "tonic normalisation: m = tanh(ρ / scale)", Range(0, 1e6, lo_open=True))
    vigour_range: list = setting(
        [0.4, 1.0], "top-speed multiplier at lowest and highest tonic level", Range(0, 100), max_items=2
    )
    temperature_gain: float = setting(
        1.0, "how strongly tonic dopamine lowers the exploration temperature", Range(0, 1000)
    )
