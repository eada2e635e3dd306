"""Env steps/s of vector_env=ray against the number of Ray workers, as ratios to vector_env=sync.

    python3 scripts/bench_collect.py --workers 1 2 4 --steps 200              # a local Ray instance
    python3 scripts/bench_collect.py --workers 4 8 --envs 8 --address auto    # a running cluster

For each worker count W, with ``--envs`` envs in both (W workers of ceil(envs / W) envs each):

- **env only**: random actions through the vector env: ``RayVectorEnv`` against ``SyncVectorEnv``;
- **collection**: ``LocalCollector.collect`` with the real agent of ``--config`` (its batched step on
  every env's observation, then the env step), as training collects; the agent's share of the time
  is measured by timing its ``step`` calls (the rest is the env step, Ray's round trip included).

Each ray row is measured right after its own sync baseline (same process, same load), and the table
prints both rates and their ratio. World-model updates are not part of collection: they run in the
learner whichever vector env steps the envs.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import gymnasium as gym
import numpy as np
import torch


class TimedAgent:
    """The agent, with the seconds spent in its batched ``step`` counted (the rest of collection is env)."""

    def __init__(self, agent):
        self.agent, self.seconds = agent, 0.0

    def step(self, obs, reward, is_first):
        start = time.perf_counter()
        out = self.agent.step(obs, reward, is_first)
        self.seconds += time.perf_counter() - start
        return out


def env_only(envs, steps: int, seed: int) -> float:
    """Env steps/s (counting every env) of random actions, after a reset and 5 warm-up steps."""
    rng = np.random.default_rng(seed)
    envs.reset(seed=[seed + i for i in range(envs.num_envs)])
    low, high = envs.single_action_space.low, envs.single_action_space.high
    actions = rng.uniform(low, high, (steps + 5, envs.num_envs, *low.shape)).astype(np.float32)
    for action in actions[:5]:
        envs.step(action)
    start = time.perf_counter()
    for action in actions[5:]:
        envs.step(action)
    return steps * envs.num_envs / (time.perf_counter() - start)


def collection(cfg, steps: int) -> tuple[float, float, float]:
    """``LocalCollector.collect`` with a fresh agent: env steps/s, and the milliseconds per vector step
    spent in the agent's batched step and in the rest (the env step, Ray's round trip included)."""
    from embodied.brain.agent import Agent
    from embodied.train.collector import LocalCollector

    collector = LocalCollector(cfg)
    try:
        agent = Agent(
            cfg.brain,
            collector.observation_space,
            collector.action_space,
            num_envs=cfg.run.num_envs,
            seed=cfg.run.seed,
            device="cpu",
        )
        timed = TimedAgent(agent)
        collector.collect(timed, 5)  # warm-up: the first reset, torch's first calls
        timed.seconds = 0.0
        start = time.perf_counter()
        collector.collect(timed, steps)
        elapsed = time.perf_counter() - start
        agent_ms = 1000 * timed.seconds / steps
        return steps * cfg.run.num_envs / elapsed, agent_ms, 1000 * elapsed / steps - agent_ms
    finally:
        collector.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="Ray worker counts to measure")
    parser.add_argument("--envs", type=int, default=4, help="envs in every row (sync and ray)")
    parser.add_argument(
        "--steps", type=int, default=200, help="vector steps timed per measurement (each steps all envs)"
    )
    parser.add_argument("--config", default="configs/default.json", help="training config (the agent, the env)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--address", default="", help="Ray cluster to join (auto or HOST:PORT); default: a local one")
    parser.add_argument("--skip-collection", action="store_true", help="measure the env-only rows only")
    args = parser.parse_args(argv)
    if min(args.workers) < 1 or args.envs < 1 or args.steps < 1:
        parser.error("--workers, --envs and --steps must be >= 1")

    from embodied.errors import UserError
    from embodied.train.collector import make_env_fn
    from embodied.train.config import load_config
    from embodied.train.ray_collector import RayVectorEnv, connect, import_ray

    torch.set_num_threads(1)
    try:
        base = load_config(args.config, [*args.set, f"num_envs={args.envs}", "vector_env=sync", "device=cpu"])
        started = connect(args.address, base.run.ray_timeout_s, max(args.workers))
    except UserError as err:
        print(f"bench_collect: {err}", file=sys.stderr)
        return 2
    ray = import_ray()
    cpus = ray.cluster_resources().get("CPU", 0)
    print(
        f"{args.envs} envs, {args.steps} vector steps per measurement, world {base.env.world}, vision "
        f"{base.env.vision_size}px; Ray {ray.__version__} with {cpus:g} CPUs "
        f"({'local instance' if not args.address else args.address}); this machine: {os.cpu_count()} cores",
        flush=True,
    )
    header = (
        f"{'workers':>7} {'envs/worker':>11} | {'env only: sync':>14} {'ray':>8} {'ratio':>6} | "
        f"{'collection: sync':>16} {'ray':>8} {'ratio':>6} | {'ms/step sync: agent':>19} {'env':>5} | "
        f"{'ray: agent':>10} {'env':>5}"
    )
    print(header)
    print("-" * len(header), flush=True)
    fns = [make_env_fn(base) for _ in range(args.envs)]
    try:
        for workers in args.workers:
            per = math.ceil(args.envs / workers)
            sync_envs = gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
            try:
                sync_rate = env_only(sync_envs, args.steps, base.run.seed)
            finally:
                sync_envs.close()
            ray_envs = RayVectorEnv(fns, envs_per_worker=per, timeout_s=base.run.ray_timeout_s)
            try:
                ray_rate = env_only(ray_envs, args.steps, base.run.seed)
            finally:
                ray_envs.close()
            used = len(ray_envs.slices)
            line = f"{used:>7} {per:>11} | {sync_rate:>14.0f} {ray_rate:>8.0f} {ray_rate / sync_rate:>6.2f} |"
            if not args.skip_collection:
                sync_c, sync_agent, sync_env = collection(base, args.steps)
                ray_cfg = load_config(
                    args.config,
                    [*args.set, f"num_envs={args.envs}", "vector_env=ray", f"envs_per_worker={per}", "device=cpu"],
                )
                ray_c, ray_agent, ray_env = collection(ray_cfg, args.steps)
                line += (
                    f" {sync_c:>16.1f} {ray_c:>8.1f} {ray_c / sync_c:>6.2f} | {sync_agent:>19.1f} {sync_env:>5.1f} |"
                )
                line += f" {ray_agent:>10.1f} {ray_env:>5.1f}"
            print(line, flush=True)
    except UserError as err:
        print(f"bench_collect: {err}", file=sys.stderr)
        return 2
    finally:
        if started:
            ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
