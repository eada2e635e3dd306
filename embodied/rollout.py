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
from .driver import Driver
from .tasks import TASKS
from .train.metrics import MetricsWriter


def rollout(
    out: Path,
    world: str = "procedural:9x9",
    task: str = "forage",
    policy: str = "random",
    steps: int = 1000,
    episode_steps: int = 500,
    seed: int = 0,
    log_every: int = 50,
) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = dict(world=world, task=task, policy=policy, steps=steps, episode_steps=episode_steps, seed=seed)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    env = gym.make(ENV_ID, world=world, task=task, max_episode_steps=episode_steps)
    agent = _NoResetBetweenEpisodes(make_reference_policy(policy, env.action_space, seed))
    tally = {"step": 0, "food": []}
    returns = []
    with MetricsWriter(out) as metrics:

        def log(step) -> None:
            tally["step"] += 1
            tally["food"].append(step.reward > 0)
            if tally["step"] % log_every == 0:
                metrics.log(
                    tally["step"],
                    {
                        "charts/coverage": step.next_info["coverage"],
                        "charts/food_per_1000_steps": 1000 * float(np.mean(tally["food"])),
                        "rewards/food": float(np.sum(tally["food"])),
                    },
                )
                tally["food"] = []

        def log_episode(episode) -> None:
            returns.append(episode.total_reward)
            metrics.log(
                tally["step"],
                {"charts/episode_return": episode.total_reward, "charts/coverage": episode.info["coverage"]},
            )

        driver = Driver(env, agent, on_step=[log], on_episode=[log_episode])
        driver.reset(seed=seed)
        driver.run(steps=steps)
    env.close()
    return {"episodes": len(returns), "mean_return": float(np.mean(returns)) if returns else driver.episode_reward}


class _NoResetBetweenEpisodes:
    """The reference policy as ``embodied rollout`` has always run it: never reset, so the wander
    reflex's head-sweep clock runs on across episodes (issue 12 keeps the figures bit for bit)."""

    def __init__(self, policy):
        self.policy = policy

    def reset(self) -> None:
        pass

    def act(self, obs: dict):
        return self.policy.act(obs)


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
    parser.add_argument("--steps", type=whole_number(1, 10**9), default=1000, help="env steps in total")
    parser.add_argument("--episode-steps", type=whole_number(1, 10**9), default=500, help="steps per episode")
    parser.add_argument("--seed", type=whole_number(0, 2**63 - 1), default=0, help="seed of the env and policy")


def run(args: argparse.Namespace) -> int:
    stats = rollout(Path(args.out), args.world, args.task, args.policy, args.steps, args.episode_steps, args.seed)
    print(f"wrote {args.out}: {stats['episodes']} episodes, mean return {stats['mean_return']:.2f}")
    return 0
