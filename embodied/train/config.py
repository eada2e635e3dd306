"""Training configuration: one dataclass, every knob named, defaulted and explained.

    cfg = load_config("configs/default.json", overrides=["total_steps=2000", "intrinsic=false"])

``load_config`` reads a JSON (or TOML) file of ``key: value`` pairs, then applies
``key=value`` overrides (values parsed as JSON when they parse, else taken as strings).
An unknown key is an error naming the key, the file and the allowed keys; a value of the
wrong type names the key and the expected type. Nothing is silently ignored.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

from embodied.brain.dopamine import REWARD_CHANNELS


class ConfigError(ValueError):
    """A config file or override that cannot be turned into a TrainConfig."""


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
    task_options: dict = _f({}, "keyword options of the task (e.g. conditioning: iti_steps, omission_prob, eat_radius); "
                                "names are checked against the task's constructor; {} = the task's defaults")
    num_envs: int = _f(2, "parallel environments stepped in lockstep")
    vector_env: str = _f("sync", "sync (gymnasium SyncVectorEnv, one process) | async (AsyncVectorEnv, one process per env)")
    vision_size: int = _f(32, "rendered camera size in pixels (square); small images keep the CPU run fast")
    total_steps: int = _f(8192, "env steps in total, counting every env")
    episode_steps: int = _f(512, "steps per episode per env; every env resets together with a seed from (seed, episode)")
    rollout_steps: int = _f(32, "steps per env collected between learning phases (divides episode_steps)")
    seed: int = _f(0, "seed for envs, networks and every random generator")
    device: str = _f("auto", "auto | cpu | cuda | cuda:N")
    torch_threads: int = _f(1, "torch.set_num_threads (0 = leave torch's default; 1 avoids oversubscribing small shared CPUs)")
    # -- world model -----------------------------------------------------------------------
    world_model: str = _f("cpu", "world-model preset: cpu | gpu (embodied.brain.world_model.WorldModelConfig.preset)")
    world_model_overrides: dict = _f({"batch_size": 8, "seq_len": 16}, "WorldModelConfig fields that override the preset")
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
    channel_weights: dict = _f(DEFAULT_CHANNEL_WEIGHTS, "weight of each reward channel in phasic dopamine and the tonic level")
    routing: dict = _f(DEFAULT_ROUTING, "module kind -> channel weights of the RPE that reaches that module")
    gamma: float = _f(0.97, "discount of every critic")
    lam: float = _f(0.9, "λ of the λ-returns (eligibility traces, forward view)")
    critic_taus: list = _f([0.1, 0.3, 0.5, 0.7, 0.9], "expectile asymmetries of the distributional heads (0.5 is the mean critic)")
    critic_units: int = _f(128, "hidden width of the critic heads")
    critic_lr: float = _f(3e-4, "Adam learning rate of the critics")
    critic_epochs: int = _f(1, "critic gradient steps per collected rollout (each recomputes the λ-return targets)")
    critic_replay_updates: int = _f(0, "extra critic gradient steps per rollout on λ-returns over sequences replayed from "
                                       "a memory of latent features and reward vectors (0 = off; DreamerV3-style)")
    critic_replay_capacity: int = _f(4096, "steps per env kept in the critic's replay memory (bounds how stale features get)")
    critic_replay_batch: int = _f(16, "sequences per replayed critic update")
    critic_replay_seq: int = _f(64, "steps per replayed sequence (λ-returns bootstrap from the slow critic at its end)")
    critic_return_norm: bool = _f(False, "divide each channel's critic loss by max(σ_c, 0.01)², σ_c² a running variance of its "
                                         "λ-returns (Pop-Art-style), so a rare small reward is not drowned by large dense ones")
    critic_senses: bool = _f(False, "the critics also read the rat's own current senses (vision pooled to 4x4x3, scent), "
                                    "not only the world-model latent")
    critic_sense_traces: list = _f([], "time constants τ (steps) of leaky memory traces of those senses, m ← m + (s − m)/τ, "
                                       "that the critics also read (needs critic_senses; Ludvig, Sutton & Kehoe 2008)")
    critic_sense_delays: list = _f([], "delays d (steps) of copies of those senses s_{t-d} that the critics also read: a "
                                       "delay line, so 'the light came on d steps ago' is a feature (complete serial "
                                       "compound from the rat's own senses; needs critic_senses)")
    critic_latent: bool = _f(True, "the critics read the world-model latent; false: only the rat's own senses, their "
                                   "traces and delay line (inputs that do not drift as the world model trains; needs critic_senses)")
    critic_slow_rate: float = _f(0.02, "rate of the slow target critic: θ_slow ← θ_slow + rate (θ − θ_slow) per critic update")
    precision_eps: float = _f(0.1, "ε of precision weighting δ / sqrt(spread + ε)")
    effort_scale: float = _f(1.0, "effort reward = −effort_scale · |a_t − a_{t−1}|²")
    tonic_rate: float = _f(0.01, "tonic update rate κ (ρ ← ρ + κ (r − ρ))")
    tonic_scale: float = _f(1.0, "tonic normalisation: m = tanh(ρ / scale)")
    vigour_range: list = _f([0.4, 1.0], "top-speed multiplier at lowest and highest tonic level")
    temperature_gain: float = _f(1.0, "how strongly tonic dopamine lowers the exploration temperature")
    # -- pathways (policy modules) -----------------------------------------------------------
    initial_modules: list = _f(["forward", "turn_left", "turn_right", "wall_follow_left", "wall_follow_right",
                                   "chemotaxis", "explorer", "explorer", "forager", "motor"],
                               "the starting population: reflexes (forward, turn_left/right, wall_follow_left/right, chemotaxis) and learned explorer/forager/motor actors")
    option_steps: int = _f(8, "steps a selected module keeps control (a motor program)")
    context_bits: int = _f(2, "bits of the latent's locality-sensitive hash: 2^bits striatal contexts")
    selector_beta: float = _f(2.0, "softmax inverse temperature of Go/NoGo selection at tonic temperature 1")
    selector_alpha: float = _f(0.1, "Go/NoGo learning rate (OpAL)")
    selector_baseline_rate: float = _f(0.1, "rate of the per-context critic whose value is subtracted from an option's global RPE")
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
    keep_checkpoints: int = _f(2, "step_<N>.pt files kept (latest.pt always)")
    video_every: int = _f(8192, "env steps between rollout videos (0 = off); also one at the end when on")
    video_steps: int = _f(300, "steps per rollout video")
    tensorboard: bool = _f(True, "write TensorBoard event files to run_dir/tb")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validated(self) -> "TrainConfig":
        def need(cond: bool, msg: str):
            if not cond:
                raise ConfigError(msg)
        need(self.num_envs >= 1, f"num_envs={self.num_envs} must be >= 1")
        need(self.critic_epochs >= 1, f"critic_epochs={self.critic_epochs} must be >= 1")
        need(self.critic_replay_updates >= 0, f"critic_replay_updates={self.critic_replay_updates} must be >= 0 (0 = off)")
        need(self.critic_replay_batch >= 1 and self.critic_replay_seq >= 1,
             f"critic_replay_batch={self.critic_replay_batch} and critic_replay_seq={self.critic_replay_seq} must be >= 1")
        need(self.critic_replay_capacity > self.critic_replay_seq,
             f"critic_replay_capacity={self.critic_replay_capacity} must exceed critic_replay_seq={self.critic_replay_seq}")
        need(all(isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 1 for t in self.critic_sense_traces),
             f"critic_sense_traces={self.critic_sense_traces} must be time constants >= 1 step")
        need(self.critic_senses or not self.critic_sense_traces, "critic_sense_traces needs critic_senses=true")
        need(all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 1000 for d in self.critic_sense_delays),
             f"critic_sense_delays={self.critic_sense_delays} must be whole steps in [1, 1000]")
        need(self.critic_senses or not self.critic_sense_delays, "critic_sense_delays needs critic_senses=true")
        need(self.critic_latent or self.critic_senses, "critic_latent=false needs critic_senses=true (the critics need an input)")
        need(0 < self.critic_slow_rate <= 1, f"critic_slow_rate={self.critic_slow_rate} must lie in (0, 1]")
        need(self.vector_env in ("sync", "async"), f"vector_env={self.vector_env!r}; allowed: sync, async")
        need(self.task in ("explore", "forage", "conditioning"), f"task={self.task!r}; allowed: explore, forage, conditioning")
        if self.task_options:
            import inspect
            from embodied.tasks import TASKS
            allowed = [n for n in inspect.signature(TASKS[self.task].__init__).parameters if n != "self"]
            bad = sorted(set(self.task_options) - set(allowed))
            need(not bad, f"task_options names unknown option(s) {bad} of task {self.task!r}; allowed: {', '.join(allowed)}")
            try:  # the task checks its own values (building it touches no simulator)
                TASKS[self.task](**self.task_options)
            except (TypeError, ValueError) as err:
                need(False, f"task_options={self.task_options}: {err}")
        need(self.rollout_steps >= 2, f"rollout_steps={self.rollout_steps} must be >= 2")
        need(self.episode_steps % self.rollout_steps == 0,
             f"episode_steps={self.episode_steps} must be a multiple of rollout_steps={self.rollout_steps}")
        need(self.total_steps >= self.num_envs * self.rollout_steps,
             f"total_steps={self.total_steps} is less than one rollout ({self.num_envs} envs x {self.rollout_steps} steps)")
        unknown = set(self.channel_weights) - set(REWARD_CHANNELS)
        need(not unknown, f"channel_weights names unknown channel(s) {sorted(unknown)}; allowed: {', '.join(REWARD_CHANNELS)}")
        for kind, weights in self.routing.items():
            need(isinstance(weights, dict), f"routing[{kind!r}] must be a dict channel -> weight")
            bad = set(weights) - set(REWARD_CHANNELS)
            need(not bad, f"routing[{kind!r}] names unknown channel(s) {sorted(bad)}; allowed: {', '.join(REWARD_CHANNELS)}")
        from embodied.brain.pathways import MODULE_KINDS, kind_of
        for name in self.initial_modules:
            need(kind_of(name) in MODULE_KINDS, f"initial_modules has {name!r}; allowed: {', '.join(MODULE_KINDS)}")
            need(kind_of(name) in self.routing, f"routing has no row for module kind {kind_of(name)!r}")
        need(len(self.initial_modules) >= 1, "initial_modules must name at least one module")
        need(0 < self.gamma <= 1 and 0 <= self.lam <= 1, f"gamma={self.gamma}, lam={self.lam} must lie in (0, 1] and [0, 1]")
        need(len(self.critic_taus) >= 1 and all(0 < t < 1 for t in self.critic_taus), "critic_taus must lie in (0, 1)")
        need(len(self.vigour_range) == 2 and 0 <= self.vigour_range[0] <= self.vigour_range[1],
             f"vigour_range={self.vigour_range} must be [lo, hi] with 0 <= lo <= hi")
        need(self.min_modules >= 1 and self.max_modules >= self.min_modules, "need 1 <= min_modules <= max_modules")
        for key in ("log_every", "checkpoint_every", "option_steps", "video_steps"):
            need(getattr(self, key) >= 1, f"{key}={getattr(self, key)} must be >= 1")
        need(self.video_every >= 0 and self.keep_checkpoints >= 0, "video_every and keep_checkpoints must be >= 0")
        return self


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, value, source: str):
    """Check (and gently convert) a value to the field's declared type."""
    tp = {"str": str, "int": int, "float": float, "bool": bool, "dict": dict, "list": list}[FIELDS[key].type] \
        if isinstance(FIELDS[key].type, str) else FIELDS[key].type
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is list and isinstance(value, tuple):
        return list(value)
    if tp is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {key}={value!r} must be of type {_type_name(tp)} "
                          f"(got {type(value).__name__}); help: {FIELDS[key].metadata['help']}")
    return value


def _check_keys(keys, source: str) -> None:
    unknown = [k for k in keys if k not in FIELDS]
    if unknown:
        raise ConfigError(f"{source}: unknown config key(s) {', '.join(repr(k) for k in unknown)}; "
                          f"allowed keys: {', '.join(FIELDS)}")


def _read_file(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            import tomllib
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (ValueError, json.JSONDecodeError) as err:
        raise ConfigError(f"config file {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[str, typing.Any]:
    """``key=value``; the value is JSON when it parses (numbers, true/false, lists, dicts), else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like key=value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
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


def load_config(path: str | Path | None = None, overrides: typing.Iterable[str] | dict = ()) -> TrainConfig:
    """A validated TrainConfig from defaults, then ``path`` (JSON/TOML), then ``overrides``."""
    values: dict = {}
    if path is not None:
        data = _read_file(Path(path))
        _check_keys(data, f"config file {path}")
        values.update({k: _coerce(k, v, f"config file {path}") for k, v in data.items()})
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
    for key, value in items:
        _check_keys([key], "override")
        values[key] = _coerce(key, value, "override")
    try:
        return TrainConfig(**values).validated()
    except ConfigError as err:
        raise ConfigError(f"{f'config file {path}' if path else 'config'}: {err}") from None


def config_from_dict(data: dict, source: str = "checkpoint") -> TrainConfig:
    """Rebuild a TrainConfig saved by ``to_dict`` (keys checked the same way)."""
    _check_keys(data, source)
    return TrainConfig(**{k: _coerce(k, v, source) for k, v in data.items()}).validated()
