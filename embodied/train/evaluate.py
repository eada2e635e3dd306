"""``embodied eval``: run a policy on held-out mazes and print coverage and food rates.

Held-out means maze seeds ≥ ``HELD_OUT_START`` (10,000). Training uses seeds below it, so the
evaluator refuses seeds < 10,000 unless told ``allow_training_seeds=True``
(``--allow-training-seeds``). Each seed gives one episode on the maze that ``reset(seed=…)``
draws; the figures are the mean over seeds with a bootstrap 95% interval (``embodied.stats``).

    embodied eval runs/explore/checkpoints/latest.pt --task explore --seeds 10
    embodied eval --policy random --task forage --seeds 5 --episode-steps 2000
    embodied eval runs/explore --seeds 16 --batch 8    # 8 mazes at once, one agent step for all of them

Metrics per episode: ``coverage`` (fraction of free cells visited by the end), ``food_per_1000``
(pellets eaten per 1,000 steps), ``steps_to_50`` / ``steps_to_90`` (first step with that
coverage; the episode length when never reached). Privileged info is read for metrics only.

Library use (the scripts under ``scripts/`` call this)::

    evaluate_policy(make_policy, world, task, seeds, episode_steps) -> dict

``make_policy(env, seed)`` returns an object with ``reset()`` and ``act(obs) -> (action, extras)``.
With ``batch=N`` and a ``make_policy`` that can batch (a :class:`PolicyMaker` with ``batched``),
up to N mazes run side by side, one env each, and the policy acts for all of them in one call:
the agent's step for N envs costs far less than N one-env steps, so evaluation is faster
(docs/benchmarks.md, "Batched evaluation", measures how much). Each maze's figures mean what they
mean one maze at a time; an agent's draws are shared by the batch, so a stochastic agent's batched
figures equal its one-at-a-time figures in distribution, not draw for draw.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np

from .. import ENV_ID
from ..brain.policies import REFERENCE_POLICIES
from ..driver import Driver
from ..stats import bootstrap_ci

HELD_OUT_START = 10_000
DEFAULT_WORLD = "procedural:9x9"


def held_out_seeds(n: int, start: int = HELD_OUT_START) -> list[int]:
    """``n`` consecutive maze seeds from ``start`` (default the first held-out seed)."""
    if start < HELD_OUT_START:
        raise ValueError(f"held-out seeds start at {HELD_OUT_START}; got start={start}")
    return list(range(start, start + n))


def check_seeds(seeds, allow_training_seeds: bool = False) -> list[int]:
    """The seeds as ints; raises if any is a training seed (< 10,000) unless allowed."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("no evaluation seeds")
    bad = [s for s in seeds if s < HELD_OUT_START]
    if bad and not allow_training_seeds:
        raise ValueError(
            f"evaluation seeds {bad[:5]} are below {HELD_OUT_START}: those mazes may have been "
            f"used in training. Use held-out seeds ≥ {HELD_OUT_START}, or pass "
            f"allow_training_seeds=True (--allow-training-seeds) to evaluate on training mazes on purpose"
        )
    return seeds


def env_kwargs_from_config(config: dict) -> dict:
    """The env constructor arguments found in a run's ``config.json`` (top level or under ``env``)."""
    from ..env import RodentMazeEnv

    names = set(inspect.signature(RodentMazeEnv.__init__).parameters) - {"self", "world", "task", "render_mode"}
    found = {k: v for k, v in config.items() if k in names}
    for key in ("env", "env_kwargs"):
        if isinstance(config.get(key), dict):
            found.update({k: v for k, v in config[key].items() if k in names})
    return found


def make_eval_env(world: str, task: str, episode_steps: int, env_kwargs: dict | None = None):
    return gym.make(ENV_ID, world=world, task=task, max_episode_steps=int(episode_steps), **(env_kwargs or {}))


class _EpisodeFigures:
    """The ``on_step`` callback that measures one maze's episode; ``result`` gives its figures.
    ``bar`` (a tqdm bar) advances by one per step and by the rest when the env ends it early."""

    def __init__(self, seed: int, episode_steps: int, bar=None):
        self.seed, self.episode_steps, self.bar = int(seed), int(episode_steps), bar
        self.steps_to = {50: None, 90: None}

    def __call__(self, step) -> None:
        if self.bar is not None:
            self.bar.update(1)
        for level in self.steps_to:
            if self.steps_to[level] is None and step.next_info["coverage"] >= level / 100:
                self.steps_to[level] = step.episode_step

    def result(self, steps: int, info: dict) -> dict:
        """The figures after ``steps`` steps; ``info`` is the last step's (privileged, metrics only)."""
        if self.bar is not None:
            self.bar.update(self.episode_steps - steps)
        eaten = int(info.get("food_eaten", 0))
        return {
            "seed": self.seed,
            "steps": steps,
            "coverage": float(info["coverage"]),
            "food_eaten": eaten,
            "food_per_1000": 1000.0 * eaten / max(steps, 1),
            "steps_to_50": self.steps_to[50] or steps,
            "steps_to_90": self.steps_to[90] or steps,
        }


def run_episode(env, policy, seed: int, episode_steps: int, bar=None) -> dict:
    """One episode of exactly ``episode_steps`` steps (or until the env ends it) on maze ``seed``;
    ``bar`` (a tqdm bar) advances by one per step and by the rest when the env ends it early."""
    figures = _EpisodeFigures(seed, episode_steps, bar)
    driver = Driver(env, policy, on_step=[figures])
    driver.reset(seed=seed)
    steps = driver.run(steps=episode_steps, episodes=1)
    return figures.result(steps, driver.info)  # the last step's info (a run never resets after its last step)


class _BatchRow:
    """Maze ``index`` of a batch as its driver's single-env policy: the action is row ``index`` of the
    batched policy's one ``act`` for every maze; the reward the driver tells it goes back to the batch."""

    def __init__(self, batch: dict, index: int):
        self.batch, self.index = batch, index

    def reset(self) -> None:
        pass  # the batched policy is reset once, after every maze's env has been reset

    def act(self, obs: dict) -> tuple[np.ndarray, dict]:
        return self.batch["actions"][self.index], {}

    def observe_reward(self, reward: float) -> None:
        self.batch["rewards"][self.index] = reward


def run_episodes_batched(envs, policy, seeds, episode_steps: int, bar=None) -> list[dict]:
    """One episode per maze, the mazes stepped together: maze ``seeds[i]`` in ``envs[i]``, and
    ``policy`` acting for all of them in one call (the driver's vector-env protocol: ``reset()``,
    ``act(obs (B, ...)) -> (actions (B, ...), extras)``, ``observe_reward((B,))``).

    Each maze has its own :class:`Driver` and figures, exactly as :func:`run_episode` gives them: it
    starts from ``reset(seed=seeds[i])`` and runs ``episode_steps`` steps or until its env ends it.
    A maze that has ended is not stepped again; until the others end, its row of the batch repeats
    its last observation with reward 0 and the action the policy gives it is dropped. Whether that
    row changes the other rows' actions is the policy's matter: a :class:`PolicyStack` keeps its
    rows apart, the agent's rows share its random streams (``AgentPolicy``).
    """
    seeds = [int(s) for s in seeds]
    if len(envs) != len(seeds):
        raise ValueError(f"run_episodes_batched got {len(envs)} envs for {len(seeds)} maze seeds")
    batch = {"actions": None, "rewards": np.zeros(len(envs), np.float64)}
    figures = [_EpisodeFigures(seed, episode_steps, bar) for seed in seeds]
    drivers = [Driver(env, _BatchRow(batch, i), on_step=[figures[i]]) for i, env in enumerate(envs)]
    for driver, seed in zip(drivers, seeds):
        driver.reset(seed=seed)
    policy.reset()
    running = list(range(len(envs)))
    for _ in range(int(episode_steps)):
        if not running:
            break
        obs = {key: np.stack([driver.obs[key] for driver in drivers]) for key in drivers[0].obs}
        batch["actions"], _ = policy.act(obs)
        batch["rewards"][:] = 0.0  # an ended maze's row: no reward
        for i in running:
            drivers[i].step()  # the row's action, env.step, the reward back into the batch, the figures
        if hasattr(policy, "observe_reward"):
            policy.observe_reward(batch["rewards"].copy())
        running = [i for i in running if not drivers[i].needs_reset]  # the env ended that maze
    return [f.result(d.episode_step, d.info) for f, d in zip(figures, drivers)]


def _bar(enabled: bool, total: int, desc: str, unit: str):
    if not enabled:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, file=sys.stderr)


def evaluate_policy(
    make_policy: Callable,
    world: str,
    task: str,
    seeds,
    episode_steps: int,
    *,
    allow_training_seeds: bool = False,
    env_kwargs: dict | None = None,
    progress: bool = False,
    label: str = "",
    progress_bar: bool = False,
    batch: int = 1,
) -> dict:
    """Run ``make_policy(env, seed)`` for one episode on each held-out maze seed.

    ``batch`` > 1 runs up to that many mazes at once when ``make_policy`` can batch (it has a
    ``batched(envs, seeds)`` method, as :class:`PolicyMaker` from :func:`policy_factory` does):
    one env per maze, stepped together, one ``act`` for all of them (:func:`run_episodes_batched`;
    each maze's figures mean what they mean one maze at a time). Otherwise, and for ``batch=1``,
    the mazes run one after another. ``progress`` prints one line per seed; ``progress_bar``
    shows a tqdm bar over every step of every seed on stderr. Returns per-episode lists
    (``coverage``, ``food_per_1000``, ``steps_to_50``, ``steps_to_90``, ``episodes``), bootstrap
    intervals (``coverage_ci``, ``food_per_1000_ci`` as dicts) and ``batch``, the mazes run at once.
    """
    seeds = check_seeds(seeds, allow_training_seeds)
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"evaluate_policy batch must be a whole number ≥ 1; got {batch!r}")
    batched = getattr(make_policy, "batched", None)
    batch = min(int(batch), len(seeds)) if batched is not None else 1
    episodes, start = [], time.time()
    envs = [make_eval_env(world, task, episode_steps, env_kwargs) for _ in range(batch)]  # a bad world fails here,
    bar = _bar(progress_bar, len(seeds) * int(episode_steps), f"eval {label or 'policy'}", "step")  # before a bar
    try:
        for first in range(0, len(seeds), batch):
            group = seeds[first : first + batch]
            if batch == 1:
                found = [run_episode(envs[0], make_policy(envs[0], group[0]), group[0], int(episode_steps), bar=bar)]
            else:
                policy = batched(envs[: len(group)], group)
                found = run_episodes_batched(envs[: len(group)], policy, group, int(episode_steps), bar=bar)
            episodes += found
            if bar is not None:
                bar.set_postfix(seed=str(group[-1]), coverage=f"{found[-1]['coverage']:.2f}")
            for e in found if progress else ():
                print(
                    f"  {label or 'policy'} seed {e['seed']}: coverage {e['coverage']:.3f}, "
                    f"food/1000 {e['food_per_1000']:.2f}",
                    flush=True,
                )
    finally:
        if bar is not None:
            bar.close()
        for env in envs:
            env.close()
    result = {
        "world": world,
        "task": task,
        "seeds": seeds,
        "episode_steps": int(episode_steps),
        "batch": batch,
        "wall_s": time.time() - start,
        "episodes": episodes,
    }
    for key in ("coverage", "food_per_1000", "steps_to_50", "steps_to_90"):
        values = [e[key] for e in episodes]
        result[key] = values
        result[f"{key}_ci"] = bootstrap_ci(values).as_dict()
    return result


def dfs_episode_steps(
    world: str,
    seeds,
    env_kwargs: dict | None = None,
    factor: float = 3.0,
    allow_training_seeds: bool = False,
    progress_bar: bool = False,
) -> dict:
    """``factor`` × the mean env steps the depth-first oracle needs on these mazes, measured by
    driving :class:`embodied.evaluation.oracles.DFSOracle` through each (evaluation only)."""
    from ..evaluation.oracles import measure_dfs_steps

    seeds = check_seeds(seeds, allow_training_seeds)
    env = make_eval_env(world, "explore", 50_000, env_kwargs)
    bar = _bar(progress_bar, len(seeds), "DFS oracle (episode length)", "maze")
    runs = []
    try:
        for s in seeds:
            runs.append(measure_dfs_steps(env, seed=s))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        env.close()
    steps = [r["steps"] for r in runs]
    return {
        "episode_steps": int(round(factor * float(np.mean(steps)))),
        "oracle_steps": steps,
        "oracle_steps_to_full": [r["steps_to_full"] for r in runs],
        "cell_moves": [r["cell_moves"] for r in runs],
        "formula_steps": [r["formula_steps"] for r in runs],
        "factor": factor,
    }


# ---- helpers the comparison scripts share ---------------------------------------------------
def limit_threads(n: int = 1) -> None:
    """Cap torch's intra-op threads. On 2 shared cores, torch's default (one per core) makes a
    policy's small per-step forward passes fight other processes; 1 thread was much faster."""
    if n and n > 0:
        import torch

        torch.set_num_threads(int(n))


def paired_difference(a: dict, b: dict, key: str) -> dict:
    """Bootstrap CI of the per-maze difference a − b (same seeds: a paired comparison)."""
    if a["seeds"] != b["seeds"]:
        raise ValueError("paired_difference needs results on the same seeds")
    return bootstrap_ci(np.subtract(a[key], b[key])).as_dict()


def trainer_missing_reason() -> str | None:
    """None when ``embodied.train.loop``/``checkpoint`` import; else why not."""
    try:
        from . import checkpoint, config, loop  # noqa: F401
    except ImportError as err:
        return f"the trainer is not available ({err})"
    return None


def train_agent(run_dir, overrides: list[str], config_path: str = "configs/default.json", resume: bool = False) -> dict:
    """Train with ``embodied.train.loop.train``; returns the checkpoint path, wall-clock and summary."""
    from .config import load_config
    from .loop import train

    cfg = load_config(config_path, overrides=list(overrides))
    run_dir = Path(run_dir)
    start = time.time()
    summary = train(cfg, run_dir, resume=resume, progress=False, overwrite=True)  # the script's own folder
    wall = time.time() - start
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    info = {
        "checkpoint": str(checkpoint),
        "wall_s": wall,
        "total_steps": int(cfg.run.total_steps),
        "overrides": list(overrides),
        "config": config_path,
    }
    try:
        json.dumps(summary)
        info["summary"] = summary
    except TypeError:
        info["summary"] = str(summary)
    return info


def training_overlap(config: dict, eval_seeds, world: str | None = None) -> dict:
    """Do the held-out mazes overlap the mazes a training run saw?

    Recomputes every reset seed the trainer used (``collector.episode_seeds`` over the run's
    episodes) and, for procedural worlds, every training maze's free-cell map. Returns the
    shared seeds and the held-out seeds whose maze geometry also occurred in training.
    """
    import math

    from ..arena.catalogue import resolve_world
    from ..arena.procedural import generate_maze
    from .collector import episode_seeds
    from .config import leaves_of

    config = leaves_of(config, "the run's config")  # nested (config.json) or knob names alone
    world = world or config["world"]
    num_envs, episode_steps = int(config["num_envs"]), int(config["episode_steps"])
    episodes = math.ceil(int(config["total_steps"]) / (episode_steps * num_envs))
    train_seeds = {s for e in range(episodes) for s in episode_seeds(int(config["seed"]), e, num_envs)}
    shared = sorted(train_seeds & set(int(s) for s in eval_seeds))
    same_maze: list[int] = []
    spec = resolve_world(config["world"])
    if isinstance(spec, dict) and config["world"] == world:

        def mask(seed):
            return generate_maze(
                np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed)))), **spec
            ).free.tobytes()

        train_masks = {mask(s) for s in train_seeds}
        same_maze = [int(s) for s in eval_seeds if mask(s) in train_masks]
    return {
        "training_episodes": episodes * num_envs,
        "shared_seeds": shared,
        "same_maze_geometry": same_maze,
        "train_seed_min": min(train_seeds),
        "train_seed_max": max(train_seeds),
    }


def save_bar_figure(
    path, results: dict, key: str, ylabel: str, title: str, target: float | None = None, target_label: str = "target"
) -> None:
    """Bars of mean ``key`` with bootstrap 95% CI whiskers, one per condition, and the per-maze points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    means = [results[n][f"{key}_ci"]["mean"] for n in names]
    lows = [results[n][f"{key}_ci"]["mean"] - results[n][f"{key}_ci"]["low"] for n in names]
    highs = [results[n][f"{key}_ci"]["high"] - results[n][f"{key}_ci"]["mean"] for n in names]
    fig, ax = plt.subplots(figsize=(1.3 + 1.25 * len(names), 3.2), dpi=120)
    ax.bar(range(len(names)), means, yerr=[lows, highs], capsize=4, color="#7a9cc6", edgecolor="black")
    for i, n in enumerate(names):
        pts = results[n][key]
        ax.scatter(np.full(len(pts), i) + np.linspace(-0.15, 0.15, len(pts)), pts, s=9, color="black", zorder=3)
    if target is not None:
        ax.axhline(target, color="#c0392b", linestyle="--", linewidth=1)
        ax.text(len(names) - 0.5, target, f" {target_label}", color="#c0392b", va="bottom", ha="right", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def write_json(path, data) -> None:
    """``data`` as JSON through a temporary file, fsync and rename: an old result is never torn."""
    from .checkpoint import write_atomic

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=2, default=str).encode("utf-8"))


# ---- policies by name --------------------------------------------------------------------
#: privileged baselines that read the map (evaluation only)
ORACLES = ("forage-oracle", "dfs-oracle")
#: the names ``policy_factory`` takes besides a checkpoint path, reflexes aside (for its error message)
POLICY_NAMES = ("random", "wander", *ORACLES)


@dataclass
class PolicyMaker:
    """How :func:`evaluate_policy` gets a policy: ``one(env, seed)`` for one maze (a single-env
    policy), and ``batched(envs, seeds)`` for mazes stepped together (a policy over
    ``len(envs)`` envs, the vector protocol), or None where only one maze at a time is possible.
    Calling it is calling ``one``, so it stands wherever a ``make_policy(env, seed)`` does."""

    one: Callable
    batched: Callable | None = None

    def __call__(self, env, seed):
        return self.one(env, seed)


def _stacked(one: Callable) -> Callable:
    """``batched`` for single-env policies that keep their own state: one per maze, side by side."""
    from ..brain.policies import PolicyStack

    return lambda envs, seeds: PolicyStack([one(env, seed) for env, seed in zip(envs, seeds)])


def policy_factory(spec: str, device: str = "cpu") -> tuple[PolicyMaker, dict]:
    """A reference policy (``random``, ``wander``, ``reflex:<name>``: one innate reflex alone), an
    oracle (``forage-oracle``, ``dfs-oracle``: privileged) or a checkpoint path.

    Returns (a :class:`PolicyMaker`, env kwargs read from the checkpoint's run folder). Every maze
    or batch of mazes gets a fresh policy: a reference policy seeded by the maze seed, an oracle
    bound to its env, an agent loaded afresh from the checkpoint (its tonic level and selection
    generator as saved, whatever the mazes before did), acting without the predicted frame."""
    from ..brain.policies import REFERENCE_POLICIES, REFLEX_POLICIES, REFLEX_PREFIX, make_reference_policy

    if spec.startswith(REFLEX_PREFIX) and spec not in REFERENCE_POLICIES:
        raise ValueError(f"unknown reflex policy {spec!r}; allowed: {', '.join(REFLEX_POLICIES)}")
    if spec in REFERENCE_POLICIES:

        def reference(env, seed):
            return make_reference_policy(spec, env.action_space, seed)

        return PolicyMaker(reference, _stacked(reference)), {}
    if spec in ORACLES:
        from ..evaluation.oracles import DFSOracle, ForageOracle

        cls = ForageOracle if spec == "forage-oracle" else DFSOracle

        def oracle(env, seed):
            return cls(env)  # it reads its env (privileged); the maze seed is the env's

        return PolicyMaker(oracle, _stacked(oracle)), {}
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"no checkpoint {spec!r} (and not a policy name: {', '.join(POLICY_NAMES)}; or reflex:<name>)"
        )
    if path.is_dir():  # a run folder
        path = path / "checkpoints" / "latest.pt"
    from .checkpoint import CheckpointError, load_checkpoint, load_policy

    load_checkpoint(path)  # a corrupt or foreign file fails now, not after the DFS oracle's minutes
    env_kwargs = {}
    for config_path in (path.parent.parent / "config.json", path.parent / "config.json"):
        if config_path.is_file():
            try:
                env_kwargs = env_kwargs_from_config(json.loads(config_path.read_text()))
            except (ValueError, UnicodeDecodeError) as err:
                raise CheckpointError(f"run config {config_path} is not valid JSON: {err}") from None
            break

    def one(env, seed):
        return load_policy(path, env=env, device=device, predict=False)

    def batched(envs, seeds):
        return load_policy(path, env=envs[0], device=device, num_envs=len(envs), predict=False)

    return PolicyMaker(one, batched), env_kwargs


def summary_line(name: str, result: dict) -> str:
    cov, food = result["coverage_ci"], result["food_per_1000_ci"]
    return (
        f"{name:<22} coverage {cov['mean']:.3f} [{cov['low']:.3f}, {cov['high']:.3f}]   "
        f"food/1000 steps {food['mean']:.2f} [{food['low']:.2f}, {food['high']:.2f}]   (n={cov['n']})"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", help="checkpoint .pt or run folder (or use --policy)")
    parser.add_argument(
        "--policy",
        choices=[*REFERENCE_POLICIES, *ORACLES],
        metavar="POLICY",
        help=f"a reference policy instead of a checkpoint: {', '.join(REFERENCE_POLICIES)} (reflex:<name> is one "
        f"innate reflex alone), or an oracle ({', '.join(ORACLES)}: privileged baselines)",
    )
    parser.add_argument("--world", default=DEFAULT_WORLD, help="layout name, file, or procedural:WxH")
    parser.add_argument("--task", default="explore", choices=["explore", "forage"])
    parser.add_argument("--seeds", type=int, default=5, help=f"number of held-out mazes, 1..{MAX_SEEDS}")
    parser.add_argument(
        "--seed-start",
        type=int,
        default=HELD_OUT_START,
        help=f"first maze seed (≥ 10000; at most {MAX_SEED} counting every seed)",
    )
    parser.add_argument(
        "--episode-steps",
        default="auto",
        help=f"steps per episode, 1..{MAX_EPISODE_STEPS}; 'auto' = 3x the DFS oracle's steps "
        f"(explore) or 2000 (forage)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        help=f"mazes evaluated at once, 1..{MAX_BATCH} (one env each, one policy step for all; "
        f"default: all the seeds, at most {DEFAULT_BATCH}); 1 runs them one after another",
    )
    parser.add_argument("--allow-training-seeds", action="store_true", help="permit seeds < 10000 (training mazes)")
    parser.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the policy (0 = torch's default)")
    parser.add_argument("--json", help="also write the full result here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


#: bounds of the command's arguments (a run of more is a typo, not an evaluation)
MAX_SEEDS, MAX_SEED, MAX_EPISODE_STEPS, MAX_BATCH = 10_000, 2**32 - 1, 10_000_000, 64
#: ``--batch`` when not given: every seed at once up to this many (each maze holds a PyBullet env in memory)
DEFAULT_BATCH = 8


def _checked_args(args: argparse.Namespace) -> int:
    """The episode length (0 for auto) after every argument is checked; UsageError names the bad one."""
    from ..errors import UsageError

    if bool(args.checkpoint) == bool(args.policy):
        raise UsageError("give a checkpoint or --policy (one of them)")
    if not 1 <= args.seeds <= MAX_SEEDS:
        raise UsageError(f"--seeds {args.seeds}: allowed 1..{MAX_SEEDS}")
    if not 0 <= args.seed_start <= MAX_SEED - args.seeds + 1:
        raise UsageError(
            f"--seed-start {args.seed_start}: allowed 0..{MAX_SEED - args.seeds + 1} "
            f"(seeds are whole numbers in [0, 2^32 - 1])"
        )
    if args.batch is not None and not 1 <= args.batch <= MAX_BATCH:
        raise UsageError(f"--batch {args.batch}: allowed 1..{MAX_BATCH}")
    if not 0 <= args.threads <= 1024:
        raise UsageError(f"--threads {args.threads}: allowed 0..1024")
    from ..brain.device import resolve_device

    try:
        resolve_device(args.device)
    except (TypeError, ValueError) as err:
        raise UsageError(f"--device: {err}") from None
    if args.json and Path(args.json).is_dir():
        raise UsageError(f"--json {args.json} is a directory; give a file name")
    if args.episode_steps == "auto":
        return 0
    try:
        steps = int(args.episode_steps)
    except ValueError:
        raise UsageError(
            f"--episode-steps {args.episode_steps!r}: a whole number 1..{MAX_EPISODE_STEPS} or 'auto'"
        ) from None
    if not 1 <= steps <= MAX_EPISODE_STEPS:
        raise UsageError(f"--episode-steps {steps}: allowed 1..{MAX_EPISODE_STEPS} or 'auto'")
    return steps


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError

    episode_steps = _checked_args(args)
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    if args.checkpoint:
        limit_threads(args.threads)
    try:
        seeds = check_seeds(seeds, args.allow_training_seeds)
        make, env_kwargs = policy_factory(args.policy or args.checkpoint, args.device)
    except (ValueError, FileNotFoundError) as err:
        raise UsageError(str(err)) from None
    bars = not args.no_progress
    if not episode_steps:
        if args.task == "explore":
            dfs = dfs_episode_steps(
                args.world, seeds, env_kwargs, allow_training_seeds=args.allow_training_seeds, progress_bar=bars
            )
            episode_steps = dfs["episode_steps"]
            print(
                f"episode length {episode_steps} steps = 3 x mean DFS-oracle traversal "
                f"({np.mean(dfs['oracle_steps']):.0f} steps, {dfs['cell_moves'][0]} cell moves)"
            )
        else:
            episode_steps = 2000
    name = args.policy or args.checkpoint
    batch = min(len(seeds), DEFAULT_BATCH if args.batch is None else args.batch)
    print(
        f"evaluating {name} on {args.world} task {args.task}: seeds {seeds[0]}..{seeds[-1]}, "
        f"{episode_steps} steps each, {batch} at once",
        flush=True,
    )
    result = evaluate_policy(
        make,
        args.world,
        args.task,
        seeds,
        episode_steps,
        allow_training_seeds=args.allow_training_seeds,
        env_kwargs=env_kwargs,
        label=Path(name).name,
        progress_bar=bars,
        batch=batch,
    )
    cov, food = result["coverage_ci"], result["food_per_1000_ci"]
    print(f"coverage        mean {cov['mean']:.3f}  95% CI [{cov['low']:.3f}, {cov['high']:.3f}]  (n={cov['n']})")
    print(f"food per 1000   mean {food['mean']:.2f}  95% CI [{food['low']:.2f}, {food['high']:.2f}]  (n={food['n']})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0
