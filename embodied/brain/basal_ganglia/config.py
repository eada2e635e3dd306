"""The ``brain.basal_ganglia`` config section: the starting modules, options, selection, plasticity."""

from __future__ import annotations

from dataclasses import dataclass

from embodied.settings import POSITIVE_RATE, UNIT, WIDTH, Range, setting

_ALL = {"prediction_success": 0.5, "novelty": 1.0, "coherence": 0.25, "food": 5.0, "effort": 0.5}
#: module kind -> how much of each channel's RPE reaches it (local sub-circuit rewards)
DEFAULT_ROUTING = {
    "forward": dict(_ALL),
    "turn": dict(_ALL),
    "wall_follow": dict(_ALL),
    "chemotaxis": {"prediction_success": 0.0, "novelty": 0.25, "coherence": 0.0, "food": 8.0, "effort": 0.25},
    "explorer": {"prediction_success": 0.5, "novelty": 1.5, "coherence": 0.25, "food": 2.0, "effort": 0.25},
    "forager": {"prediction_success": 0.0, "novelty": 0.25, "coherence": 0.0, "food": 8.0, "effort": 0.25},
    "motor": {"prediction_success": 0.0, "novelty": 0.0, "coherence": 0.25, "food": 1.0, "effort": 2.0},
}

DEFAULT_MODULES = [
    "forward",
    "turn_left",
    "turn_right",
    "wall_follow_left",
    "wall_follow_right",
    "chemotaxis",
    "explorer",
    "explorer",
    "forager",
    "motor",
]


@dataclass
class BasalGangliaConfig:
    """Knobs of the basal-ganglia part (defaults here and nowhere else)."""

    plasticity: bool = setting(True, "structural plasticity: module births and prunes on/off (off: fixed module set)")
    innate_reflexes: bool = setting(
        True,
        "start with the innate reflexes listed in initial_modules (forward, turn, wall_follow, chemotaxis); "
        "false: the learned modules of initial_modules only (births copy existing modules, so none appear later)",
    )
    routing: dict = setting(DEFAULT_ROUTING, "module kind -> channel weights of the RPE that reaches that module")
    initial_modules: list = setting(
        DEFAULT_MODULES,
        "the starting population: reflexes (forward, turn_left/right, wall_follow_left/right, chemotaxis) "
        "and learned explorer/forager/motor actors",
    )
    option_steps: int = setting(8, "steps a selected module keeps control (a motor program)", Range(1, 10**6))
    context_bits: int = setting(
        2, "bits of the latent's locality-sensitive hash: 2^bits striatal contexts", Range(0, 16)
    )
    selector_beta: float = setting(
        2.0, "softmax inverse temperature of Go/NoGo selection at tonic temperature 1", Range(0, 1000)
    )
    selector_alpha: float = setting(0.1, "Go/NoGo learning rate (OpAL)", UNIT)
    selector_baseline_rate: float = setting(
        0.1, "rate of the per-context critic whose value is subtracted from an option's global RPE", UNIT
    )
    actor_units: int = setting(64, "hidden width of each learned actor module", WIDTH)
    actor_noise_correlation: float = setting(
        0.0,
        "AR(1) coefficient ρ of a learned actor's exploration noise within an option, "
        "ε_t = ρ ε_{t−1} + √(1−ρ²) η_t, ε fresh at each option start: 0 white noise, 1 one sample held "
        "for the whole option (temporally extended exploration)",
        UNIT,
    )
    actor_senses: list = setting(
        [],
        "observation keys the learned actors read directly beside the latent (symlog, flattened), e.g. "
        "[touch, proprio, scent]: the whisker-to-motor shortcut a brainstem gives; [] the latent only",
        choices=("touch", "proprio", "scent"),
        max_items=3,
    )
    actor_mirror_symmetric: bool = setting(
        False,
        "learned actors are left-right mirror-equivariant in the senses they read (basal_ganglia/mirror.py): "
        "with symmetric senses their mean turn is 0, so a turn must answer something on one side",
    )
    actor_epochs: int = setting(
        1, "passes of each actor's policy-gradient step over its rollout (>1: PPO's clipped ratio)", Range(1, 64)
    )
    actor_clip: float = setting(
        0.2, "PPO clip ε of the ratio π/π_old when actor_epochs > 1 (Schulman et al. 2017)", Range(0, 10)
    )
    actor_advantage_centring: bool = setting(
        False, "subtract the rollout's mean routed advantage before the actors' step (PPO's normalisation)"
    )
    actor_bias_std: float = setting(
        0.0,
        "std of each starting learned actor's output bias (before tanh): 0 every actor starts at the mean "
        "action 0; > 0 a motor-babbling repertoire, each module proposing its own mean action from birth, "
        "for selection to choose among (copies inherit their parent's)",
        Range(0, 100),
    )
    actor_lr: float = setting(3e-4, "Adam learning rate of the actor modules", Range(0, 1, lo_open=True))
    actor_average: float = setting(
        0.0,
        "Polyak rate τ of each learned actor's averaged weights, θ̄ ← θ̄ + w(θ − θ̄) after each of its "
        "updates with w = max(1/n, 1 − τ) (a running mean for its first 1/(1−τ) updates, then an "
        "exponential one): > 0 a policy loaded from a checkpoint (evaluation, videos) acts with θ̄ while "
        "training acts and learns with θ (weight averaging, Nikishin et al. 2018); 0 off",
        Range(0, 1, hi_open=True),
    )
    entropy_coef: float = setting(1e-3, "entropy bonus of the actors", Range(0, 1000))
    strength_rate: float = setting(0.1, "rate of the strength average when a module is selected", UNIT)
    strength_gain: float = setting(
        1.0, "credit = 1 + gain · δ, δ the option's global RPE minus the context critic", Range(0, 1000)
    )
    strength_decay: float = setting(
        0.999, "per-step multiplicative decay of an unused module's strength", POSITIVE_RATE
    )
    prune_threshold: float = setting(0.3, "modules weaker than this are pruned", Range(0, 1000))
    spawn_threshold: float = setting(1.15, "modules stronger than this spawn a mutated copy", Range(0, 1000))
    mutation_std: float = setting(0.05, "std of the Gaussian noise added to a copy's weights", Range(0, 100))
    min_modules: int = setting(3, "never prune below this many modules", Range(1, 256))
    max_modules: int = setting(12, "never grow beyond this many modules", Range(1, 256))
    min_age: int = setting(200, "steps a module lives before it may spawn or be pruned", Range(0, 10**9))
