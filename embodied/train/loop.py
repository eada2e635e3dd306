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
"""
from __future__ import annotations

import csv
import json
import math
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from embodied.brain.agent import Agent
from embodied.brain.agent import _rng_state as rng_state_of, _set_rng_state as set_rng_state_of
from embodied.train.checkpoint import (CheckpointError, load_checkpoint, load_replay_state, replay_state, rng_states,
                                       save_checkpoint, set_rng_states)
from embodied.train.collector import LocalCollector
from embodied.train.config import TrainConfig
from embodied.train.metrics import MetricsWriter
from embodied.train.replay import SequenceReplay

#: config keys a resumed run must share with its checkpoint (they shape the env stream or the nets)
RESUME_FIXED = ("world", "task", "task_options", "num_envs", "episode_steps", "rollout_steps", "seed", "vision_size", "world_model",
                "world_model_overrides", "intrinsic", "scalar_dopamine", "initial_modules", "critic_taus", "context_bits")


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
        with open(self.path, mode, newline="") as f:
            writer = csv.DictWriter(f, self.HEADER)
            if mode == "w":
                writer.writeheader()
            writer.writerows(rows)

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


def _save(run_dir: Path, cfg: TrainConfig, step: int, agent, collector, replay, replay_rng, loop_state: dict) -> Path:
    ckpt_dir = run_dir / "checkpoints"
    payload = {"step": step, "config": cfg.to_dict(), "agent": agent.state_dict(), "collector": collector.state(),
               "replay": replay_state(replay), "replay_rng": rng_state_of(replay_rng), "rng": rng_states(), "loop": loop_state}
    path = save_checkpoint(ckpt_dir / f"step_{step}.pt", payload)
    save_checkpoint(ckpt_dir / "latest.pt", payload)
    return path


def _prune_checkpoints(run_dir: Path, keep: int) -> None:
    files = sorted((run_dir / "checkpoints").glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    for old in files[:max(0, len(files) - keep)]:
        old.unlink()


def _record_video(run_dir: Path, cfg: TrainConfig, step: int) -> dict | None:
    """A rollout video from the checkpoint just written (its own env and agent copy)."""
    from embodied.train.checkpoint import load_policy
    from embodied.train.collector import make_single_env
    path = run_dir / "videos" / f"step_{step}.mp4"
    env = make_single_env(cfg)
    try:
        policy = load_policy(run_dir / "checkpoints" / "latest.pt", env=env, device=cfg.device)
        try:
            from embodied.viz.record import record_rollout
        except ImportError as err:  # fallback: raw ego frames, no panels
            return _fallback_video(env, policy, cfg, path, err)
        return record_rollout(env, policy, cfg.video_steps, path, seed=cfg.seed + 99_991)
    finally:
        env.close()


def _fallback_video(env, policy, cfg, path: Path, err) -> dict:
    import cv2

    from ..brain.policies import tell_reward
    print(f"embodied train: embodied.viz.record unavailable ({err}); writing plain ego-view frames to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    obs, _ = env.reset(seed=cfg.seed + 99_991)
    policy.reset()
    h, w = obs["vision"].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w * 4, h * 4))
    for _ in range(cfg.video_steps):
        action, _ = policy.act(obs)
        frame = cv2.resize(obs["vision"][..., :3], (w * 4, h * 4), interpolation=cv2.INTER_NEAREST)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        obs, reward, *_ = env.step(action)
        tell_reward(policy, reward)
    writer.release()
    return {"path": str(path), "frames": cfg.video_steps}


def train(cfg: TrainConfig, run_dir, resume: bool = False, progress: bool = True, overwrite: bool = False) -> dict:
    """Train the agent; returns the final figures (also the last metrics row).

    A folder that already holds a run is never written over unless ``overwrite`` (comparison
    scripts re-running their own conditions) or ``resume`` (continue it).
    """
    cfg = cfg.validated()
    run_dir = Path(run_dir)
    if not (resume or overwrite) and any((run_dir / name).exists() for name in ("metrics.csv", "checkpoints")):
        raise CheckpointError(f"{run_dir} already holds a run (metrics.csv, checkpoints/): continue it with "
                              f"--resume or choose another --run-dir; nothing was changed")
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.torch_threads > 0:
        torch.set_num_threads(cfg.torch_threads)
    checkpoint = None
    if resume:
        checkpoint = load_checkpoint(run_dir / "checkpoints" / "latest.pt")
        saved = checkpoint["config"]
        defaults = TrainConfig().to_dict()  # keys added since the checkpoint was written read as their defaults
        changed = [k for k in RESUME_FIXED if saved.get(k, defaults[k]) != getattr(cfg, k)]
        if changed:
            raise CheckpointError(f"cannot resume {run_dir}: config keys {changed} differ from the checkpoint's")
    (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    seed_everything(cfg.seed)

    # -- envs, agent, replay --------------------------------------------------------------------
    B, T = cfg.num_envs, cfg.rollout_steps
    episode_env_steps = cfg.episode_steps * B
    total_steps = math.ceil(cfg.total_steps / episode_env_steps) * episode_env_steps  # whole episodes
    collector = LocalCollector(cfg)
    agent = Agent(cfg, collector.observation_space, collector.action_space, num_envs=B)
    replay = SequenceReplay(collector.observation_space, collector.action_space, capacity_steps=cfg.replay_capacity,
                            num_envs=B)
    replay_rng = np.random.default_rng([cfg.seed, 2])
    wm_cfg = agent.world_model.config
    loop = {"wm_debt": 0.0, "last_checkpoint": 0, "last_video": 0, "last_log": 0, "window": Window().state(),
            "episode_returns": [], "episode_coverage": [], "start_time_offset": 0.0}
    start_step = 0
    if checkpoint is not None:
        agent.load_state_dict(checkpoint["agent"])
        collector.load_state(checkpoint["collector"])
        load_replay_state(replay, checkpoint["replay"])
        set_rng_state_of(replay_rng, checkpoint["replay_rng"])
        set_rng_states(checkpoint["rng"])
        loop.update(checkpoint["loop"])
        start_step = int(checkpoint["step"])
    window = Window(loop["window"])
    metrics = MetricsWriter(run_dir, tensorboard=cfg.tensorboard, resume=resume)
    if resume:
        metrics.truncate_after(start_step)
    population_log = PopulationLog(run_dir / "population.csv", start_step if resume else None)
    if not resume:
        population_log.add(agent.population.events)
    agent.population.events = []

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, desc="train")
    step, t0, step0 = start_step, time.perf_counter(), start_step
    last_action = np.zeros((B, 3), np.float32)
    last_reward = np.zeros(B, np.float32)
    episode_return = np.zeros(B)
    summary: dict[str, float] = {}
    try:
        while step < total_steps:
            # 1. collect
            batch = collector.collect(agent, T)
            step = collector.steps * B
            # 2. replay: row t holds o_t and a_{t-1} (zeros at an episode start)
            for t in range(T):
                first = batch["is_first"][t]
                action_prev = np.where(first[:, None], 0.0, last_action).astype(np.float32)
                replay.add({k: v[t] for k, v in batch["obs"].items()}, action_prev, first,
                           reward=np.where(first, 0.0, last_reward), is_terminal=batch["terminated"][t])
                last_action, last_reward = batch["action"][t], batch["reward"][t]
                episode_return = np.where(first, 0.0, episode_return) + batch["reward"][t]
            # 3. world model and intrinsic heads on replay
            if step >= cfg.learning_starts and replay.can_sample(wm_cfg.seq_len):
                loop["wm_debt"] += cfg.train_ratio * B * T / (wm_cfg.batch_size * wm_cfg.seq_len)
                while loop["wm_debt"] >= 1.0:
                    loop["wm_debt"] -= 1.0
                    for name, value in agent.train_world_model(replay.sample(wm_cfg.batch_size, wm_cfg.seq_len, replay_rng)).items():
                        window.add(f"losses/{name}", value)
            # 4. dopamine: critics and actor modules on the fresh rollout
            for name, value in agent.learn([info["record"] for info in batch["info"]]).items():
                if name != "nan_skips":
                    window.add(f"losses/{name}", value)
            # 5. structural plasticity
            agent.plasticity_tick(T)
            population_log.add(agent.population.events)
            window.add("population/births", float(sum(e[1] == "birth" for e in agent.population.events)), 0.0)
            window.add("population/prunes", float(sum(e[1] == "prune" for e in agent.population.events)), 0.0)
            agent.population.events = []
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
            if step - loop["last_log"] >= cfg.log_every or step >= total_steps:
                loop["last_log"] = step
                elapsed = time.perf_counter() - t0
                means = window.means()
                row = {k: v for k, v in means.items() if k != "food_events"}
                row["population/births"] = window.sums.get("population/births", 0.0)
                row["population/prunes"] = window.sums.get("population/prunes", 0.0)
                row["population/size"] = float(len(agent.population))
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
                    bar.set_postfix(cov=f"{row['charts/coverage_now']:.2f}", food=f"{row['charts/food_per_1000_steps']:.1f}",
                                    tonic=f"{row.get('dopamine/tonic', 0.0):+.2f}", sps=f"{row['time/steps_per_second']:.0f}",
                                    mods=len(agent.population))
            # checkpoints (and videos) only at episode boundaries: that is what makes resume exact
            if collector.at_episode_start() and (step - loop["last_checkpoint"] >= cfg.checkpoint_every or step >= total_steps):
                loop["last_checkpoint"] = step
                video_due = cfg.video_every > 0 and (step - loop["last_video"] >= cfg.video_every or step >= total_steps)
                if video_due:
                    loop["last_video"] = step
                loop["window"] = window.state()
                _save(run_dir, cfg, step, agent, collector, replay, replay_rng, loop)
                _prune_checkpoints(run_dir, cfg.keep_checkpoints)
                if video_due:
                    torch_state = torch.get_rng_state()  # the video must not perturb training's streams
                    _record_video(run_dir, cfg, step)
                    torch.set_rng_state(torch_state)
    finally:
        if bar is not None:
            bar.close()
        metrics.close()
        collector.close()
    summary.update(population_size=len(agent.population), births=agent.population.births,
                   prunes=agent.population.prunes, total_steps=step)
    return summary
