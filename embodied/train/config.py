"""Training configuration: one tree of sections, every knob named, defaulted, explained and bounded.

    cfg = load_config("configs/default.json", overrides=["run.total_steps=2000", "intrinsic=false"])
    cfg.run.total_steps, cfg.env.world, cfg.brain.dopamine.gamma

The tree is ``{env, run, brain: {perception, dopamine, basal_ganglia}}``. Each section is a
dataclass that is the single source of its knobs' defaults, help lines and ranges
(:func:`embodied.settings.setting`): ``env`` and ``run`` here, the brain's three in
``embodied.brain.*.config`` beside the parts they configure. ``configs/default.json`` is this
tree written out (``python3 -m embodied.train.config --write-default``; a test checks they match).

``load_config`` reads a JSON (or TOML) file, then applies ``key=value`` overrides (values parsed
as JSON when they parse, else taken as strings). A key is a dotted path (``brain.dopamine.gamma``),
or a knob's name alone (``gamma``: every name is unique in the tree), and may continue into a
mapping-valued knob (``brain.dopamine.channel_weights.food=3`` changes one entry). In a file,
sections nest as mappings (``{"run": {"seed": 3}}``, or ``[run]`` tables in TOML).
Nothing is silently ignored or silently wrong:

- an unknown key is an error naming the key, the source and the closest known keys;
- a value of the wrong type names the key and the expected type;
- every numeric leaf, nested ones included (``channel_weights``, ``routing``,
  ``world_model_overrides``, ``intrinsic_overrides``, ``task_options``), must be finite and
  inside its range (the sections' ``setting`` metadata, ``WORLD_MODEL_RANGES``,
  ``INTRINSIC_RANGES``, ``TASK_OPTION_RANGES``); the error names the source (the file or
  ``--set``), the key, the value and the range;
- combinations that would train nothing are refused (a world model that would never get an
  update: ``learning_starts`` at or past ``total_steps``, a train ratio too small for one
  batch, a replay smaller than one sequence);
- a config file must be a regular file of at most ``MAX_CONFIG_BYTES`` in UTF-8 JSON or TOML;
  a syntax error names ``file:line:col``; YAML is refused by name (PyYAML is not a dependency).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from embodied.brain.config import BrainConfig
from embodied.brain.dopamine.rules import REWARD_CHANNELS
from embodied.errors import UserError
from embodied.settings import STEPS, UNIT, WEIGHT, WIDTH, Range, setting

#: a config file larger than this is not a config file (the default one is 4 kB)
MAX_CONFIG_BYTES = 1 << 20


class ConfigError(UserError, ValueError):
    """A config file or override that cannot be turned into a TrainConfig; ``key`` names the
    knob at fault when there is one (so the message can name where it was set)."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass
class EnvConfig:
    """The ``env`` section: which world, which task, what the rat's camera renders."""

    world: str = setting(
        "procedural:9x9", "maze: a shipped name, a layout file or procedural:WxH (new maze every episode)"
    )
    task: str = setting(
        "explore",
        "explore (no extrinsic reward) | forage (food pellets) | conditioning (the lab's box)",
        choices=("explore", "forage", "conditioning"),
    )
    task_options: dict = setting(
        {},
        "keyword options of the task (e.g. conditioning: iti_steps, omission_prob, eat_radius); "
        "names are checked against the task's constructor; {} = the task's defaults",
    )
    vision_size: int = setting(
        32, "rendered camera size in pixels (square); small images keep the CPU run fast", Range(8, 512)
    )
    episode_steps: int = setting(
        512, "steps per episode per env; every env resets together with a seed from (seed, episode)", Range(2, 10**7)
    )


@dataclass
class RunConfig:
    """The ``run`` section: how long, how many bodies, which device, replay, logs and checkpoints."""

    num_envs: int = setting(2, "parallel environments stepped in lockstep", Range(1, 64))
    vector_env: str = setting(
        "sync",
        "sync (gymnasium SyncVectorEnv, one process) | async (AsyncVectorEnv, one process per env) | "
        "ray (Ray actors step the envs, here or on a cluster; the agent stays in this process)",
        choices=("sync", "async", "ray"),
    )
    envs_per_worker: int = setting(
        1, "vector_env=ray: envs each Ray actor owns and steps (more per actor, fewer round trips)", Range(1, 64)
    )
    ray_address: str = setting(
        "",
        "vector_env=ray: '' = a local Ray instance (or the one this process already joined); "
        "auto or HOST:PORT = join a running cluster (ray start --head)",
    )
    ray_timeout_s: float = setting(
        60.0, "vector_env=ray: seconds to wait for an env worker or a cluster before a one-line error", Range(1, 3600)
    )
    total_steps: int = setting(8192, "env steps in total, counting every env", STEPS)
    rollout_steps: int = setting(
        32, "steps per env collected between learning phases (divides episode_steps)", Range(2, 10**5)
    )
    seed: int = setting(
        0, "seed for envs, networks and every random generator: a whole number in [0, 2^32 - 1]", Range(0, 2**32 - 1)
    )
    device: str = setting("auto", "auto | cpu | cuda | cuda:N")
    torch_threads: int = setting(
        1,
        "torch.set_num_threads (0 = leave torch's default; 1 avoids oversubscribing small shared CPUs)",
        Range(0, 1024),
    )
    train_ratio: float = setting(
        8.0, "replayed steps per env step for the world model (DreamerV3's train ratio)", Range(0, 4096, lo_open=True)
    )
    learning_starts: int = setting(256, "env steps collected before the first world-model update", Range(0, 10**9))
    replay_capacity: int = setting(20000, "replay capacity in env steps (all envs)", Range(2, 10**9))
    log_every: int = setting(512, "env steps between metric rows", STEPS)
    checkpoint_every: int = setting(4096, "env steps between checkpoints (rounded up to an episode boundary)", STEPS)
    keep_checkpoints: int = setting(
        2, "step_<N>.pt files kept besides latest.pt (a hard link to the newest: no second copy)", Range(0, 10**4)
    )
    video_every: int = setting(
        8192, "env steps between rollout videos (0 = off); also one at the end when on", Range(0, 10**9)
    )
    video_steps: int = setting(300, "steps per rollout video", Range(1, 10**6))
    tensorboard: bool = setting(True, "write TensorBoard event files to run_dir/tb")


@dataclass
class TrainConfig:
    """Everything ``embodied train`` needs: ``env``, ``run`` and ``brain`` (perception, dopamine,
    basal_ganglia). ``PATHS`` maps each knob's name to its place in the tree."""

    env: EnvConfig = field(default_factory=EnvConfig)
    run: RunConfig = field(default_factory=RunConfig)
    brain: BrainConfig = field(default_factory=BrainConfig)

    def to_dict(self) -> dict:
        """The nested mapping (what config.json and checkpoints hold)."""
        return dataclasses.asdict(self)

    def leaves(self) -> dict[str, typing.Any]:
        """``{knob name: value}`` over the whole tree (names are unique)."""
        return {name: self.get(name) for name in PATHS}

    def get(self, name: str):
        """A knob by its name alone (``cfg.get("gamma")`` is ``cfg.brain.dopamine.gamma``)."""
        node = self
        for part in PATHS[name]:
            node = getattr(node, part)
        return node

    def validated(self) -> "TrainConfig":
        """Types, then finiteness and ranges of every numeric leaf, then the combinations; raises
        ConfigError naming the knob (``.key``), its value and what is allowed."""
        _validate(types.SimpleNamespace(**self.leaves()))
        return self

    @classmethod
    def from_leaves(cls, values: dict) -> "TrainConfig":
        """A TrainConfig from ``{knob name: value}`` (missing knobs keep their defaults)."""
        cfg = cls()
        for name, value in values.items():
            *sections, leaf = PATHS[name]
            node = cfg
            for part in sections:
                node = getattr(node, part)
            setattr(node, leaf, value)
        return cfg


def _walk(cls, prefix: tuple[str, ...] = ()):
    """(path, Field) of every knob under the dataclass ``cls``, in declaration order."""
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            yield from _walk(type(default), (*prefix, f.name))
        else:
            yield (*prefix, f.name), f


#: knob name -> its path in the tree, e.g. "gamma" -> ("brain", "dopamine", "gamma")
PATHS: dict[str, tuple[str, ...]] = {}
#: knob name -> its dataclass field (help, range, choices in ``metadata``)
FIELDS: dict[str, dataclasses.Field] = {}
for _path, _field in _walk(TrainConfig):
    if _path[-1] in PATHS:  # a name used twice would make the short form ambiguous
        raise RuntimeError(f"config knob {_path[-1]!r} appears at {PATHS[_path[-1]]} and {_path}")
    PATHS[_path[-1]], FIELDS[_path[-1]] = _path, _field
#: section paths ("env", "brain", "brain.dopamine", ...) -> the knobs directly inside them
SECTIONS: dict[str, list[str]] = {}
for _name, _path in PATHS.items():
    for _depth in range(1, len(_path)):
        SECTIONS.setdefault(".".join(_path[:_depth]), [])
    SECTIONS[".".join(_path[:-1])].append(_name)

#: allowed values of every numeric knob (ints must also be whole numbers), from the sections' metadata
RANGES: dict[str, Range] = {
    n: f.metadata["range"] for n, f in FIELDS.items() if f.metadata.get("range") and f.type not in ("list", list)
}
#: list knobs: (range of each item, most items)
LIST_RANGES: dict[str, tuple[Range, int]] = {
    n: (f.metadata["range"], f.metadata["max_items"] or 64)
    for n, f in FIELDS.items()
    if f.metadata.get("range") and f.type in ("list", list)
}
#: string knobs with a fixed set of values
CHOICES: dict[str, tuple[str, ...]] = {n: f.metadata["choices"] for n, f in FIELDS.items() if f.metadata.get("choices")}


def dotted(name: str) -> str:
    """``gamma`` -> ``brain.dopamine.gamma``."""
    return ".".join(PATHS[name])


def leaves_of(data: dict, source: str = "config") -> dict[str, typing.Any]:
    """``{knob name: value}`` from a nested (or short-form) mapping such as a saved config.json."""
    values: dict = {}
    for key, value in data.items():
        _assign(values, str(key), value, source, {})
    return values


WEIGHT_RANGE = WEIGHT
#: memory a replay buffer may ask for (vision frames dominate: replay_capacity x vision_size^2 x 3 bytes)
MAX_REPLAY_BYTES = 64 * 2**30


def _r(lo, hi, lo_open=False, hi_open=False) -> Range:
    return Range(lo, hi, lo_open, hi_open)


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
    "prediction_every": _r(1, 10**6),
    "place_bonus_power": _r(0, 100, lo_open=True),
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


def _validate(v) -> None:
    """Types, then finiteness and ranges of every numeric leaf, then the combinations; raises
    ConfigError naming the key (``.key``), its value and what is allowed."""

    def need(cond: bool, msg: str, key: str | None = None):
        if not cond:
            raise ConfigError(msg, key or msg.partition("=")[0].strip())

    for name in FIELDS:
        _check_type(name, getattr(v, name))
    for name in FIELDS:
        _check_finite(name, getattr(v, name), name)
    need(v.num_envs >= 1, f"num_envs={v.num_envs} must be >= 1")
    need(v.critic_epochs >= 1, f"critic_epochs={v.critic_epochs} must be >= 1")
    need(
        v.critic_replay_updates >= 0,
        f"critic_replay_updates={v.critic_replay_updates} must be >= 0 (0 = off)",
    )
    need(
        v.critic_replay_batch >= 1 and v.critic_replay_seq >= 1,
        f"critic_replay_batch={v.critic_replay_batch} and critic_replay_seq={v.critic_replay_seq} must be >= 1",
    )
    need(
        v.critic_replay_capacity > v.critic_replay_seq,
        f"critic_replay_capacity={v.critic_replay_capacity} must exceed critic_replay_seq={v.critic_replay_seq}",
    )
    need(
        all(_is_number(t) and t >= 1 for t in v.critic_sense_traces),
        f"critic_sense_traces={v.critic_sense_traces} must be time constants >= 1 step",
    )
    need(
        v.critic_senses or not v.critic_sense_traces,
        "critic_sense_traces needs critic_senses=true",
        "critic_sense_traces",
    )
    need(
        all(_is_int(d) and 1 <= d <= 1000 for d in v.critic_sense_delays),
        f"critic_sense_delays={v.critic_sense_delays} must be whole steps in [1, 1000]",
    )
    need(
        v.critic_senses or not v.critic_sense_delays,
        "critic_sense_delays needs critic_senses=true",
        "critic_sense_delays",
    )
    need(
        v.critic_latent or v.critic_senses,
        "critic_latent=false needs critic_senses=true (the critics need an input)",
    )
    need(0 < v.critic_slow_rate <= 1, f"critic_slow_rate={v.critic_slow_rate} must lie in (0, 1]")
    for name, allowed in CHOICES.items():
        value = getattr(v, name)
        if isinstance(value, list):  # a list of choices: each item allowed, none twice
            bad = [item for item in value if item not in allowed]
            need(not bad, f"{name} has {bad[0]!r}; allowed items: {', '.join(allowed)}" if bad else "", name)
            need(len(set(value)) == len(value), f"{name}={value!r} names an item twice", name)
            continue
        need(value in allowed, f"{name}={value!r}; allowed: {', '.join(allowed)}")
    need(
        bool(re.fullmatch(r"auto|cpu|cuda(:\d+)?", v.device.strip().lower())),
        f"device={v.device!r}; allowed: auto, cpu, cuda, cuda:N",
    )
    need(
        0 < len(v.world) <= 4096,
        f"world={v.world[:80]!r} must be a name, a file or procedural:WxH (1 to 4096 characters)",
    )
    for name, rng in RANGES.items():
        _check_range(name, getattr(v, name), rng, name)
    for name, (rng, max_len) in LIST_RANGES.items():
        items = getattr(v, name)
        need(len(items) <= max_len, f"{name} has {len(items)} entries; at most {max_len}")
        for i, item in enumerate(items):
            _check_number(f"{name}[{i}]", item, rng, name, integer=False)
    _validate_task_options(v, need)
    need(v.rollout_steps >= 2, f"rollout_steps={v.rollout_steps} must be >= 2")
    need(
        v.episode_steps % v.rollout_steps == 0,
        f"episode_steps={v.episode_steps} must be a multiple of rollout_steps={v.rollout_steps}",
    )
    need(
        v.total_steps >= v.num_envs * v.rollout_steps,
        f"total_steps={v.total_steps} is less than one rollout ({v.num_envs} envs x {v.rollout_steps} steps)",
    )
    _validate_dopamine(v, need)
    need(
        len(v.critic_taus) >= 1 and all(0 < t < 1 for t in v.critic_taus),
        "critic_taus must lie in (0, 1)",
        "critic_taus",
    )
    need(
        len(v.vigour_range) == 2 and 0 <= v.vigour_range[0] <= v.vigour_range[1],
        f"vigour_range={v.vigour_range} must be [lo, hi] with 0 <= lo <= hi",
    )
    need(
        v.max_modules >= v.min_modules,
        f"max_modules={v.max_modules} must be >= min_modules={v.min_modules}",
    )
    need(
        v.spawn_threshold > v.prune_threshold,
        f"spawn_threshold={v.spawn_threshold} must exceed prune_threshold={v.prune_threshold}",
    )
    _validate_world_model(v, need)
    return None


def _validate_task_options(v, need) -> None:
    if not v.task_options:
        return
    import inspect

    from embodied.tasks import TASKS

    params = {
        n: p
        for n, p in inspect.signature(TASKS[v.task].__init__).parameters.items()
        if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    bad = sorted(set(v.task_options) - set(params))
    need(
        not bad,
        f"task_options names unknown option(s) {bad} of task {v.task!r}; allowed: "
        f"{', '.join(params) or 'none (the task takes no options)'}",
        "task_options",
    )
    for name, value in v.task_options.items():
        _check_like_default(f"task_options.{name}", value, params[name].default, "task_options")
        if name in TASK_OPTION_RANGES:
            default = params[name].default
            first = default[0] if isinstance(default, (list, tuple)) and default else default
            for i, item in enumerate(value if isinstance(value, (list, tuple)) else [value]):
                where = f"task_options.{name}" + (f"[{i}]" if isinstance(value, (list, tuple)) else "")
                _check_number(where, item, TASK_OPTION_RANGES[name], "task_options", integer=_is_int(first))
    try:  # the task checks its own combinations (building it touches no simulator)
        TASKS[v.task](**v.task_options)
    except (TypeError, ValueError) as err:
        need(False, f"task_options={v.task_options}: {err}", "task_options")


def _validate_dopamine(v, need) -> None:
    from embodied.brain.basal_ganglia.pathways import MODULE_KINDS, REFLEX_KINDS, kind_of

    unknown = set(v.channel_weights) - set(REWARD_CHANNELS)
    need(
        not unknown,
        f"channel_weights names unknown channel(s) {sorted(unknown)}; allowed: {', '.join(REWARD_CHANNELS)}",
        "channel_weights",
    )
    for channel, weight in v.channel_weights.items():
        _check_number(f"channel_weights.{channel}", weight, WEIGHT_RANGE, "channel_weights", integer=False)
    for kind, weights in v.routing.items():
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
    need(len(v.initial_modules) >= 1, "initial_modules must name at least one module", "initial_modules")
    need(
        not v.actor_mirror_symmetric or bool(v.actor_senses),
        'actor_mirror_symmetric=true needs actor_senses (e.g. ["touch", "proprio"]): a mirror of the '
        "latent alone would hold every learned actor's turn at 0",
        "actor_mirror_symmetric",
    )
    need(
        v.innate_reflexes or any(kind_of(m) not in REFLEX_KINDS for m in v.initial_modules if isinstance(m, str)),
        f"innate_reflexes=false leaves no module: initial_modules={v.initial_modules} are all reflexes "
        f"({', '.join(REFLEX_KINDS)}); add a learned one (explorer, forager, motor)",
        "innate_reflexes",
    )
    for name in v.initial_modules:
        need(
            isinstance(name, str) and kind_of(name) in MODULE_KINDS,
            f"initial_modules has {name!r}; allowed: {', '.join(MODULE_KINDS)}",
            "initial_modules",
        )
        need(kind_of(name) in v.routing, f"routing has no row for module kind {kind_of(name)!r}", "routing")
    need(
        len(v.initial_modules) <= v.max_modules,
        f"initial_modules has {len(v.initial_modules)} modules; max_modules={v.max_modules}",
        "initial_modules",
    )


def _validate_world_model(v, need) -> None:
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
        for name, value in getattr(v, key).items():
            need(
                name not in ("device", "seed"),
                f"{key}.{name} is set from run.{name}; set that instead",
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
        wm = WorldModelConfig.preset(v.world_model, **{**v.world_model_overrides, "device": "cpu"})
        IntrinsicConfig(**v.intrinsic_overrides).validated()
    except (TypeError, ValueError) as err:
        need(
            False,
            f"world_model={v.world_model!r}, world_model_overrides / intrinsic_overrides: {err}",
            "world_model_overrides",
        )
    rows_per_env = v.replay_capacity // v.num_envs
    need(
        rows_per_env >= wm.seq_len,
        f"replay_capacity={v.replay_capacity} holds {rows_per_env} steps per env, fewer than one world-model "
        f"sequence (seq_len={wm.seq_len}): the world model could never train",
    )
    replay_bytes = v.replay_capacity * (v.vision_size**2 * 3 + 1024)
    need(
        replay_bytes <= MAX_REPLAY_BYTES,
        f"replay_capacity={v.replay_capacity} at vision_size={v.vision_size} needs about "
        f"{replay_bytes / 2**30:.0f} GiB of memory; at most {MAX_REPLAY_BYTES / 2**30:.0f} GiB",
    )
    need(
        v.learning_starts < v.total_steps,
        f"learning_starts={v.learning_starts} is not below total_steps={v.total_steps}: "
        f"the world model would never train",
    )
    updates = v.train_ratio * (v.total_steps - v.learning_starts) / (wm.batch_size * wm.seq_len)
    need(
        updates >= 1,
        f"train_ratio={v.train_ratio} gives {updates:.2g} world-model updates over the run "
        f"(train_ratio x (total_steps - learning_starts) / (batch_size x seq_len)); need >= 1",
    )


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


def _unknown(key: str, source: str, section: str | None = None) -> ConfigError:
    """An unknown key, with the closest known keys (short and dotted forms)."""
    known = list(PATHS) + [dotted(n) for n in PATHS] + list(SECTIONS)
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    where = f" in section {section!r} (its keys: {', '.join(SECTIONS[section])})" if section else ""
    return ConfigError(
        f"{source}: unknown config key {key[:80]!r}{where}{hint}; a key is a dotted path such as "
        f"run.total_steps or a knob's name alone (total_steps); `embodied train --list-keys` lists them"
    )


def _assign(values: dict, key: str, value, source: str, where: dict) -> None:
    """Put ``key = value`` into ``values`` (knob name -> value). ``key`` is a section (its value a
    mapping of keys inside it), a dotted path, a knob's name, or either followed by ``.entry``
    into a mapping-valued knob."""
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"{source}: config key {key[:80]!r} has an empty part")
    # the longest prefix that names a section: "brain.dopamine.gamma" -> section "brain.dopamine"
    depth = 0
    while depth < len(parts) and ".".join(parts[: depth + 1]) in SECTIONS:
        depth += 1
    section = ".".join(parts[:depth]) or None
    rest = parts[depth:]
    if not rest:  # a whole section: its value maps keys inside it
        if not isinstance(value, dict):
            raise ConfigError(
                f"{source}: {key}={_short(value)} must be a mapping of the section's keys "
                f"({', '.join(SECTIONS[section])})",
                None,
            )
        for sub, item in value.items():
            _assign(values, f"{key}.{sub}", item, source, where)
        return
    name = rest[0]
    if name not in PATHS:
        raise _unknown(key, source, section)
    if section is not None and ".".join(PATHS[name][:-1]) != section:
        raise ConfigError(f"{source}: unknown config key {key[:80]!r}: {name} lives in {dotted(name)}", name)
    if len(rest) == 1:
        values[name], where[name] = _coerce(name, value, source), source
        return
    if _field_type(name) is not dict:  # a path may only continue into a mapping-valued knob
        raise ConfigError(f"{source}: {key[:80]!r}: {dotted(name)} is not a mapping, it has no entry {rest[1]!r}", name)
    current = values.get(name)
    node = json.loads(json.dumps(current if current is not None else TrainConfig().get(name)))
    values[name], where[name] = node, source
    for part in rest[1:-1]:
        child = node.get(part)
        node[part] = child = json.loads(json.dumps(child)) if isinstance(child, dict) else {}
        node = child
    node[rest[-1]] = value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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
        for key, value in _read_file(Path(path)).items():
            _assign(values, str(key), value, source, where)
    if isinstance(overrides, dict):
        items, label = list(overrides.items()), "override"
    else:
        items, label = [parse_override(o) for o in overrides], "--set"
    for key, value in items:
        _assign(values, key, value, (sources or {}).get(key, label), where)
    try:
        return TrainConfig.from_leaves(values).validated()
    except ConfigError as err:
        source = where.get(err.key, "default" if err.key in FIELDS else "config")
        raise ConfigError(f"{source}: {err}", err.key) from None


def config_from_dict(data: dict, source: str = "checkpoint") -> TrainConfig:
    """Rebuild a TrainConfig saved by ``to_dict`` (keys checked the same way)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the saved config is a {type(data).__name__}, not a mapping")
    try:
        return TrainConfig.from_leaves(leaves_of(data, source)).validated()
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}" if not str(err).startswith(source) else str(err), err.key) from None


def default_config_text() -> str:
    """What ``configs/default.json`` holds: the default tree, as ``embodied train`` writes config.json."""
    return json.dumps(TrainConfig().to_dict(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python3 -m embodied.train.config --write-default [PATH]
    import sys

    if sys.argv[1:2] != ["--write-default"]:
        print("usage: python3 -m embodied.train.config --write-default [PATH]", file=sys.stderr)
        sys.exit(2)
    target = Path(sys.argv[2] if len(sys.argv) > 2 else Path(__file__).resolve().parents[2] / "configs/default.json")
    target.write_text(default_config_text(), encoding="utf-8")
    print(f"wrote {target}")
