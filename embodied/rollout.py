"""``embodied rollout``: run a reference policy in the env and write a run folder.

A run folder with the same layout as training's (``config.json``, ``metrics.csv``), so
``embodied plot`` and the video recorder work on it; useful as a baseline and a smoke test.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import gymnasium as gym
import numpy as np

from . import ENV_ID
from .brain.policies import REFERENCE_POLICIES, make_reference_policy
from .tasks import TASKS
from .train.metrics import MetricsWriter


def rollout(out: Path, world: str = "procedural:9x9", task: str = "forage", policy: str = "random",
            steps: int = 1000, episode_steps: int = 500, seed: int = 0, log_every: int = 50) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = dict(world=world, task=task, policy=policy, steps=steps, episode_steps=episode_steps, seed=seed)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    env = gym.make(ENV_ID, world=world, task=task, max_episode_steps=episode_steps)
    agent = make_reference_policy(policy, env.action_space, seed)
    obs, info = env.reset(seed=seed)
    episode_return, food_window, returns = 0.0, [], []
    with MetricsWriter(out) as metrics:
        for step in range(1, steps + 1):
            action, _ = agent.act(obs)
            obs, reward, terminated, truncated, info = env.step(action)
            episode_return += reward
            food_window.append(reward > 0)
            if step % log_every == 0:
                metrics.log(step, {"charts/coverage": info["coverage"],
                                   "charts/food_per_1000_steps": 1000 * float(np.mean(food_window)),
                                   "rewards/food": float(np.sum(food_window))})
                food_window = []
            if terminated or truncated:
                returns.append(episode_return)
                metrics.log(step, {"charts/episode_return": episode_return, "charts/coverage": info["coverage"]})
                episode_return = 0.0
                obs, info = env.reset()
    env.close()
    return {"episodes": len(returns), "mean_return": float(np.mean(returns)) if returns else episode_return}


def whole_number(low: int, high: int):
    """An argparse type: a whole number in ``low..high`` (argparse prints the error and exits 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} out of range {low}..{high}")
        return value
    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/rollout", help="run folder to write")
    parser.add_argument("--world", default="procedural:9x9", help="layout name, file, or procedural:WxH")
    parser.add_argument("--task", default="forage", choices=sorted(TASKS), help="the task (reward and termination)")
    parser.add_argument("--policy", default="random", choices=REFERENCE_POLICIES, help="reference policy")
    parser.add_argument("--steps", type=whole_number(1, 10 ** 9), default=1000, help="env steps in total")
    parser.add_argument("--episode-steps", type=whole_number(1, 10 ** 9), default=500, help="steps per episode")
    parser.add_argument("--seed", type=whole_number(0, 2 ** 63 - 1), default=0, help="seed of the env and policy")


def run(args: argparse.Namespace) -> int:
    stats = rollout(Path(args.out), args.world, args.task, args.policy, args.steps, args.episode_steps, args.seed)
    print(f"wrote {args.out}: {stats['episodes']} episodes, mean return {stats['mean_return']:.2f}")
    return 0
