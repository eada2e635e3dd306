"""A sweep spec (JSON or TOML) -> the list of trials it asks for, every one validated before anything runs.

A spec names an optional base config, conditions (named lists of ``--set`` overrides, a grid of
values, or both crossed), training seeds and one held-out evaluation shared by every trial::

    {
      "name": "intrinsic",                      # optional; default the file's stem
      "config": "../default.json",              # optional, relative to the spec file; default the built-in defaults
      "set": ["total_steps=8192"],              # optional, applied to every trial first
      "conditions": [{"name": "full", "set": []},
                     {"name": "no_intrinsic", "set": ["intrinsic=false"]}],
      "grid": {"train_ratio": [4, 8]},          # optional, crossed with the conditions
      "baseline": "full",                       # optional; default the first condition
      "seeds": [0, 1, 2, 3, 4],                 # training seeds (or a count n: seeds 0..n-1)
      "eval": {"world": "procedural:9x9", "task": "explore", "mazes": 10,
               "maze_start": 10000, "episode_steps": "auto"},
      "references": ["random", "wander", "reflex:wall_follow_left"],  # optional: untrained policies
      "curve": {"steps": [4096, 8192, 12288], "conditions": ["full"]},  # optional: kept checkpoints evaluated
      "transfer": [{"world": "hampton_court", "mazes": 5, "maze_start": 20000,   # optional: the final checkpoints
                    "conditions": ["full"], "references": ["random"]}]           # evaluated in other worlds
    }

``conditions`` may also be a mapping ``name -> [overrides]`` (the natural TOML table). A trial is
(condition, seed); its overrides are ``set`` + the condition's + the grid point's + ``seed=<n>``,
given to :func:`embodied.train.config.load_config` exactly as ``embodied train --set`` would.
Every trial's config is loaded here, so a typo in the last condition fails before Ray starts.
``references`` names reference policies (``embodied.brain.policies.REFERENCE_POLICIES``: ``random``,
``wander``, ``reflex:<name>``; and the privileged oracles ``dfs-oracle``, ``forage-oracle`` of
``embodied.train.evaluate.ORACLES``, which read the map: a scale for the claims, never a learner's input)
evaluated once per sweep on the same held-out mazes (:class:`Reference`);
they are not trials and are not in a trial's fingerprint, so adding one keeps every finished trial.
``curve`` (:class:`CurveSpec`) asks for a learning curve: each finished trial of the named conditions
(default all) also evaluates its kept ``checkpoints/step_<N>.pt`` for every listed step N, on the same
mazes; like the references it is in no trial's fingerprint, so adding it to a finished sweep trains nothing.
``transfer`` (:class:`TransferSpec`) asks for evaluations without further training in other worlds: each
entry (the keys of ``eval``, plus an optional ``name``, ``conditions`` and ``references``) evaluates the
final checkpoint of every finished trial of its conditions (default all) on its own mazes, beside its own
references (default the spec's); it is in no fingerprint either.
Errors are :class:`SpecError`: one line naming the file and the key (``conditions[1].set[0]``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import stat
from pathlib import Path

from embodied.errors import UserError

MAX_SPEC_BYTES = 1 << 20
MAX_TRIALS = 10_000
TOP_KEYS = (
    "name",
    "description",
    "config",
    "set",
    "conditions",
    "grid",
    "baseline",
    "seeds",
    "eval",
    "references",
    "curve",
    "transfer",
)
CURVE_KEYS = ("steps", "conditions")
MAX_CURVE_STEP = 10**12  # far beyond any run; bounds the file name step_<N>.pt
EVAL_KEYS = ("world", "task", "mazes", "maze_start", "episode_steps")
EVAL_TASKS = ("explore", "forage")  # what embodied.train.evaluate measures
TRANSFER_KEYS = ("name", *EVAL_KEYS, "conditions", "references")
MAX_TRANSFERS = 32
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.,=+-]{0,79}")  # a folder name on every filesystem


class SpecError(UserError, ValueError):
    """A sweep spec that cannot be run: the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class Trial:
    """One training run and its evaluation: ``condition`` x training ``seed``."""

    condition: str
    seed: int
    overrides: tuple[str, ...]  # every --set, the seed last
    total_steps: int | None  # for the progress table only (the run folder's config.json is the record)

    @property
    def key(self) -> str:
        return f"{self.condition}/seed_{self.seed}"

    @property
    def relative_dir(self) -> str:
        return f"trials/{self.condition}/seed_{self.seed}"


@dataclasses.dataclass(frozen=True)
class Reference:
    """A policy that is not trained (``random``, ``wander``, ``reflex:<name>``, or a privileged oracle), evaluated
    once per sweep on the held-out mazes, each maze with a fresh policy seeded by the maze seed (as ``embodied
    eval`` does; an oracle is bound to its env and ignores the seed)."""

    name: str

    @property
    def folder(self) -> str:
        return self.name.replace(":", "-")  # ``reflex:forward`` -> ``reflex-forward``: no colon in a folder name

    @property
    def relative_dir(self) -> str:
        return f"references/{self.folder}"


@dataclasses.dataclass(frozen=True)
class CurveSpec:
    """A learning curve: the kept checkpoints ``checkpoints/step_<N>.pt`` of the ``conditions``' trials
    evaluated at each of ``steps`` (env steps), beside each trial's final evaluation as the last point."""

    steps: tuple[int, ...]  # ascending
    conditions: tuple[str, ...]  # in the spec's condition order


@dataclasses.dataclass(frozen=True)
class EvalSpec:
    world: str
    task: str
    mazes: int
    maze_start: int
    episode_steps: int | str  # a whole number, or "auto" (3 x the DFS oracle on explore, 2000 on forage)

    @property
    def maze_seeds(self) -> list[int]:
        return list(range(self.maze_start, self.maze_start + self.mazes))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class TransferSpec:
    """Evaluation without further training in another world: the final checkpoint (``checkpoints/latest.pt``)
    of each finished trial of ``conditions`` on ``eval``'s mazes, each into ``transfer/<name>.json`` in the
    trial folder, and ``references`` (untrained policies) on the same mazes into ``OUT/transfer/<name>/``."""

    name: str  # folder-safe, unique in the spec
    eval: EvalSpec
    conditions: tuple[str, ...]  # in the spec's condition order
    references: tuple[Reference, ...]

    @property
    def relative_dir(self) -> str:
        return f"transfer/{self.name}"


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    path: str
    name: str
    description: str
    config: str | None  # absolute path of the base config, or None for the built-in defaults
    conditions: tuple[str, ...]  # in spec order; the first is the baseline unless ``baseline`` says otherwise
    baseline: str
    seeds: tuple[int, ...]
    eval: EvalSpec
    trials: tuple[Trial, ...]
    raw: dict  # the spec as read, stamped into results.json
    references: tuple[Reference, ...] = ()  # in spec order; evaluated once per sweep, not part of any fingerprint
    curve: CurveSpec | None = None  # not part of any trial's fingerprint either
    transfer: tuple[TransferSpec, ...] = ()  # nor are these

    @property
    def reference_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.references)

    def fingerprint(self, trial: Trial) -> str:
        """What a finished trial must have been run with to be reused: base config text, overrides, evaluation
        (not the references: adding or removing one leaves every trial finished)."""
        base = Path(self.config).read_bytes() if self.config else b""
        blob = json.dumps(
            {
                "config": hashlib.sha256(base).hexdigest(),
                "overrides": list(trial.overrides),
                "eval": self.eval.as_dict(),
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def reference_fingerprint(
        self, reference: Reference, episode_steps: int, env_kwargs: dict, evaluation: EvalSpec | None = None
    ) -> str:
        """What a finished reference must have been evaluated with to be reused: its name, the evaluation
        (the spec's, or a transfer's), the episode length it ran (``auto`` resolved) and the env settings
        (the baseline's)."""
        blob = json.dumps(
            {
                "reference": reference.name,
                "eval": (evaluation or self.eval).as_dict(),
                "episode_steps": int(episode_steps),
                "env_kwargs": env_kwargs,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def curve_fingerprint(self, step: int, episode_steps: int, checkpoint_sha256: str) -> str:
        """What a curve point (``curve/step_<N>.json``) must have been evaluated with to be reused: the
        evaluation, the episode length it ran (``auto`` resolved), the step and the SHA-256 of the
        checkpoint evaluated (``checkpoints/step_<N>.pt``; a retrained trial has other files)."""
        blob = json.dumps(
            {
                "eval": self.eval.as_dict(),
                "episode_steps": int(episode_steps),
                "step": int(step),
                "checkpoint_sha256": checkpoint_sha256,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def transfer_fingerprint(self, transfer: TransferSpec, episode_steps: int, checkpoint_sha256: str) -> str:
        """What a transfer evaluation (``transfer/<name>.json``) must have been run with to be reused: the
        transfer's evaluation, the episode length it ran and the SHA-256 of the checkpoint evaluated."""
        blob = json.dumps(
            {
                "transfer": transfer.name,
                "eval": transfer.eval.as_dict(),
                "episode_steps": int(episode_steps),
                "checkpoint_sha256": checkpoint_sha256,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _read_spec_file(path: Path) -> dict:
    if path.suffix.lower() not in (".json", ".toml"):
        raise SpecError(f"sweep spec {path}: give a .json or .toml file")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpecError(f"sweep spec {path} does not exist") from None
    except OSError as err:
        raise SpecError(f"sweep spec {path} cannot be read: {err.strerror or err}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(f"sweep spec {path} is not a regular file")
    if info.st_size > MAX_SPEC_BYTES:
        raise SpecError(f"sweep spec {path} is {info.st_size} bytes; a spec is at most {MAX_SPEC_BYTES}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise SpecError(f"sweep spec {path} cannot be read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise SpecError(f"sweep spec {path} is not UTF-8 text (byte {err.start})") from None
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            where = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
            at = f"{path}:{where.group(1)}:{where.group(2)}" if where else f"{path}: at its end"
            message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(err))
            raise SpecError(f"{at}: not valid TOML: {message}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SpecError(f"{path}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}") from None
        except (ValueError, RecursionError) as err:
            raise SpecError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise SpecError(f"sweep spec {path} must hold a mapping of keys ({', '.join(TOP_KEYS)})")
    return data


def _whole(value, path: Path, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"{path}: key {key!r} = {value!r} must be a whole number in [{low}, {high}]")
    return value


def _text(value, path: Path, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{path}: key {key!r} = {value!r} must be a non-empty string")
    return value


def _overrides(value, path: Path, key: str) -> list[str]:
    if not isinstance(value, list):
        raise SpecError(f"{path}: key {key!r} must be a list of 'key=value' strings, got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or "=" not in item or not item.partition("=")[0].strip():
            raise SpecError(f"{path}: key '{key}[{i}]' = {item!r} must be a 'key=value' string like 'intrinsic=false'")
        if item.partition("=")[0].strip().split(".")[-1] == "seed":
            raise SpecError(f"{path}: key '{key}[{i}]' sets the seed; training seeds come from the key 'seeds'")
    return list(value)


def _name(value, path: Path, key: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise SpecError(
            f"{path}: key {key!r} = {value!r} must be a folder-safe name: letters, digits and _ . , = + - "
            f"(at most 80, starting with a letter or digit)"
        )
    return value


def _conditions(data: dict, path: Path) -> list[tuple[str, str, list[str]]]:
    """(name, where in the spec, overrides) of every condition before the grid is crossed in."""
    raw = data.get("conditions")
    if raw is None:
        return [("", "", [])]
    found = []
    if isinstance(raw, dict):
        for name, overrides in raw.items():
            found.append((_name(name, path, f"conditions.{name}"), f"conditions.{name}", overrides))
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise SpecError(f"{path}: key 'conditions[{i}]' must be a mapping with 'name' and 'set'")
            unknown = sorted(set(item) - {"name", "set"})
            if unknown:
                raise SpecError(f"{path}: key 'conditions[{i}].{unknown[0]}' is unknown; a condition has name and set")
            if "name" not in item:
                raise SpecError(f"{path}: key 'conditions[{i}].name' is missing")
            found.append((_name(item["name"], path, f"conditions[{i}].name"), f"conditions[{i}]", item.get("set", [])))
    else:
        raise SpecError(f"{path}: key 'conditions' must be a list of {{name, set}} or a mapping name -> [overrides]")
    if not found:
        raise SpecError(f"{path}: key 'conditions' is empty; give at least one condition")
    result = []
    for name, where, overrides in found:
        key = f"{where}.set" if where.startswith("conditions[") else where
        result.append((name, where, _overrides(overrides, path, key)))
    return result


def _grid(data: dict, path: Path) -> list[tuple[str, list[str]]]:
    """(name, overrides) of every grid point: ``key=value`` joined by commas, in the spec's key order."""
    raw = data.get("grid")
    if raw is None:
        return [("", [])]
    if not isinstance(raw, dict) or not raw:
        raise SpecError(f"{path}: key 'grid' must be a non-empty mapping key -> [values]")
    axes = []
    for key, values in raw.items():
        if key.split(".")[-1] == "seed":
            raise SpecError(f"{path}: key 'grid.{key}' sets the seed; training seeds come from the key 'seeds'")
        if not isinstance(values, list) or not values:
            raise SpecError(f"{path}: key 'grid.{key}' must be a non-empty list of values")
        axis = []
        for value in values:
            if not isinstance(value, (bool, int, float, str)):
                raise SpecError(f"{path}: key 'grid.{key}' value {value!r}: a grid value is a number, bool or string")
            text = value if isinstance(value, str) else json.dumps(value)
            axis.append((f"{key}={re.sub(r'[^A-Za-z0-9_.+-]', '-', text)}", f"{key}={text}"))
        axes.append(axis)
    return [(",".join(n for n, _ in point), [o for _, o in point]) for point in itertools.product(*axes)]


def _eval(data: dict, path: Path) -> EvalSpec:
    raw = data.get("eval", {})
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: key 'eval' must be a mapping ({', '.join(EVAL_KEYS)})")
    unknown = sorted(set(raw) - set(EVAL_KEYS))
    if unknown:
        raise SpecError(f"{path}: key 'eval.{unknown[0]}' is unknown; allowed: {', '.join(EVAL_KEYS)}")
    return _eval_keys(raw, path, "eval", "explore")


def _eval_keys(raw: dict, path: Path, prefix: str, task: str) -> EvalSpec:
    """The evaluation keys of ``raw`` (world, task, mazes, maze_start, episode_steps), named ``prefix.<key>`` in errors."""
    from embodied.train.evaluate import DEFAULT_WORLD, HELD_OUT_START, MAX_EPISODE_STEPS, MAX_SEED, MAX_SEEDS

    world = _text(raw.get("world", DEFAULT_WORLD), path, f"{prefix}.world")
    from embodied.arena.catalogue import resolve_world

    try:
        resolve_world(world)
    except UserError as err:
        raise SpecError(f"{path}: key '{prefix}.world': {err}") from None
    task = raw.get("task", task)
    if task not in EVAL_TASKS:
        raise SpecError(f"{path}: key '{prefix}.task' = {task!r}; allowed: {', '.join(EVAL_TASKS)}")
    mazes = _whole(raw.get("mazes", 5), path, f"{prefix}.mazes", 1, MAX_SEEDS)
    start = _whole(
        raw.get("maze_start", HELD_OUT_START), path, f"{prefix}.maze_start", HELD_OUT_START, MAX_SEED - mazes + 1
    )
    steps = raw.get("episode_steps", "auto")
    if steps != "auto":
        steps = _whole(steps, path, f"{prefix}.episode_steps", 1, MAX_EPISODE_STEPS)
    return EvalSpec(world, task, mazes, start, steps)


def _references(data: dict, path: Path, conditions: list[str], key: str = "references") -> tuple[Reference, ...]:
    """The ``references`` list (at ``key`` in errors): known reference policy or oracle names, each once, none a
    condition's name."""
    from embodied.brain.policies import REFERENCE_POLICIES
    from embodied.train.evaluate import ORACLES

    allowed = (*REFERENCE_POLICIES, *ORACLES)
    raw = data.get("references", [])
    if not isinstance(raw, list):
        raise SpecError(
            f"{path}: key '{key}' must be a list of policy names ({', '.join(allowed)}), got {type(raw).__name__}"
        )
    found = []
    for i, name in enumerate(raw):
        if name not in allowed:
            raise SpecError(
                f"{path}: key '{key}[{i}]' = {name!r} is not a reference policy; allowed: {', '.join(allowed)}"
            )
        if name in found:
            raise SpecError(f"{path}: key '{key}[{i}]' = {name!r} is listed twice")
        if name in conditions:
            raise SpecError(f"{path}: key '{key}[{i}]' = {name!r} is also a condition's name; rename the condition")
        found.append(name)
    return tuple(Reference(name) for name in found)


def _condition_names(raw, path: Path, key: str, conditions: list[str]) -> tuple[str, ...]:
    """A non-empty list of condition names at ``key``, each once; returned in the spec's condition order."""
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{path}: key '{key}' must be a non-empty list of condition names")
    for i, name in enumerate(raw):
        if name not in conditions:
            known = ", ".join(conditions)
            raise SpecError(f"{path}: key '{key}[{i}]' = {name!r} is not a condition; conditions: {known}")
        if raw.index(name) != i:
            raise SpecError(f"{path}: key '{key}[{i}]' = {name!r} is listed twice")
    return tuple(c for c in conditions if c in raw)


def _transfer(data: dict, path: Path, conditions: list[str], evaluation: EvalSpec) -> tuple[TransferSpec, ...]:
    """The ``transfer`` list: each entry the keys of ``eval`` (task default the spec's), an optional folder-safe
    ``name`` (default the world with its unsafe characters as '-'), ``conditions`` (default all) and
    ``references`` (default the spec's)."""
    raw = data.get("transfer", [])
    if not isinstance(raw, list) or len(raw) > MAX_TRANSFERS:
        raise SpecError(
            f"{path}: key 'transfer' must be a list of at most {MAX_TRANSFERS} mappings like "
            f'{{"world": "hampton_court", "mazes": 5}} ({", ".join(TRANSFER_KEYS)})'
        )
    found = []
    for i, entry in enumerate(raw):
        where = f"transfer[{i}]"
        if not isinstance(entry, dict):
            raise SpecError(f"{path}: key '{where}' must be a mapping ({', '.join(TRANSFER_KEYS)})")
        unknown = sorted(set(entry) - set(TRANSFER_KEYS))
        if unknown:
            raise SpecError(f"{path}: key '{where}.{unknown[0]}' is unknown; allowed: {', '.join(TRANSFER_KEYS)}")
        if "world" not in entry:
            raise SpecError(f"{path}: key '{where}.world' is missing: the world to evaluate in")
        spec = _eval_keys(entry, path, where, evaluation.task)
        default = re.sub(r"[^A-Za-z0-9_.,=+-]", "-", spec.world).lstrip("_.,=+-")[:80] or f"transfer{i}"
        name = _name(entry.get("name", default), path, f"{where}.name")
        if name in [t.name for t in found]:
            raise SpecError(f"{path}: key '{where}.name' = {name!r} is used twice; give each transfer its own name")
        chosen = _condition_names(entry.get("conditions", list(conditions)), path, f"{where}.conditions", conditions)
        references = (
            _references(entry, path, conditions, f"{where}.references")
            if "references" in entry
            else _references(data, path, conditions)
        )
        found.append(TransferSpec(name, spec, chosen, references))
    return tuple(found)


def _curve(data: dict, path: Path, conditions: list[str]) -> CurveSpec | None:
    """The ``curve`` mapping: ``steps`` a non-empty list of distinct positive whole numbers, ``conditions``
    (optional, default all) names of conditions, each once."""
    if "curve" not in data:
        return None
    raw = data["curve"]
    if not isinstance(raw, dict):
        raise SpecError(
            f"{path}: key 'curve' must be a mapping like {{\"steps\": [4096, 8192]}} ({', '.join(CURVE_KEYS)})"
        )
    unknown = sorted(set(raw) - set(CURVE_KEYS))
    if unknown:
        raise SpecError(f"{path}: key 'curve.{unknown[0]}' is unknown; allowed: {', '.join(CURVE_KEYS)}")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise SpecError(
            f"{path}: key 'curve.steps' must be a non-empty list of env steps with kept checkpoints "
            f"(checkpoints/step_<N>.pt), got {steps!r}"
        )
    steps = [_whole(s, path, f"curve.steps[{i}]", 1, MAX_CURVE_STEP) for i, s in enumerate(steps)]
    if len(set(steps)) != len(steps):
        raise SpecError(f"{path}: key 'curve.steps' repeats a step: {steps}")
    chosen = _condition_names(raw.get("conditions", list(conditions)), path, "curve.conditions", conditions)
    return CurveSpec(tuple(sorted(steps)), chosen)


def _seeds(data: dict, path: Path) -> tuple[int, ...]:
    if "seeds" not in data:
        raise SpecError(f"{path}: key 'seeds' is missing; give training seeds, e.g. \"seeds\": [0, 1, 2, 3, 4]")
    raw = data["seeds"]
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = list(range(_whole(raw, path, "seeds", 1, MAX_TRIALS)))
    if not isinstance(raw, list):
        raise SpecError(f"{path}: key 'seeds' must be a list of whole numbers or a count, got {type(raw).__name__}")
    if not raw:
        raise SpecError(f"{path}: key 'seeds' is empty; give at least one training seed")
    seeds = [_whole(s, path, f"seeds[{i}]", 0, 2**32 - 1) for i, s in enumerate(raw)]
    if len(set(seeds)) != len(seeds):
        raise SpecError(f"{path}: key 'seeds' repeats a seed: {seeds}")
    return tuple(seeds)


def _leaf(tree: dict, name: str):
    """The value of the unique key ``name`` anywhere in a nested config dict (flat today, a tree tomorrow)."""
    found = []

    def walk(node):
        for key, value in node.items():
            if key == name:
                found.append(value)
            elif isinstance(value, dict):
                walk(value)

    walk(tree)
    return found[0] if len(found) == 1 else None


def load_spec(path) -> SweepSpec:
    """The validated spec in ``path``: every trial's config loads (``load_config``), every name is
    folder-safe and unique, the evaluation is well-formed. Raises :class:`SpecError` on the first fault."""
    from embodied.train.config import load_config

    path = Path(path)
    data = _read_spec_file(path)
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise SpecError(f"{path}: key {unknown[0]!r} is unknown; allowed: {', '.join(TOP_KEYS)}")
    name = _name(data.get("name", path.stem), path, "name")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise SpecError(f"{path}: key 'description' must be a string")
    config = None
    if data.get("config") is not None:
        config = (path.parent / _text(data["config"], path, "config")).resolve()
        if not config.is_file():
            raise SpecError(f"{path}: key 'config' = {data['config']!r}: no such file {config}")
    common = _overrides(data.get("set", []), path, "set")
    seeds = _seeds(data, path)
    evaluation = _eval(data, path)

    named = []  # (condition name, where, overrides)
    for (cond, where, cond_set), (point, point_set) in itertools.product(_conditions(data, path), _grid(data, path)):
        full = ",".join(part for part in (cond, point) if part)
        named.append((full, where or "grid", common + cond_set + point_set))
    names = [n for n, _, _ in named]
    if names == [""]:
        raise SpecError(f"{path}: give 'conditions' or 'grid' (at least one condition)")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(f"{path}: key 'conditions': the name {duplicates[0]!r} is used twice")
    if len(names) * len(seeds) > MAX_TRIALS:
        raise SpecError(f"{path}: {len(names)} conditions x {len(seeds)} seeds is more than {MAX_TRIALS} trials")
    baseline = data.get("baseline", names[0])
    if baseline not in names:
        raise SpecError(f"{path}: key 'baseline' = {baseline!r} is not a condition; conditions: {', '.join(names)}")
    references = _references(data, path, names)
    curve = _curve(data, path, names)
    transfer = _transfer(data, path, names, evaluation)

    trials = []
    for cond, where, overrides in named:
        for seed in seeds:
            full = [*overrides, f"seed={seed}"]
            try:
                cfg = load_config(config, overrides=full)
            except UserError as err:
                raise SpecError(f"{path}: key '{where}' (condition {cond!r}): {err}") from None
            values = cfg.to_dict()
            world = _leaf(values, "world")
            if isinstance(world, str):
                from embodied.arena.catalogue import resolve_world

                try:
                    resolve_world(world)
                except UserError as err:
                    raise SpecError(f"{path}: key '{where}' (condition {cond!r}): world: {err}") from None
            total = _leaf(values, "total_steps")
            trials.append(Trial(cond, seed, tuple(full), total if isinstance(total, int) else None))
    return SweepSpec(
        path=str(path),
        name=name,
        description=description,
        config=str(config) if config else None,
        conditions=tuple(names),
        baseline=baseline,
        seeds=seeds,
        eval=evaluation,
        trials=tuple(trials),
        raw=data,
        references=references,
        curve=curve,
        transfer=transfer,
    )
