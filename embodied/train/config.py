"""Training configuration: one dataclass, every knob named, defaulted, explained and bounded.

    cfg = load_config("configs/default.json", overrides=["total_steps=2000", "intrinsic=false"])

``load_config`` reads a JSON (or TOML) file of ``key: value`` pairs, then applies
``key=value`` overrides (values parsed as JSON when they parse, else taken as strings).
Nothing is silently ignored or silently wrong:

- an unknown key is an error naming the key, the file and the allowed keys;
- a value of the wrong type names the key and the expected type;
- every numeric leaf, nested ones included (``channel_weights``, ``routing``,
  ``world_model_overrides``, ``intrinsic_overrides``, ``task_options``), must be finite and
  inside its range (``RANGES``, ``WORLD_MODEL_RANGES``, ``INTRINSIC_RANGES``,
  ``TASK_OPTION_RANGES``); the error names the source (the file or ``--set``), the key, the
  value and the range;
- combinations that would train nothing are refused (a world model that would never get an
  update: ``learning_starts`` at or past ``total_steps``, a train ratio too small for one
  batch, a replay smaller than one sequence);
- a config file must be a regular file of at most ``MAX_CONFIG_BYTES`` in UTF-8 JSON or TOML;
  a syntax error names ``file:line:col``; YAML is refused by name (PyYAML is not a dependency).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import stat
import typing
from dataclasses import dataclass, field
from pathlib import Path

from embodied.brain.dopamine.rules import REWARD_CHANNELS
from embodied.errors import UserError

#: a config file larger than this is not a config file (the default one is 3 kB)
MAX_CONFIG_BYTES = 1 << 20


class ConfigError(UserError, ValueError):
    """A config file or override that cannot be turned into a TrainConfig; ``key`` names the
    top-level key at fault when there is one (so the message can name where it was set)."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


def _f(default, help: str, **kw):
    """A dataclass field with a one-line help string (shown by ``embodied train --help``)."""
    if isinstance(default, (dict, list)):
        value = default
        return field(default_factory=lambda: json.loads(json.dumps(value)), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


DEFAULT_CHANNEL_WEIGHTS = {"prediction_success": 0.5, "novelty": 1.0, "coherence": 0.25, "food": 5.0, "effort": 0.5}

#: module kind -> how much of each channel's RPE reaches it (local sub-circuit rewards)
DEFAULT_ROUTING = {
    "forward": {"prediction_success": 0.5, "novelty": 1.0, "coherence": 0.25, "food": 5.0, "effort": 0.5},
    "turn": {"prediction_success": 0.5, "novelty": 1.0, "coherence": 0.25, "food": 5.0, "effort": 0.5},
    "wall_follow": {"prediction_success": 0.5, "novelty": 1.0, "coherence": 0.25, "food": 5.0, "effort": 0.5},
    "chemotaxis": {"prediction_success": 0.0, "novelty": 0.25, "coherence": 0.0, "food": 8.0, "effort": 0.25},
    "explorer": {"prediction_success": 0.5, "novelty": 1.5, "coherence": 0.25, "food": 2.0, "effort": 0.25},
    "forager": {"prediction_success": 0.0, "novelty": 0.25, "coherence": 0.0, "food": 8.0, "effort": 0.25},
    "motor": {"prediction_success": 0.0, "novelty": 0.0, "coherence": 0.25, "food": 1.0, "effort": 2.0},
}


@dataclass
class TrainConfig:
    """Everything ``embodied train`` needs. ``dataclasses.fields(TrainConfig)`` carry help text."""

    # -- world and run ---------------------------------------------------------------------
    world: str = _f("procedural:9x9", "maze: a shipped name, a layout file or procedural:WxH (new maze every episode)")
    task: str = _f("explore", "explore (no extrinsic reward) | forage (food pellets) | conditioning (the lab's box)")
    task_options: dict = _f(
        {},
        "keyword options of the task (e.g. conditioning: iti_steps, omission_prob, eat_radius); "
        "names are checked against the task's constructor; {} = the task's defaults",
    )
    num_envs: int = _f(2, "parallel environments stepped in lockstep")
    vector_env: str = _f(
        "sync", "sync (gymnasium SyncVectorEnv, one process) | async (AsyncVectorEnv, one process per env)"
    )
    vision_size: int = _f(32, "rendered camera size in pixels (square); small images keep the CPU run fast")
    total_steps: int = _f(8192, "env steps in total, counting every env")
    episode_steps: int = _f(
        512, "steps per episode per env; every env resets together with a seed from (seed, episode)"
    )
    rollout_steps: int = _f(32, "steps per env collected between learning phases (divides episode_steps)")
    seed: int = _f(0, "seed for envs, networks and every random generator: a whole number in [0, 2^32 - 1]")
    device: str = _f("auto", "auto | cpu | cuda | cuda:N")
    torch_threads: int = _f(
        1, "torch.set_num_threads (0 = leave torch's default; 1 avoids oversubscribing small shared CPUs)"
    )
    # -- world model -----------------------------------------------------------------------
    world_model: str = _f("cpu", "world-model preset: cpu | gpu (embodied.brain.world_model.WorldModelConfig.preset)")
    world_model_overrides: dict = _f(
        {"batch_size": 8, "seq_len": 16}, "WorldModelConfig fields that override the preset"
    )
    intrinsic_overrides: dict = _f({"episodic_capacity": 512}, "IntrinsicConfig fields that override its defaults")
    train_ratio: float = _f(8.0, "replayed steps per env step for the world model (DreamerV3's train ratio)")
    learning_starts: int = _f(256, "env steps collected before the first world-model update")
    replay_capacity: int = _f(20000, "replay capacity in env steps (all envs)")
    # -- ablations -------------------------------------------------------------------------
    intrinsic: bool = _f(True, "intrinsic rewards (prediction success, novelty, coherence) on/off")
    plasticity: bool = _f(True, "structural plasticity: module births and prunes on/off (off: fixed module set)")
    scalar_dopamine: bool = _f(False, "one scalar critic on the weighted reward sum instead of one per channel")
    fixed_tonic: bool = _f(False, "freeze the tonic dopamine level at its reference")
    # -- dopamine --------------------------------------------------------------------------
    channel_weights: dict = _f(
        DEFAULT_CHANNEL_WEIGHTS, "weight of each reward channel in phasic dopamine and the tonic level"
    )
    routing: dict = _f(DEFAULT_ROUTING, "module kind -> channel weights of the RPE that reaches that module")
    gamma: float = _f(0.97, "discount of every critic")
    lam: float = _f(0.9, "λ of the λ-returns (eligibility traces, forward view)")
    critic_taus: list = _f(
        [0.1, 0.3, 0.5, 0.7, 0.9], "expectile asymmetries of the distributional heads (0.5 is the mean critic)"
    )
    critic_units: int = _f(128, "hidden width of the critic heads")
    critic_lr: float = _f(3e-4, "Adam learning rate of the critics")
    critic_epochs: int = _f(1, "critic gradient steps per collected rollout (each recomputes the λ-return targets)")
    critic_replay_updates: int = _f(
        0,
        "extra critic gradient steps per rollout on λ-returns over sequences replayed from "
        "a memory of latent features and reward vectors (0 = off; DreamerV3-style)",
    )
    critic_replay_capacity: int = _f(
        4096, "steps per env kept in the critic's replay memory (bounds how stale features get)"
    )
    critic_replay_batch: int = _f(16, "sequences per replayed critic update")
    critic_replay_seq: int = _f(64, "steps per replayed sequence (λ-returns bootstrap from the slow critic at its end)")
    critic_return_norm: bool = _f(
        False,
        "divide each channel's critic loss by max(σ_c, 0.01)², σ_c² a running variance of its "
        "λ-returns (Pop-Art-style), so a rare small reward is not drowned by large dense ones",
    )
    critic_senses: bool = _f(
        False,
        "the critics also read the rat's own current senses (vision pooled to 4x4x3, scent), "
        "not only the world-model latent",
    )
    critic_sense_traces: list = _f(
        [],
        "time constants τ (steps) of leaky memory traces of those senses, m ← m + (s − m)/τ, "
        "that the critics also read (needs critic_senses; Ludvig, Sutton & Kehoe 2008)",
    )
    critic_sense_delays: list = _f(
        [],
        "delays d (steps) of copies of those senses s_{t-d} that the critics also read: a "
        "delay line, so 'the light came on d steps ago' is a feature (complete serial "
        "compound from the rat's own senses; needs critic_senses)",
    )
    critic_latent: bool = _f(
        True,
        "the critics read the world-model latent; false: only the rat's own senses, their "
        "traces and delay line (inputs that do not drift as the world model trains; needs critic_senses)",
    )
    critic_slow_rate: float = _f(
        0.02, "rate of the slow target critic: θ_slow ← θ_slow + rate (θ − θ_slow) per critic update"
    )
    precision_eps: float = _f(0.1, "ε of precision weighting δ / sqrt(spread + ε)")
    effort_scale: float = _f(1.0, "effort reward = −effort_scale · |a_t − a_{t−1}|²")
    tonic_rate: float = _f(0.01, "tonic update rate κ (ρ ← ρ + κ (r − ρ))")
    tonic_scale: float = _f(1.0, "tonic normalisation: m = tanh(ρ / scale)")
    vigour_range: list = _f([0.4, 1.0], "top-speed multiplier at lowest and highest tonic level")
    temperature_gain: float = _f(1.0, "how strongly tonic dopamine lowers the exploration temperature")
    # -- pathways (policy modules) -----------------------------------------------------------
    initial_modules: list = _f(
        [
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
        ],
        "the starting population: reflexes (forward, turn_left/right, wall_follow_left/right, chemotaxis) and learned explorer/forager/motor actors",
    )
    option_steps: int = _f(8, "steps a selected module keeps control (a motor program)")
    context_bits: int = _f(2, "bits of the latent's locality-sensitive hash: 2^bits striatal contexts")
    selector_beta: float = _f(2.0, "softmax inverse temperature of Go/NoGo selection at tonic temperature 1")
    selector_alpha: float = _f(0.1, "Go/NoGo learning rate (OpAL)")
    selector_baseline_rate: float = _f(
        0.1, "rate of the per-context critic whose value is subtracted from an option's global RPE"
    )
    actor_units: int = _f(64, "hidden width of each learned actor module")
    actor_lr: float = _f(3e-4, "Adam learning rate of the actor modules")
    entropy_coef: float = _f(1e-3, "entropy bonus of the actors")
    strength_rate: float = _f(0.1, "rate of the strength average when a module is selected")
    strength_gain: float = _f(1.0, "credit = 1 + gain · δ, δ the option's global RPE minus the context critic")
    strength_decay: float = _f(0.999, "per-step multiplicative decay of an unused module's strength")
    prune_threshold: float = _f(0.3, "modules weaker than this are pruned")
    spawn_threshold: float = _f(1.15, "modules stronger than this spawn a mutated copy")
    mutation_std: float = _f(0.05, "std of the Gaussian noise added to a copy's weights")
    min_modules: int = _f(3, "never prune below this many modules")
    max_modules: int = _f(12, "never grow beyond this many modules")
    min_age: int = _f(200, "steps a module lives before it may spawn or be pruned")
    # -- logging and checkpoints -------------------------------------------------------------
    log_every: int = _f(512, "env steps between metric rows")
    checkpoint_every: int = _f(4096, "env steps between checkpoints (rounded up to an episode boundary)")
    keep_checkpoints: int = _f(
        2, "step_<N>.pt files kept besides latest.pt (a hard link to the newest: no second copy)"
    )
    video_every: int = _f(8192, "env steps between rollout videos (0 = off); also one at the end when on")
    video_steps: int = _f(300, "steps per rollout video")
    tensorboard: bool = _f(True, "write TensorBoard event files to run_dir/tb")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validated(self) -> "TrainConfig":
        """Types, then finiteness and ranges of every numeric leaf, then the combinations; raises
        ConfigError naming the key (``.key``), its value and what is allowed."""

        def need(cond: bool, msg: str, key: str | None = None):
            if not cond:
                raise ConfigError(msg, key or msg.partition("=")[0].strip())

        for name in FIELDS:
            _check_type(name, getattr(self, name))
        for name in FIELDS:
            _check_finite(name, getattr(self, name), name)
        need(self.num_envs >= 1, f"num_envs={self.num_envs} must be >= 1")
        need(self.critic_epochs >= 1, f"critic_epochs={self.critic_epochs} must be >= 1")
        need(
            self.critic_replay_updates >= 0,
            f"critic_replay_updates={self.critic_replay_updates} must be >= 0 (0 = off)",
        )
        need(
            self.critic_replay_batch >= 1 and self.critic_replay_seq >= 1,
            f"critic_replay_batch={self.critic_replay_batch} and critic_replay_seq={self.critic_replay_seq} must be >= 1",
        )
        need(
            self.critic_replay_capacity > self.critic_replay_seq,
            f"critic_replay_capacity={self.critic_replay_capacity} must exceed critic_replay_seq={self.critic_replay_seq}",
        )
        need(
            all(_is_number(t) and t >= 1 for t in self.critic_sense_traces),
            f"critic_sense_traces={self.critic_sense_traces} must be time constants >= 1 step",
        )
        need(
            self.critic_senses or not self.critic_sense_traces,
            "critic_sense_traces needs critic_senses=true",
            "critic_sense_traces",
        )
        need(
            all(_is_int(d) and 1 <= d <= 1000 for d in self.critic_sense_delays),
            f"critic_sense_delays={self.critic_sense_delays} must be whole steps in [1, 1000]",
        )
        need(
            self.critic_senses or not self.critic_sense_delays,
            "critic_sense_delays needs critic_senses=true",
            "critic_sense_delays",
        )
        need(
            self.critic_latent or self.critic_senses,
            "critic_latent=false needs critic_senses=true (the critics need an input)",
        )
        need(0 < self.critic_slow_rate <= 1, f"critic_slow_rate={self.critic_slow_rate} must lie in (0, 1]")
        for name, allowed in CHOICES.items():
            need(getattr(self, name) in allowed, f"{name}={getattr(self, name)!r}; allowed: {', '.join(allowed)}")
        need(
            bool(re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device.strip().lower())),
            f"device={self.device!r}; allowed: auto, cpu, cuda, cuda:N",
        )
        need(
            0 < len(self.world) <= 4096,
            f"world={self.world[:80]!r} must be a name, a file or procedural:WxH (1 to 4096 characters)",
        )
        for name, rng in RANGES.items():
            _check_range(name, getattr(self, name), rng, name)
        for name, (rng, max_len) in LIST_RANGES.items():
            items = getattr(self, name)
            need(len(items) <= max_len, f"{name} has {len(items)} entries; at most {max_len}")
            for i, item in enumerate(items):
                _check_number(f"{name}[{i}]", item, rng, name, integer=False)
        self._validate_task_options(need)
        need(self.rollout_steps >= 2, f"rollout_steps={self.rollout_steps} must be >= 2")
        need(
            self.episode_steps % self.rollout_steps == 0,
            f"episode_steps={self.episode_steps} must be a multiple of rollout_steps={self.rollout_steps}",
        )
        need(
            self.total_steps >= self.num_envs * self.rollout_steps,
            f"total_steps={self.total_steps} is less than one rollout ({self.num_envs} envs x {self.rollout_steps} steps)",
        )
        self._validate_dopamine(need)
        need(
            len(self.critic_taus) >= 1 and all(0 < t < 1 for t in self.critic_taus),
            "critic_taus must lie in (0, 1)",
            "critic_taus",
        )
        need(
            len(self.vigour_range) == 2 and 0 <= self.vigour_range[0] <= self.vigour_range[1],
            f"vigour_range={self.vigour_range} must be [lo, hi] with 0 <= lo <= hi",
        )
        need(
            self.max_modules >= self.min_modules,
            f"max_modules={self.max_modules} must be >= min_modules={self.min_modules}",
        )
        need(
            self.spawn_threshold > self.prune_threshold,
            f"spawn_threshold={self.spawn_threshold} must exceed prune_threshold={self.prune_threshold}",
        )
        self._validate_world_model(need)
        return self

    def _validate_task_options(self, need) -> None:
        if not self.task_options:
            return
        import inspect

        from embodied.tasks import TASKS

        params = {
            n: p
            for n, p in inspect.signature(TASKS[self.task].__init__).parameters.items()
            if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
        bad = sorted(set(self.task_options) - set(params))
        need(
            not bad,
            f"task_options names unknown option(s) {bad} of task {self.task!r}; allowed: "
            f"{', '.join(params) or 'none (the task takes no options)'}",
            "task_options",
        )
        for name, value in self.task_options.items():
            _check_like_default(f"task_options.{name}", value, params[name].default, "task_options")
            if name in TASK_OPTION_RANGES:
                default = params[name].default
                first = default[0] if isinstance(default, (list, tuple)) and default else default
                for i, item in enumerate(value if isinstance(value, (list, tuple)) else [value]):
                    where = f"task_options.{name}" + (f"[{i}]" if isinstance(value, (list, tuple)) else "")
                    _check_number(where, item, TASK_OPTION_RANGES[name], "task_options", integer=_is_int(first))
        try:  # the task checks its own combinations (building it touches no simulator)
            TASKS[self.task](**self.task_options)
        except (TypeError, ValueError) as err:
            need(False, f"task_options={self.task_options}: {err}", "task_options")

    def _validate_dopamine(self, need) -> None:
        from embodied.brain.basal_ganglia.pathways import MODULE_KINDS, kind_of

        unknown = set(self.channel_weights) - set(REWARD_CHANNELS)
        need(
            not unknown,
            f"channel_weights names unknown channel(s) {sorted(unknown)}; allowed: {', '.join(REWARD_CHANNELS)}",
            "channel_weights",
        )
        for channel, weight in self.channel_weights.items():
            _check_number(f"channel_weights.{channel}", weight, WEIGHT_RANGE, "channel_weights", integer=False)
        for kind, weights in self.routing.items():
            need(
                kind in MODULE_KINDS,
                f"routing names unknown module kind {kind!r}; allowed: {', '.join(MODULE_KINDS)}",
                "routing",
            )
            need(isinstance(weights, dict), f"routing[{kind!r}] must be a dict channel -> weight", "routing")
            bad = set(weights) - set(REWARD_CHANNELS)
            need(
                not bad,
                f"routing[{kind!r}] names unknown channel(s) {sorted(bad)}; allowed: {', '.join(REWARD_CHANNELS)}",
                "routing",
            )
            for channel, weight in weights.items():
                _check_number(f"routing.{kind}.{channel}", weight, WEIGHT_RANGE, "routing", integer=False)
        need(len(self.initial_modules) >= 1, "initial_modules must name at least one module", "initial_modules")
        for name in self.initial_modules:
            need(
                isinstance(name, str) and kind_of(name) in MODULE_KINDS,
                f"initial_modules has {name!r}; allowed: {', '.join(MODULE_KINDS)}",
                "initial_modules",
            )
            need(kind_of(name) in self.routing, f"routing has no row for module kind {kind_of(name)!r}", "routing")
        need(
            len(self.initial_modules) <= self.max_modules,
            f"initial_modules has {len(self.initial_modules)} modules; max_modules={self.max_modules}",
            "initial_modules",
        )

    def _validate_world_model(self, need) -> None:
        from embodied.brain.perception.intrinsic import IntrinsicConfig
        from embodied.brain.perception.world_model import WorldModelConfig

        for key, cls, ranges in (
            ("world_model_overrides", WorldModelConfig, WORLD_MODEL_RANGES),
            ("intrinsic_overrides", IntrinsicConfig, INTRINSIC_RANGES),
        ):
            defaults = {
                f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
                for f in dataclasses.fields(cls)
            }
            for name, value in getattr(self, key).items():
                need(
                    name not in ("device", "seed"),
                    f"{key}.{name} is set from the top-level key {name!r}; set that instead",
                    key,
                )
                need(
                    name in defaults,
                    f"{key} names unknown {cls.__name__} field {name!r}; allowed: "
                    f"{', '.join(n for n in defaults if n not in ('device', 'seed'))}",
                    key,
                )
                _check_like_default(f"{key}.{name}", value, defaults[name], key)
                if name in ranges and not isinstance(value, (dict, list)):
                    _check_number(f"{key}.{name}", value, ranges[name], key, integer=isinstance(defaults[name], int))
                elif isinstance(value, dict):
                    for sub, item in value.items():
                        _check_number(f"{key}.{name}.{sub}", item, WEIGHT_RANGE, key, integer=False)
        try:  # the brain's own checks (powers of two, combinations)
            wm = WorldModelConfig.preset(self.world_model, **{**self.world_model_overrides, "device": "cpu"})
            IntrinsicConfig(**self.intrinsic_overrides).validated()
        except (TypeError, ValueError) as err:
            need(
                False,
                f"world_model={self.world_model!r}, world_model_overrides / intrinsic_overrides: {err}",
                "world_model_overrides",
            )
        rows_per_env = self.replay_capacity // self.num_envs
        need(
            rows_per_env >= wm.seq_len,
            f"replay_capacity={self.replay_capacity} holds {rows_per_env} steps per env, fewer than one world-model "
            f"sequence (seq_len={wm.seq_len}): the world model could never train",
        )
        replay_bytes = self.replay_capacity * (self.vision_size**2 * 3 + 1024)
        need(
            replay_bytes <= MAX_REPLAY_BYTES,
            f"replay_capacity={self.replay_capacity} at vision_size={self.vision_size} needs about "
            f"{replay_bytes / 2**30:.0f} GiB of memory; at most {MAX_REPLAY_BYTES / 2**30:.0f} GiB",
        )
        need(
            self.learning_starts < self.total_steps,
            f"learning_starts={self.learning_starts} is not below total_steps={self.total_steps}: "
            f"the world model would never train",
        )
        updates = self.train_ratio * (self.total_steps - self.learning_starts) / (wm.batch_size * wm.seq_len)
        need(
            updates >= 1,
            f"train_ratio={self.train_ratio} gives {updates:.2g} world-model updates over the run "
            f"(train_ratio x (total_steps - learning_starts) / (batch_size x seq_len)); need >= 1",
        )


@dataclass(frozen=True)
class Range:
    """A closed or half-open interval of allowed values, printed as ``[lo, hi]`` / ``(lo, hi]``."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, x) -> bool:
        above = x > self.lo if self.lo_open else x >= self.lo
        below = x < self.hi if self.hi_open else x <= self.hi
        return above and below

    def __str__(self) -> str:
        def num(v):
            return f"{int(v)}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"

        return f"{'(' if self.lo_open else '['}{num(self.lo)}, {num(self.hi)}{')' if self.hi_open else ']'}"


def _r(lo, hi, lo_open=False, hi_open=False) -> Range:
    return Range(lo, hi, lo_open, hi_open)


UNIT, RATE, POSITIVE_RATE = _r(0, 1), _r(0, 1), _r(0, 1, lo_open=True)
STEPS = _r(1, 10**9)
WIDTH = _r(1, 8192)
WEIGHT_RANGE = _r(0, 1000)
#: memory a replay buffer may ask for (vision frames dominate: replay_capacity x vision_size^2 x 3 bytes)
MAX_REPLAY_BYTES = 64 * 2**30
CHOICES = {
    "vector_env": ("sync", "async"),
    "task": ("explore", "forage", "conditioning"),
    "world_model": ("cpu", "gpu"),
}

#: allowed values of every numeric TrainConfig field (ints must also be whole numbers)
RANGES: dict[str, Range] = {
    "num_envs": _r(1, 64),
    "vision_size": _r(8, 512),
    "total_steps": STEPS,
    "episode_steps": _r(2, 10**7),
    "rollout_steps": _r(2, 10**5),
    "seed": _r(0, 2**32 - 1),
    "torch_threads": _r(0, 1024),
    "train_ratio": _r(0, 4096, lo_open=True),
    "learning_starts": _r(0, 10**9),
    "replay_capacity": _r(2, 10**9),
    "gamma": _r(0, 1, lo_open=True),
    "lam": UNIT,
    "critic_units": WIDTH,
    "critic_lr": _r(0, 1, lo_open=True),
    "critic_epochs": _r(1, 1000),
    "critic_replay_updates": _r(0, 1000),
    "critic_replay_capacity": _r(2, 10**7),
    "critic_replay_batch": _r(1, 4096),
    "critic_replay_seq": _r(1, 4096),
    "critic_slow_rate": POSITIVE_RATE,
    "precision_eps": _r(0, 1e6, lo_open=True),
    "effort_scale": _r(0, 1e6),
    "tonic_rate": RATE,
    "tonic_scale": _r(0, 1e6, lo_open=True),
    "temperature_gain": _r(0, 1000),
    "option_steps": _r(1, 10**6),
    "context_bits": _r(0, 16),
    "selector_beta": _r(0, 1000),
    "selector_alpha": RATE,
    "selector_baseline_rate": RATE,
    "actor_units": WIDTH,
    "actor_lr": _r(0, 1, lo_open=True),
    "entropy_coef": _r(0, 1000),
    "strength_rate": RATE,
    "strength_gain": _r(0, 1000),
    "strength_decay": POSITIVE_RATE,
    "prune_threshold": _r(0, 1000),
    "spawn_threshold": _r(0, 1000),
    "mutation_std": _r(0, 100),
    "min_modules": _r(1, 256),
    "max_modules": _r(1, 256),
    "min_age": _r(0, 10**9),
    "log_every": STEPS,
    "checkpoint_every": STEPS,
    "keep_checkpoints": _r(0, 10**4),
    "video_every": _r(0, 10**9),
    "video_steps": _r(1, 10**6),
}
#: list fields: (range of each item, most items)
LIST_RANGES: dict[str, tuple[Range, int]] = {
    "critic_taus": (_r(0, 1, True, True), 64),
    "critic_sense_traces": (_r(1, 10**6), 64),
    "critic_sense_delays": (_r(1, 1000), 64),
    "vigour_range": (_r(0, 100), 2),
}
#: world_model_overrides: ranges of WorldModelConfig's numeric fields (its own validated() adds powers of two)
WORLD_MODEL_RANGES: dict[str, Range] = {
    "image_size": _r(8, 512),
    "cnn_depth": _r(1, 512),
    "vision_embed": WIDTH,
    "vector_embed": WIDTH,
    "mlp_units": WIDTH,
    "mlp_layers": _r(1, 16),
    "deter": WIDTH,
    "stoch_groups": _r(1, 256),
    "stoch_classes": _r(2, 256),
    "hidden": WIDTH,
    "warp_transforms": _r(1, 16),
    "log_floor": _r(0, 1, lo_open=True),
    "next_huber_delta": _r(0, 1000),
    "unimix": _r(0, 1, hi_open=True),
    "free_bits": _r(0, 1000),
    "kl_dyn_scale": _r(0, 1000),
    "kl_rep_scale": _r(0, 1000),
    "next_obs_scale": _r(0, 1e4),
    "copy_error_decay": _r(0, 1, hi_open=True),
    "copy_error_floor": _r(0, 1, lo_open=True),
    "default_loss_scale": _r(0, 1e4),
    "recon_scale": _r(0, 1e5),
    "lr": _r(0, 1, lo_open=True),
    "adam_eps": _r(0, 1, lo_open=True),
    "grad_clip": _r(0, 1e6, lo_open=True),
    "batch_size": _r(1, 4096),
    "seq_len": _r(2, 4096),
}
#: intrinsic_overrides: ranges of IntrinsicConfig's fields
INTRINSIC_RANGES: dict[str, Range] = {
    "lag_updates": _r(1, 10**6),
    "ensemble_size": _r(2, 64),
    "ensemble_units": WIDTH,
    "episodic_k": _r(1, 1000),
    "episodic_capacity": _r(1, 10**6),
    "embedding_smoothing": _r(0, 1, hi_open=True),
    "novelty_max_modulator": _r(1, 1000),
    "coherence_units": WIDTH,
    "scale_decay": _r(0, 1, hi_open=True),
    "lr": _r(0, 1, lo_open=True),
}
#: task_options: ranges of the tasks' numeric options (steps, probabilities, metres, reward sizes)
TASK_OPTION_RANGES: dict[str, Range] = {
    "cue_steps": _r(1, 10**6),
    "delay_steps": _r(0, 10**6),
    "iti_steps": _r(1, 10**6),
    "omission_prob": UNIT,
    "food_timeout": _r(1, 10**6),
    "eat_radius": _r(0, 1, lo_open=True),
    "reward": _r(-1000, 1000),
    "after_eat_steps": _r(0, 10**6),
    "n_food": _r(1, 64),
    "min_respawn_cells": _r(0, 10**4),
}


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "dict": dict, "list": list}


def _field_type(key: str):
    tp = FIELDS[key].type
    return _TYPES[tp] if isinstance(tp, str) else tp


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_type(key: str, value) -> None:
    tp = _field_type(key)
    ok = _is_int(value) if tp is int else _is_number(value) if tp is float else isinstance(value, tp)
    if not ok:
        raise ConfigError(
            f"{key}={value!r} must be of type {tp.__name__} (got {type(value).__name__}); "
            f"help: {FIELDS[key].metadata['help']}",
            key,
        )


def _check_finite(where: str, value, key: str) -> None:
    """Every number anywhere inside ``value`` (nested dicts and lists) is finite."""
    if isinstance(value, float) and not math.isfinite(value):
        rng = _range_of(where)
        raise ConfigError(f"{where}={value!r} must be a finite number" + (f" in {rng}" if rng else ""), key)
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(f"{where}.{k}", v, key)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(f"{where}[{i}]", v, key)


def _range_of(where: str) -> Range | None:
    """The range of a (possibly nested) key such as ``lr``, ``critic_taus[2]`` or ``world_model_overrides.lr``."""
    top, _, rest = re.sub(r"\[\d+\]$", "", where).partition(".")
    if not rest:
        return RANGES.get(top) or LIST_RANGES.get(top, (None,))[0]
    if top in ("channel_weights", "routing"):
        return WEIGHT_RANGE
    table = {
        "world_model_overrides": WORLD_MODEL_RANGES,
        "intrinsic_overrides": INTRINSIC_RANGES,
        "task_options": TASK_OPTION_RANGES,
    }.get(top, {})
    return table.get(rest)


def _check_number(where: str, value, rng: Range, key: str, integer: bool) -> None:
    kind = "a whole number" if integer else "a finite number"
    ok = (_is_int(value) if integer else _is_number(value)) and math.isfinite(value) and value in rng
    if not ok:
        raise ConfigError(f"{where}={value!r} must be {kind} in {rng}", key)


def _check_range(key: str, value, rng: Range, top: str) -> None:
    _check_number(key, value, rng, top, integer=_field_type(key) is int)


def _check_like_default(where: str, value, default, key: str) -> None:
    """A nested option has the kind of its default (bool, whole number, number, text, list)."""
    if default is None or default is dataclasses.MISSING or default is inspect_empty():
        return
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = _is_int(value), "a whole number"
    elif isinstance(default, float):
        ok, kind = _is_number(value), "a number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    elif isinstance(default, (list, tuple)):
        ok, kind = isinstance(value, (list, tuple)), "a list"
    elif isinstance(default, dict):
        ok, kind = isinstance(value, dict), "a mapping"
    else:
        return
    if not ok:
        raise ConfigError(f"{where}={value!r} must be {kind} (got {type(value).__name__})", key)


def inspect_empty():
    import inspect

    return inspect.Parameter.empty


def _coerce(key: str, value, source: str):
    """Check (and gently convert) a value to the field's declared type: an int field takes a
    whole float (``1e3``), a float field an int, a bool field ``"true"``/``"false"``."""
    tp = _field_type(key)
    if tp is float and _is_int(value):
        return float(value)
    if tp is int and isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if tp is list and isinstance(value, tuple):
        return list(value)
    if tp is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    ok = _is_int(value) if tp is int else _is_number(value) if tp is float else isinstance(value, tp)
    if not ok:
        raise ConfigError(
            f"{source}: {key}={value!r} must be of type {tp.__name__} "
            f"(got {type(value).__name__}); help: {FIELDS[key].metadata['help']}",
            key,
        )
    return value


def _check_keys(keys, source: str) -> None:
    unknown = [k for k in keys if k not in FIELDS]
    if unknown:
        raise ConfigError(
            f"{source}: unknown config key(s) {', '.join(repr(str(k)[:80]) for k in unknown)}; "
            f"allowed keys: {', '.join(FIELDS)}"
        )


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} appears twice")
        seen[key] = value
    return seen


def _read_file(path: Path) -> dict:
    """A config file's mapping; ConfigError (one line) for anything that is not a small UTF-8
    JSON or TOML regular file: a directory, FIFO, device, symlink loop, a huge file, YAML."""
    if path.suffix.lower() in (".yaml", ".yml"):
        raise ConfigError(f"config file {path}: YAML is not supported; use JSON or TOML (see configs/default.json)")
    try:
        info = os.stat(path)  # follows links: a loop raises ELOOP here, before any open()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror or err}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"config file {path} is a directory, not a JSON or TOML file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block open(), /dev/zero would never end
        raise ConfigError(
            f"config file {path} is not a regular file (a FIFO, socket or device); give a JSON or TOML file"
        )
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is {info.st_size} bytes; a config file is at most {MAX_CONFIG_BYTES} bytes"
        )
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {err.start}); JSON and TOML are UTF-8") from None
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            where = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
            msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err)) if where else str(err)
            at = f"{path}:{where.group(1)}:{where.group(2)}" if where else str(path)
            raise ConfigError(f"{at}: not valid TOML: {msg}") from None
    else:
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as err:
            hint = " (is it TOML? name it .toml)" if path.suffix.lower() != ".json" else ""
            raise ConfigError(f"{path}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}{hint}") from None
        except (ValueError, RecursionError) as err:
            raise ConfigError(f"config file {path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[str, typing.Any]:
    """``key=value``; the value is JSON when it parses (numbers, true/false, lists, dicts), else a string.
    JSON's ``NaN`` and ``Infinity`` parse as floats, so validation can name them."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r} must look like key=value")
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        value = raw
    return key.strip(), value


def field_overrides(cls, texts: typing.Iterable[str]) -> dict[str, typing.Any]:
    """``key=value`` overrides (``parse_override``) for the fields of dataclass ``cls``, e.g. a
    script's ``--set`` for ``WorldModelConfig``; an unknown key raises ConfigError naming it and
    the known ones."""
    overrides = dict(parse_override(text) for text in texts)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return overrides


def load_config(
    path: str | Path | None = None, overrides: typing.Iterable[str] | dict = (), sources: dict[str, str] | None = None
) -> TrainConfig:
    """A validated TrainConfig from defaults, then ``path`` (JSON/TOML), then ``overrides``.

    An error names where the faulty key was set: ``config file PATH``, ``--set`` (a list of
    ``key=value`` texts), ``override`` (a dict), the default, or ``sources[key]`` (a command's
    own flag, e.g. ``--steps``)."""
    values: dict = {}
    where: dict[str, str] = {}
    if path is not None:
        source = f"config file {path}"
        data = _read_file(Path(path))
        _check_keys(data, source)
        for k, v in data.items():
            values[k], where[k] = _coerce(k, v, source), source
    if isinstance(overrides, dict):
        items, label = list(overrides.items()), "override"
    else:
        items, label = [parse_override(o) for o in overrides], "--set"
    for key, value in items:
        source = (sources or {}).get(key, label)
        _check_keys([key], source)
        values[key], where[key] = _coerce(key, value, source), source
    try:
        return TrainConfig(**values).validated()
    except ConfigError as err:
        source = where.get(err.key, "default" if err.key in FIELDS else "config")
        raise ConfigError(f"{source}: {err}", err.key) from None


def config_from_dict(data: dict, source: str = "checkpoint") -> TrainConfig:
    """Rebuild a TrainConfig saved by ``to_dict`` (keys checked the same way)."""
    _check_keys(data, source)
    try:
        return TrainConfig(**{k: _coerce(k, v, source) for k, v in data.items()}).validated()
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}", err.key) from None
