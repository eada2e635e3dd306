"""Rollout collection behind a small interface, so env workers can move (to subprocesses, to Ray
actors on a cluster) without touching the learner.

    collector = LocalCollector(cfg)                     # run.vector_env: sync | async | ray
    batch = collector.collect(agent, n_steps)           # n_steps per env, [T, B, ...] arrays

Episodes are segments of ``episode_steps`` for every env at once: at each episode boundary
all envs reset together with seeds derived from ``(seed, episode index, env index)``. So the
environment stream after step N depends only on N — which is what lets ``--resume`` (PyBullet
states cannot be saved) reproduce an uninterrupted run from a checkpoint taken at a boundary.
An env that terminates inside an episode is reset at once (gymnasium's same-step autoreset)
from its own generator, itself seeded at the episode start: deterministic too.
"""

from __future__ import annotations

import functools
from typing import Protocol

import gymnasium as gym
import numpy as np

import embodied  # noqa: F401  (registers the env id)
from embodied import ENV_ID
from embodied.driver import Driver


class Collector(Protocol):
    num_envs: int
    observation_space: gym.spaces.Dict
    action_space: gym.spaces.Box

    def collect(self, policy, n_steps: int) -> dict: ...
    def state(self) -> dict: ...
    def load_state(self, state: dict) -> None: ...
    def close(self) -> None: ...


def episode_seeds(seed: int, episode: int, num_envs: int) -> list[int]:
    """Reset seeds of every env for one episode (independent streams, SeedSequence)."""
    return [int(np.random.SeedSequence([seed, episode, i]).generate_state(1)[0]) for i in range(num_envs)]


def _workers_ignoring_ctrl_c(make):
    """Start worker processes with SIGINT ignored (they inherit it), so Ctrl-C reaches only the
    trainer, which stops at an episode boundary and closes them itself."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return make()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return make()
    finally:
        signal.signal(signal.SIGINT, previous)


def make_env_fn(cfg):
    """A picklable thunk holding only the env's arguments (a Ray worker unpickles it without the config,
    whose brain section would import torch there)."""
    options = {"task_options": dict(cfg.env.task_options)} if cfg.env.task_options else {}
    return functools.partial(
        gym.make,
        ENV_ID,
        world=cfg.env.world,
        task=cfg.env.task,
        vision_size=cfg.env.vision_size,
        max_episode_steps=cfg.env.episode_steps + 1,  # our segments end episodes, never TimeLimit
        **options,
    )


def make_single_env(cfg):
    return make_env_fn(cfg)()


def make_vector_env(cfg) -> gym.vector.VectorEnv:
    """``num_envs`` envs with same-step autoreset, stepped as ``run.vector_env`` says: ``sync`` here,
    ``async`` in one subprocess each, ``ray`` on Ray actors (``train/ray_collector.py``; Ray is imported
    only then). All three return the same arrays and infos for the same seeds and actions."""
    fns = [make_env_fn(cfg) for _ in range(cfg.run.num_envs)]
    if cfg.run.vector_env == "ray":
        from embodied.train.ray_collector import ray_vector_env

        return _workers_ignoring_ctrl_c(lambda: ray_vector_env(fns, cfg.run))
    kwargs = dict(autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    if cfg.run.vector_env == "async":
        return _workers_ignoring_ctrl_c(lambda: gym.vector.AsyncVectorEnv(fns, **kwargs))
    return gym.vector.SyncVectorEnv(fns, **kwargs)


def check_vector_env(cfg) -> None:
    """Fail now, in one line, on what would stop ``make_vector_env`` before its first step: for ``ray``, Ray
    missing or ``ray_address`` not answering (``train`` calls it before it touches the run folder)."""
    if cfg.run.vector_env == "ray":
        from embodied.train.ray_collector import check

        check(cfg.run.ray_address, cfg.run.ray_timeout_s)


class BatchedAgentPolicy:
    """A batched agent (``Agent.step(obs, reward, is_first)``) as the driver's policy over a vector env.

    It holds what the agent is given with each observation: the extrinsic reward of the previous
    action (``observe_reward``, told by the driver) and the episode-start flags (all set by
    ``reset()``, the envs that finished by ``reset_envs``). The agent sees the observation, that
    reward and those flags, never ``info``. Its reward is kept at an episode start, where the
    agent zeroes it.
    """

    def __init__(self, num_envs: int):
        self.agent, self.num_envs = None, num_envs
        self.reset()

    def reset(self) -> None:
        self.reward = np.zeros(self.num_envs, np.float32)
        self.is_first = np.ones(self.num_envs, bool)

    def act(self, obs: dict):
        return self.agent.step(obs, self.reward, self.is_first)

    def observe_reward(self, reward) -> None:
        self.reward = np.asarray(reward, np.float32)

    def reset_envs(self, done: np.ndarray) -> None:
        self.is_first = done


class LocalCollector:
    """The learner-side collector: vectorised envs in this process (``sync``), in worker processes
    (``async``) or on Ray actors (``ray``, ``train/ray_collector.py``), stepped by the driver
    (``embodied/driver.py``) with the agent in this process (why: ``ray_collector``'s docstring).

    The policy it drives is a batched agent: ``policy.step(obs, reward, is_first) ->
    (actions, info)`` (``embodied.brain.agent.Agent``, through :class:`BatchedAgentPolicy`) — it
    sees the observation, the extrinsic reward and the episode-start flag, never ``info``.
    """

    def __init__(self, cfg):
        self.cfg, self.num_envs = cfg, cfg.run.num_envs
        self.envs = make_vector_env(cfg)
        self.observation_space = self.envs.single_observation_space
        self.action_space = self.envs.single_action_space
        self.steps = 0  # steps per env since the start of the run
        self.policy = BatchedAgentPolicy(self.num_envs)
        self.driver = Driver(self.envs, self.policy)

    @property
    def episode(self) -> int:
        return self.steps // self.cfg.env.episode_steps

    def at_episode_start(self) -> bool:
        return self.steps % self.cfg.env.episode_steps == 0

    def collect(self, policy, n_steps: int) -> dict:
        """Step every env ``n_steps`` times. Returns ``[T, B]``-leading arrays: ``obs`` (dict,
        what the policy acted on), ``action``, ``reward`` (after the action), ``is_first``,
        ``terminated``, the policy's per-step ``info`` list, and privileged ``coverage`` and
        ``food_eaten`` (metrics only)."""
        rows = {
            "obs": [],
            "action": [],
            "reward": [],
            "is_first": [],
            "terminated": [],
            "coverage": [],
            "food_eaten": [],
            "info": [],
        }
        self.policy.agent = policy
        for _ in range(n_steps):
            if self.at_episode_start():  # every env starts a segment together, seeded by (seed, episode, env)
                self.driver.reset(seed=episode_seeds(self.cfg.run.seed, self.episode, self.num_envs))
            step = self.driver.step()
            rows["obs"].append(step.obs), rows["action"].append(step.action), rows["is_first"].append(step.first)
            rows["reward"].append(np.asarray(step.reward, np.float32))
            rows["terminated"].append(np.asarray(step.terminated))
            rows["info"].append(step.extras)
            info = step.next_info
            rows["coverage"].append(np.asarray(info.get("coverage", np.zeros(self.num_envs)), np.float32))
            rows["food_eaten"].append(np.asarray(info.get("food_eaten", np.zeros(self.num_envs)), np.float32))
            self.steps += 1
            if self.at_episode_start() and hasattr(policy, "end_episode"):
                policy.end_episode()  # before any checkpoint: a resumed run starts with no open options
        batch = {k: (np.stack(v) if k not in ("obs", "info") else v) for k, v in rows.items()}
        batch["obs"] = {k: np.stack([o[k] for o in rows["obs"]]) for k in rows["obs"][0]}
        return batch

    def state(self) -> dict:
        """Only the step count: at an episode boundary the env stream is a function of it."""
        if not self.at_episode_start():
            raise RuntimeError(f"collector state is only defined at an episode boundary (step {self.steps} per env)")
        return {"steps": self.steps}

    def load_state(self, state: dict) -> None:
        self.steps = int(state["steps"])  # a boundary: the next collect resets every env with its seeds

    def close(self) -> None:
        self.envs.close()
