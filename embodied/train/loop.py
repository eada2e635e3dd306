"""The training loop, top to bottom: collect -> replay -> world model -> dopamine -> plasticity -> log.

    summary = train(cfg, "runs/x", resume=False, progress=True)

Each iteration:

1. **collect** ``rollout_steps`` steps from every env (``LocalCollector``); the agent perceives,
   computes its reward channels and RPEs, selects modules and acts at every step
2. **replay** the steps go into the sequence replay (``SequenceReplay``)
3. **world model** ``train_ratio`` replayed steps per env step: world-model and intrinsic-head
   updates on replay sequences (NaN-guarded)
4. **dopamine** critics on λ-returns and the learned actor modules on the fresh rollout
5. **plasticity** unused modules decay; weak ones are pruned, strong ones copied
6. **log** metrics.csv / TensorBoard, population.csv; checkpoints at episode boundaries;
   rollout videos from the checkpoint

The run length is rounded up to whole episodes, so every checkpoint sits on an episode
boundary and ``resume=True`` reproduces the steps an uninterrupted run would have taken
(envs re-seeded from (seed, episode), RNG states, replay and optimisers restored).

Stopping and failing without losing anything:

- **Ctrl-C** (SIGINT) asks the loop to stop at the next episode boundary (at most one
  episode away), where it writes a checkpoint and raises
  :class:`~embodied.errors.TrainingInterrupted` (``embodied train`` exits 130 with one line);
  ``--resume`` from it is exact. A second Ctrl-C stops at once, keeping the last checkpoint.
- **a full disk** raises :class:`~embodied.errors.NoSpaceError`: the half-written file is
  removed, the previous checkpoint and every CSV are as they were.
- **a folder stopped before its first checkpoint** is started again from step 0 by
  ``resume=True`` (a run is a function of its config, so nothing is lost).
- stale ``.*.tmp`` files of a killed writer are removed when a run starts or resumes.
"""

from __future__ import annotations

import csv
import errno
import json
import math
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from embodied.brain.agent import Agent
from embodied.brain.replay import SequenceReplay
from embodied.brain.rng import generator_state, set_generator_state
from embodied.errors import NoSpaceError, TrainingInterrupted
from embodied.interrupt import StopRequest
from embodied.train.checkpoint import (
    CheckpointError,
    clean_stale_tmp,
    link_checkpoint,
    load_checkpoint,
    load_replay_state,
    remove_checkpoint,
    replay_state,
    rng_states,
    save_checkpoint,
    set_rng_states,
    write_atomic,
)
from embodied.train.collector import LocalCollector, check_vector_env
from embodied.train.config import TrainConfig, leaves_of
from embodied.train.metrics import MetricsWriter, append_text

#: config keys a resumed run must share with its checkpoint (they shape the env stream or the nets)
RESUME_FIXED = (
    "world",
    "task",
    "task_options",
    "num_envs",
    "episode_steps",
    "rollout_steps",
    "seed",
    "vision_size",
    "world_model",
    "world_model_overrides",
    "intrinsic",
    "scalar_dopamine",
    "initial_modules",
    "critic_taus",
    "context_bits",
)


class PopulationLog:
    """population.csv: ``step,event,module,parent,strength`` (birth | prune | select)."""

    HEADER = ["step", "event", "module", "parent", "strength"]

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        if resume_step is not None and path.exists():
            with open(path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
            self._write(rows, "w")
        else:
            self._write([], "w")

    def _write(self, rows, mode) -> None:
        import io

        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, self.HEADER)
        if mode == "w":
            writer.writeheader()
        writer.writerows(rows)
        if mode == "w":
            write_atomic(self.path, text.getvalue().encode())
        else:
            append_text(self.path, text.getvalue())

    def add(self, events) -> None:
        if events:
            self._write([dict(zip(self.HEADER, (s, e, m, p, f"{x:.4f}"))) for s, e, m, p, x in events], "a")


class Window:
    """Sums since the last metric row (saved in checkpoints so a resumed row matches)."""

    def __init__(self, state: dict | None = None):
        self.sums: dict[str, float] = defaultdict(float, (state or {}).get("sums", {}))
        self.counts: dict[str, float] = defaultdict(float, (state or {}).get("counts", {}))

    def add(self, key: str, value: float, count: float = 1.0) -> None:
        if math.isfinite(value):
            self.sums[key] += value
            self.counts[key] += count

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums if self.counts[k] > 0}

    def state(self) -> dict:
        return {"sums": dict(self.sums), "counts": dict(self.counts)}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


STEP_FILE = re.compile(r"step_(\d+)\.pt")


def _save(run_dir: Path, cfg: TrainConfig, step: int, agent, collector, replay, replay_rng, loop_state: dict) -> Path:
    """step_<N>.pt with its digest, then latest.pt as a hard link to it (no second copy)."""
    ckpt_dir = run_dir / "checkpoints"
    payload = {
        "step": step,
        "config": cfg.to_dict(),
        "agent": agent.state_dict(),
        "collector": collector.state(),
        "replay": replay_state(replay),
        "replay_rng": generator_state(replay_rng),
        "rng": rng_states(),
        "loop": loop_state,
    }
    path = save_checkpoint(ckpt_dir / f"step_{step}.pt", payload)
    link_checkpoint(path, ckpt_dir / "latest.pt")
    return path


def _step_files(run_dir: Path) -> list[Path]:
    """step_<N>.pt files, oldest first (other names in the folder are left alone)."""
    folder = run_dir / "checkpoints"
    files = [p for p in folder.glob("step_*.pt") if STEP_FILE.fullmatch(p.name)] if folder.is_dir() else []
    return sorted(files, key=lambda p: int(STEP_FILE.fullmatch(p.name).group(1)))


def _prune_checkpoints(run_dir: Path, keep: int) -> None:
    files = _step_files(run_dir)
    for old in files[: max(0, len(files) - keep)]:
        remove_checkpoint(old)


def _resume_checkpoint(run_dir: Path) -> dict | None:
    """The checkpoint a resumed run continues from: latest.pt, else the newest step_<N>.pt that
    passes its checks (a corrupted latest is reported, not trained on); None when the folder has
    no checkpoint at all."""
    latest = run_dir / "checkpoints" / "latest.pt"
    candidates = ([latest] if latest.exists() else []) + _step_files(run_dir)[::-1]
    first_error = None
    for path in candidates:
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as err:
            first_error = first_error or err
            continue
        if first_error is not None:
            print(f"embodied train: {first_error}; resuming from {path.name} instead", file=sys.stderr)
        return checkpoint
    if first_error is not None:
        raise CheckpointError(f"cannot resume {run_dir}: no usable checkpoint ({first_error})")
    return None


def _record_video(run_dir: Path, cfg: TrainConfig, step: int, recorder=None, progress: bool = False) -> dict | None:
    """A rollout video from the checkpoint just written (its own env and agent copy), drawn by
    ``recorder`` (``embodied.viz.record.record_rollout``, handed in by the command that composes
    training and pictures: training never imports viz) or, without one, plain ego-view frames; a
    progress bar when ``progress``."""
    from embodied.train.checkpoint import load_policy
    from embodied.train.collector import make_single_env

    path = run_dir / "videos" / f"step_{step}.mp4"
    env = make_single_env(cfg)
    try:
        policy = load_policy(run_dir / "checkpoints" / "latest.pt", env=env, device=cfg.run.device)
        if recorder is None:
            return _fallback_video(env, policy, cfg, path)
        return recorder(env, policy, cfg.run.video_steps, path, seed=cfg.run.seed + 99_991, progress=progress)
    finally:
        env.close()


def _fallback_video(env, policy, cfg, path: Path) -> dict:
    import cv2

    from ..driver import Driver

    path.parent.mkdir(parents=True, exist_ok=True)
    driver = Driver(env, policy)
    driver.reset(seed=cfg.run.seed + 99_991)
    h, w = driver.obs["vision"].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w * 4, h * 4))

    def write_frame(step) -> None:
        frame = cv2.resize(step.obs["vision"][..., :3], (w * 4, h * 4), interpolation=cv2.INTER_NEAREST)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    driver.on_step.append(write_frame)
    driver.run(steps=cfg.run.video_steps)
    writer.release()
    return {"path": str(path), "frames": cfg.run.video_steps}


def train(
    cfg: TrainConfig, run_dir, resume: bool = False, progress: bool = True, overwrite: bool = False, recorder=None
) -> dict:
    """Train the agent; returns the final figures (also the last metrics row).

    ``recorder`` draws the rollout videos (``embodied.viz.record.record_rollout``: the ``embodied
    train`` command and the lab pass it); without it a video is the rat's plain ego view.

    A folder that already holds a run is never written over unless ``overwrite`` (comparison
    scripts re-running their own conditions) or ``resume`` (continue it).
    """
    cfg = cfg.validated()
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise CheckpointError(f"run folder {run_dir} is a file, not a folder; choose another --run-dir")
    has_run = any((run_dir / name).exists() for name in ("metrics.csv", "checkpoints", "config.json"))
    has_checkpoint = (run_dir / "checkpoints" / "latest.pt").exists() or bool(_step_files(run_dir))
    if not (resume or overwrite) and has_run:
        if not has_checkpoint:
            raise CheckpointError(
                f"{run_dir} holds a run stopped before its first checkpoint: start it again from "
                f"step 0 with --resume, or choose another --run-dir; nothing was changed"
            )
        raise CheckpointError(
            f"{run_dir} already holds a run (metrics.csv, checkpoints/): continue it with "
            f"--resume or choose another --run-dir; nothing was changed"
        )
    if resume and not has_run:
        raise CheckpointError(
            f"cannot resume {run_dir}: it holds no run (no config.json, metrics.csv or "
            f"checkpoints/); start one without --resume"
        )
    from embodied.arena.catalogue import resolve_world

    resolve_world(cfg.env.world)  # a bad world fails here, before the run folder is touched
    check_vector_env(cfg)  # so does a missing Ray or a silent ray_address (vector_env=ray)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointError(f"cannot create run folder {run_dir}: {err.strerror or err}") from None
    for folder in (run_dir, run_dir / "checkpoints"):
        clean_stale_tmp(folder)
    if cfg.run.torch_threads > 0:
        torch.set_num_threads(cfg.run.torch_threads)
    checkpoint = _resume_checkpoint(run_dir) if resume else None
    if resume and checkpoint is None:
        print(
            f"embodied train: {run_dir} has no checkpoint yet (stopped before its first); starting it again "
            f"from step 0",
            file=sys.stderr,
        )
        resume = False
    if checkpoint is not None:
        saved = checkpoint["config"]
        saved = leaves_of(saved, f"checkpoint in {run_dir}")
        changed = [k for k in RESUME_FIXED if saved.get(k, TrainConfig().get(k)) != cfg.get(k)]
        if changed:
            raise CheckpointError(f"cannot resume {run_dir}: config keys {changed} differ from the checkpoint's")
    try:
        return _train(cfg, run_dir, checkpoint, progress, recorder)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(err, NoSpaceError):
            raise NoSpaceError(
                err.errno,
                f"no space left on device while writing in {run_dir} "
                f"({err.filename or err}); the last checkpoint and the CSVs are intact "
                f"(free some space, then continue with --resume)",
            ) from None
        raise


def _train(cfg: TrainConfig, run_dir: Path, checkpoint: dict | None, progress: bool, recorder=None) -> dict:
    resume = checkpoint is not None
    write_atomic(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2).encode())
    seed_everything(cfg.run.seed)

    # -- envs, agent, replay --------------------------------------------------------------------
    B, T = cfg.run.num_envs, cfg.run.rollout_steps
    episode_env_steps = cfg.env.episode_steps * B
    total_steps = math.ceil(cfg.run.total_steps / episode_env_steps) * episode_env_steps  # whole episodes
    collector = LocalCollector(cfg)
    agent = Agent(
        cfg.brain,
        collector.observation_space,
        collector.action_space,
        num_envs=B,
        seed=cfg.run.seed,
        device=cfg.run.device,
    )
    replay = SequenceReplay(
        collector.observation_space, collector.action_space, capacity_steps=cfg.run.replay_capacity, num_envs=B
    )
    replay_rng = np.random.default_rng([cfg.run.seed, 2])
    wm_cfg = agent.perception.world_model.config
    loop = {
        "wm_debt": 0.0,
        "last_checkpoint": 0,
        "last_video": 0,
        "last_log": 0,
        "window": Window().state(),
        "episode_returns": [],
        "episode_coverage": [],
        "start_time_offset": 0.0,
    }
    start_step = 0
    if checkpoint is not None:
        agent.load_state_dict(checkpoint["agent"])
        collector.load_state(checkpoint["collector"])
        load_replay_state(replay, checkpoint["replay"])
        set_generator_state(replay_rng, checkpoint["replay_rng"])
        set_rng_states(checkpoint["rng"])
        loop.update(checkpoint["loop"])
        start_step = int(checkpoint["step"])
    window = Window(loop["window"])
    metrics = MetricsWriter(run_dir, tensorboard=cfg.run.tensorboard, resume=resume)
    if resume:
        metrics.truncate_after(start_step)
    population_log = PopulationLog(run_dir / "population.csv", start_step if resume else None)
    births = agent.basal_ganglia.take_events()  # the initial modules
    if not resume:
        population_log.add(births)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, desc="train")
    step, t0, step0 = start_step, time.perf_counter(), start_step
    last_action = np.zeros((B, 3), np.float32)
    last_reward = np.zeros(B, np.float32)
    episode_return = np.zeros(B)
    summary: dict[str, float] = {}
    stop = StopRequest(
        lambda: (
            f"embodied train: Ctrl-C: finishing this episode "
            f"({(cfg.env.episode_steps - collector.steps % cfg.env.episode_steps) * B} steps) to write an exact "
            f"checkpoint; Ctrl-C again stops now without it"
        )
    )
    with stop:
        try:
            while step < total_steps:
                # 1. collect
                batch = collector.collect(agent, T)
                step = collector.steps * B
                # 2. replay: row t holds o_t and a_{t-1} (zeros at an episode start)
                for t in range(T):
                    first = batch["is_first"][t]
                    action_prev = np.where(first[:, None], 0.0, last_action).astype(np.float32)
                    replay.add(
                        {k: v[t] for k, v in batch["obs"].items()},
                        action_prev,
                        first,
                        reward=np.where(first, 0.0, last_reward),
                        is_terminal=batch["terminated"][t],
                    )
                    last_action, last_reward = batch["action"][t], batch["reward"][t]
                    episode_return = np.where(first, 0.0, episode_return) + batch["reward"][t]
                # 3. world model and intrinsic heads on replay
                if step >= cfg.run.learning_starts and replay.can_sample(wm_cfg.seq_len):
                    loop["wm_debt"] += cfg.run.train_ratio * B * T / (wm_cfg.batch_size * wm_cfg.seq_len)
                    while loop["wm_debt"] >= 1.0:
                        loop["wm_debt"] -= 1.0
                        for name, value in agent.train_world_model(
                            replay.sample(wm_cfg.batch_size, wm_cfg.seq_len, replay_rng)
                        ).items():
                            window.add(f"losses/{name}", value)
                # 4. dopamine: critics and actor modules on the fresh rollout
                for name, value in agent.learn([info["record"] for info in batch["info"]]).items():
                    if name != "nan_skips":
                        window.add(f"losses/{name}", value)
                # 5. structural plasticity
                agent.plasticity_tick(T)
                events = agent.basal_ganglia.take_events()
                population_log.add(events)
                window.add("population/births", float(sum(e[1] == "birth" for e in events)), 0.0)
                window.add("population/prunes", float(sum(e[1] == "prune" for e in events)), 0.0)
                # 6. metrics (rewards and RPEs averaged over steps and envs)
                for info in batch["info"]:
                    for c, v in info["rewards"].items():
                        window.add(f"rewards/{c}", float(np.mean(v)))
                    for c, v in info["rpe"].items():
                        window.add(f"dopamine/rpe_{c}", float(np.mean(v)))
                    window.add("dopamine/tonic", float(np.mean(info["tonic"])))
                    window.add("dopamine/vigour", float(np.mean(info["vigour"])))
                window.add("food_events", float((batch["reward"] > 0).sum()), float(B * T))
                if collector.at_episode_start():  # an episode just ended for every env
                    loop["episode_coverage"] = [float(x) for x in batch["coverage"][-1]]
                    loop["episode_returns"] = [float(x) for x in episode_return]
                if bar is not None:
                    bar.update(step - bar.n)
                if step - loop["last_log"] >= cfg.run.log_every or step >= total_steps:
                    loop["last_log"] = step
                    elapsed = time.perf_counter() - t0
                    means = window.means()
                    row = {k: v for k, v in means.items() if k != "food_events"}
                    row["population/births"] = window.sums.get("population/births", 0.0)
                    row["population/prunes"] = window.sums.get("population/prunes", 0.0)
                    row["population/size"] = float(len(agent.basal_ganglia.population))
                    row["losses/nan_skips"] = float(agent.nan_skips)
                    row["charts/coverage"] = float(np.mean(loop["episode_coverage"] or batch["coverage"][-1]))
                    row["charts/coverage_now"] = float(np.mean(batch["coverage"][-1]))
                    row["charts/food_per_1000_steps"] = 1000.0 * means.get("food_events", 0.0)
                    if loop["episode_returns"]:
                        row["charts/episode_return"] = float(np.mean(loop["episode_returns"]))
                    row["time/steps_per_second"] = (step - step0) / max(elapsed, 1e-9)
                    metrics.log(step, row)
                    summary = {"step": step, **row}
                    window = Window()
                    if bar is not None:
                        bar.set_postfix(
                            cov=f"{row['charts/coverage_now']:.2f}",
                            food=f"{row['charts/food_per_1000_steps']:.1f}",
                            tonic=f"{row.get('dopamine/tonic', 0.0):+.2f}",
                            sps=f"{row['time/steps_per_second']:.0f}",
                            mods=len(agent.basal_ganglia.population),
                        )
                # checkpoints (and videos) only at episode boundaries: that is what makes resume exact
                saved = None
                if collector.at_episode_start() and (
                    step - loop["last_checkpoint"] >= cfg.run.checkpoint_every or step >= total_steps
                ):
                    loop["last_checkpoint"] = step
                    video_due = cfg.run.video_every > 0 and (
                        step - loop["last_video"] >= cfg.run.video_every or step >= total_steps
                    )
                    if video_due:
                        loop["last_video"] = step
                    loop["window"] = window.state()
                    saved = _save(run_dir, cfg, step, agent, collector, replay, replay_rng, loop)
                    _prune_checkpoints(run_dir, cfg.run.keep_checkpoints)
                    if video_due:
                        torch_state = torch.get_rng_state()  # the video must not perturb training's streams
                        _record_video(run_dir, cfg, step, recorder, progress=bar is not None)
                        torch.set_rng_state(torch_state)
                if stop.requested and collector.at_episode_start() and step < total_steps:
                    if saved is None:  # off schedule: last_checkpoint stays, so a resumed run keeps the schedule
                        loop["window"] = window.state()
                        saved = _save(run_dir, cfg, step, agent, collector, replay, replay_rng, loop)
                        _prune_checkpoints(run_dir, max(cfg.run.keep_checkpoints, 1))
                    raise TrainingInterrupted(
                        f"interrupted at step {step} of {total_steps}: checkpoint {saved} "
                        f"written; continue exactly with --resume --run-dir {run_dir}"
                    )
        finally:
            if bar is not None:
                bar.close()
            metrics.close()
            collector.close()
    summary.update(
        population_size=len(agent.basal_ganglia.population),
        births=agent.basal_ganglia.population.births,
        prunes=agent.basal_ganglia.population.prunes,
        total_steps=step,
    )
    return summary
