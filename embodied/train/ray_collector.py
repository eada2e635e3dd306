"""Env workers as Ray actors: a gymnasium vector env whose PyBullet envs live in other processes or nodes.

    envs = RayVectorEnv([make_env_fn(cfg)] * 8, envs_per_worker=2)   # 4 actors, 2 envs each
    obs, info = envs.reset(seed=[...])                               # what SyncVectorEnv returns
    obs, reward, terminated, truncated, info = envs.step(actions)

Selected with ``vector_env=ray`` (``collector.make_vector_env``); the collector, the driver and the
learner are the ones every run uses. Why the policy stays with the learner: the rat's brain is
stateful per env (the world model's recurrent state, running options, the critics' inputs) and
learns *during* the step (an option's end reinforces the Go/NoGo selector, the tonic level and the
intrinsic-reward scales move), so a copy of the policy on each worker would change what it learns.
Here the actors only step envs; the learner runs the agent's batched step on every env's
observation at once, exactly as with ``sync``:

    learner:  a_t = agent.step(o_t, r_t, first_t)  for all B envs   (one batched call)
    actors:   worker k steps envs [k*E, (k+1)*E) with a_t[k*E:(k+1)*E]   (E = envs_per_worker)

Same seeds, same segmentation (the collector resets every env at an episode boundary with
``episode_seeds``), same rule inside an episode: gymnasium's same-step autoreset, done here as
``SyncVectorEnv`` does it (the step's obs and info go to ``info["final_obs"]`` / ``["final_info"]``,
the env resets with its own generator, the reset's obs replaces it), and the infos are merged in
env order by gymnasium's own ``VectorEnv._add_info``. So a run with ``vector_env=ray`` writes the
same metrics as ``sync`` (tests/test_ray_collector.py checks them bit for bit).

Failures are one-line :class:`RayCollectionError` s (a :class:`~embodied.errors.UserError`), never a
hang: every ``ray.get`` waits at most ``timeout_s``; a worker that died names itself and its envs; a
cluster address that does not answer is probed in a child process first (``ray.init`` on an
unreachable address retries for minutes). Ray is imported here only inside functions: without it,
``vector_env=ray`` says how to install it.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
from copy import deepcopy
from typing import Callable, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from embodied.errors import UserError

INSTALL_HINT = "vector_env=ray needs Ray, an optional extra: pip install -e '.[ray]' (or bash scripts/install.sh)"


class RayCollectionError(UserError, RuntimeError):
    """Ray is missing, a cluster cannot be reached, or an env worker died or stopped answering."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayCollectionError(INSTALL_HINT) from None
    return ray


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def _why_dead(err: BaseException) -> str:
    """Ray's actor errors end with their reason (the exception an actor's creation raised, or the exit type)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(err).__name__


def probe_address(address: str, timeout_s: float) -> None:
    """Join ``address`` in a child process first: ``ray.init`` on an address nobody answers retries for
    minutes, and a child can be stopped at ``timeout_s``; this process then joins knowing someone is there."""
    code = (
        "import logging, sys, ray; "
        "ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False); ray.shutdown()"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, address], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise RayCollectionError(
            f"ray_address={address}: no Ray cluster answered within ray_timeout_s={timeout_s:g} s "
            f"(is `ray start --head` running there, and the port open?)"
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip() and not line.startswith("[")]
        why = lines[-1][:300] if lines else f"exit status {done.returncode}"
        raise RayCollectionError(f"ray_address={address}: cannot join the Ray cluster: {why}")


#: addresses that answered a probe in this process (``check`` before the run folder, ``connect`` after it)
_ANSWERED: set[str] = set()


def check(address: str, timeout_s: float) -> None:
    """What can fail before any actor starts: Ray missing, ``address`` not answering. Cheap without an address."""
    ray = import_ray()
    if address and not ray.is_initialized() and address not in _ANSWERED:
        probe_address(address, timeout_s)
        _ANSWERED.add(address)


def connect(address: str, timeout_s: float, workers: int) -> bool:
    """Join ``address`` (``auto`` or ``HOST:PORT``), or start a local instance when it is empty, unless this
    process already joined one (a test, a notebook, a sweep trial: used as it is). Returns True when this
    call started or joined Ray (and the caller must shut it down)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    quiet = dict(logging_level=logging.ERROR, log_to_driver=False)
    if address:
        check(address, timeout_s)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise RayCollectionError(
                f"ray_address={address}: cannot join the Ray cluster: {_first_line(err)}"
            ) from None
        return True
    try:
        # logical CPUs: more workers than cores may share them (slower, but what a benchmark must be able to show)
        ray.init(
            num_cpus=max(os.cpu_count() or 1, workers),
            include_dashboard=False,
            object_store_memory=128 * 1024**2,
            **quiet,
        )
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise RayCollectionError(f"vector_env=ray: cannot start a local Ray instance: {_first_line(err)}") from None
    return True


class EnvWorker:
    """What one Ray actor holds: a few envs, stepped in order with same-step autoreset (as SyncVectorEnv)."""

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]]):
        try:  # Ctrl-C is for the trainer, which stops at an episode boundary and closes the workers itself
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread of the worker: leave it
            pass
        self.env_fns, self.envs = list(env_fns), []

    def build(self) -> tuple[gym.Space, gym.Space]:
        """Make the envs (a method, not ``__init__``, so that an error in an env reaches the learner as itself)."""
        self.envs = [fn() for fn in self.env_fns]
        return self.envs[0].observation_space, self.envs[0].action_space

    def reset(self, seeds: list, options: dict | None) -> list[tuple[dict, dict]]:
        return [env.reset(seed=seed, options=options) for env, seed in zip(self.envs, seeds)]

    def step(self, actions: np.ndarray) -> list[tuple[dict, float, bool, bool, list[dict]]]:
        """Per env: obs, reward, terminated, truncated and the infos to merge in order (SyncVectorEnv's
        SAME_STEP: a finished env's final obs and info first, then its reset's info)."""
        out = []
        for env, action in zip(self.envs, actions):
            obs, reward, terminated, truncated, info = env.step(action)
            infos = [info]
            if terminated or truncated:
                final = {"final_obs": obs, "final_info": info}
                obs, reset_info = env.reset()  # no seed: the env's own generator, seeded at the episode start
                infos = [final, reset_info]
            out.append((obs, reward, terminated, truncated, infos))
        return out

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []


class RayVectorEnv(gym.vector.VectorEnv):
    """``len(env_fns)`` envs on ``ceil(len / envs_per_worker)`` Ray actors (one CPU each, spread over the
    cluster's nodes), behaving as ``SyncVectorEnv(env_fns, autoreset_mode=SAME_STEP)``: same spaces, same
    arrays, same infos. Ray must already be initialised (:func:`connect`)."""

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], envs_per_worker: int = 1, timeout_s: float = 60.0):
        self._ray = ray = import_ray()
        self.num_envs, self.timeout_s = len(env_fns), float(timeout_s)
        per = max(1, int(envs_per_worker))
        #: worker k steps envs slices[k] (contiguous, in env order: the merged arrays keep env order)
        self.slices = [slice(lo, min(lo + per, self.num_envs)) for lo in range(0, self.num_envs, per)]
        self.workers, self.started_ray = [], False  # started_ray: close() shuts down the Ray this run started
        total_cpus = ray.cluster_resources().get("CPU", 0)
        if total_cpus < len(self.slices):
            raise RayCollectionError(
                f"vector_env=ray: {len(self.slices)} env workers need {len(self.slices)} CPUs, the Ray cluster has "
                f"{total_cpus:g}: raise envs_per_worker (now {per}) or lower num_envs (now {self.num_envs})"
            )
        actor = ray.remote(num_cpus=1, max_restarts=0, scheduling_strategy="SPREAD")(EnvWorker)
        self.workers = [actor.remote(list(env_fns[s])) for s in self.slices]
        try:
            spaces = self._gather([w.build.remote() for w in self.workers], "starting the envs")
        except BaseException:
            self.close_extras()
            raise
        self.single_observation_space, self.single_action_space = spaces[0]
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        self.render_mode = None
        self._observations = create_empty_array(self.single_observation_space, n=self.num_envs, fn=np.zeros)

    def _gather(self, refs: list, what: str) -> list:
        """``ray.get`` of one call per worker, in worker order, each within what is left of ``timeout_s``:
        a dead worker is named, an env's own user error is raised as itself, a silent one is a timeout."""
        import time

        ray = self._ray
        deadline, results = time.monotonic() + self.timeout_s, []
        for k, ref in enumerate(refs):
            envs = f"envs {self.slices[k].start}-{self.slices[k].stop - 1}"
            try:
                results.append(ray.get(ref, timeout=max(deadline - time.monotonic(), 0.0)))
            except ray.exceptions.GetTimeoutError:
                raise RayCollectionError(
                    f"vector_env=ray: env worker {k} ({envs}) did not answer within ray_timeout_s={self.timeout_s:g} s "
                    f"while {what}; the run stops here (continue it with --resume)"
                ) from None
            except ray.exceptions.RayActorError as err:
                raise RayCollectionError(
                    f"vector_env=ray: env worker {k} ({envs}) died while {what} ({_why_dead(err)}); "
                    f"the run stops here (continue it with --resume)"
                ) from None
            except ray.exceptions.RayTaskError as err:
                if isinstance(err.cause, UserError):  # e.g. a bad task option: the env's own one-line message
                    raise err.cause from None
                raise
        return results

    def reset(self, *, seed: int | list | None = None, options: dict | None = None):
        if seed is None:
            seed = [None] * self.num_envs
        elif isinstance(seed, int):
            seed = [seed + i for i in range(self.num_envs)]  # SyncVectorEnv's rule
        if len(seed) != self.num_envs:
            raise ValueError(f"{len(seed)} seeds for {self.num_envs} envs")
        refs = [w.reset.remote(seed[s], options) for w, s in zip(self.workers, self.slices)]
        pairs = [pair for part in self._gather(refs, "resetting the envs") for pair in part]
        infos: dict = {}
        for i, (_, info) in enumerate(pairs):
            infos = self._add_info(infos, info, i)
        self._observations = concatenate(self.single_observation_space, [o for o, _ in pairs], self._observations)
        return deepcopy(self._observations), infos

    def step(self, actions):
        actions = np.asarray(actions)
        refs = [w.step.remote(actions[s]) for w, s in zip(self.workers, self.slices)]
        rows = [row for part in self._gather(refs, "stepping the envs") for row in part]
        rewards = np.zeros(self.num_envs, np.float64)
        terminated = np.zeros(self.num_envs, np.bool_)
        truncated = np.zeros(self.num_envs, np.bool_)
        infos: dict = {}
        for i, (_, reward, term, trunc, env_infos) in enumerate(rows):
            rewards[i], terminated[i], truncated[i] = reward, term, trunc
            for info in env_infos:
                infos = self._add_info(infos, info, i)
        self._observations = concatenate(self.single_observation_space, [r[0] for r in rows], self._observations)
        return deepcopy(self._observations), rewards, terminated, truncated, infos

    def close_extras(self, **kwargs) -> None:
        """Close the envs (a short wait: a dead worker has nothing to close), then end the actors."""
        ray = self._ray
        if self.workers:
            refs = [w.close.remote() for w in self.workers]
            ray.wait(refs, num_returns=len(refs), timeout=min(self.timeout_s, 10.0))
            for worker in self.workers:
                ray.kill(worker)
            self.workers = []
        if self.started_ray:
            ray.shutdown()
            self.started_ray = False


def ray_vector_env(env_fns: Sequence[Callable[[], gym.Env]], run) -> RayVectorEnv:
    """The collector's ``vector_env=ray``: join or start Ray as ``run`` (the config's run section) says, then
    the envs on their workers. Ray started here is shut down when the envs close."""
    workers = math.ceil(len(env_fns) / run.envs_per_worker)
    started = connect(run.ray_address, run.ray_timeout_s, workers)
    try:
        envs = RayVectorEnv(env_fns, run.envs_per_worker, run.ray_timeout_s)
    except BaseException:
        if started:
            import_ray().shutdown()
        raise
    envs.started_ray = started
    return envs
