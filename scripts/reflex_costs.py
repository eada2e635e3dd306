"""What each innate reflex alone is worth in the agent's own currency on forage mazes.

For each reflex (or reference policy) and held-out maze, runs the policy alone for ``--steps`` steps and
prints, per step: the effort the dopamine part charges, ``−effort_scale · |a_{t−1} − a_{t−2}|²`` (the jerk
cost, ``brain/dopamine/part.py``), the food reward, and the two weighted by ``channel_weights`` as the
global RPE that selection reads weighs them (``w_effort · effort`` + ``w_food · food``), from a config
(default ``configs/default.json``). A reflex whose weighted effort outweighs its weighted food is one the
selection learns to avoid whatever it eats, which is what docs/training.md ("Known limits", foraging)
found for chemotaxis.

    python scripts/reflex_costs.py                                   # the reflexes on 2 mazes x 1,500 steps
    python scripts/reflex_costs.py --policies reflex:chemotaxis wander --mazes 5 --steps 2000

The actions are the env's (after the policy's clip), as the agent's effort channel sees them. No training,
no world model; uses the privileged nothing (the env's reward and the policy's own actions).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

from embodied import ENV_ID
from embodied.brain.policies import REFERENCE_POLICIES, make_reference_policy
from embodied.errors import UsageError
from embodied.train.config import load_config
from embodied.train.evaluate import held_out_seeds

REFLEXES = [name for name in REFERENCE_POLICIES if name.startswith("reflex:")]


def costs(name: str, world: str, mazes: list[int], steps: int) -> dict:
    """Mean jerk |Δa|² and food per step of policy ``name`` over ``mazes`` (one episode of ``steps`` each)."""
    jerks, food, total = [], 0.0, 0
    for maze in mazes:
        env = gym.make(ENV_ID, world=world, task="forage", max_episode_steps=steps)
        obs, _ = env.reset(seed=maze)
        policy = make_reference_policy(name, env.action_space, maze)
        policy.reset()
        before = None
        for _ in range(steps):
            action, _ = policy.act(obs)
            action = np.clip(np.asarray(action, np.float32), env.action_space.low, env.action_space.high)
            if before is not None:
                jerks.append(float(np.square(action - before).sum()))
            before = action
            obs, reward, terminated, truncated, _ = env.step(action)
            food, total = food + float(reward), total + 1
            if terminated or truncated:
                break
        env.close()
    return {"jerk": float(np.mean(jerks)), "food": food / total, "steps": total}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", nargs="+", default=REFLEXES, help=f"of {', '.join(REFERENCE_POLICIES)}")
    parser.add_argument("--world", default="procedural:9x9")
    parser.add_argument("--mazes", type=int, default=2, help="held-out mazes from --maze-start (default 2)")
    parser.add_argument("--maze-start", type=int, default=30000)
    parser.add_argument("--steps", type=int, default=1500, help="steps per maze (default 1,500)")
    parser.add_argument("--config", default=str(Path(__file__).resolve().parent.parent / "configs" / "default.json"))
    args = parser.parse_args(argv)
    try:
        unknown = [p for p in args.policies if p not in REFERENCE_POLICIES]
        if unknown:
            raise UsageError(f"--policies: {unknown[0]!r} is not a reference policy ({', '.join(REFERENCE_POLICIES)})")
        if not 1 <= args.mazes <= 1000 or not 2 <= args.steps <= 100_000:
            raise UsageError(f"--mazes must be in 1..1000 and --steps in 2..100000, got {args.mazes} and {args.steps}")
        cfg = load_config(args.config)
        mazes = held_out_seeds(args.mazes, args.maze_start)
    except (UsageError, ValueError, OSError) as err:
        print(f"reflex_costs: {err}", file=sys.stderr)
        return 2
    dopamine = cfg.brain.dopamine
    w_effort, w_food, scale = (
        dopamine.channel_weights["effort"],
        dopamine.channel_weights["food"],
        dopamine.effort_scale,
    )
    print(
        f"{args.world}, mazes {mazes[0]}..{mazes[-1]}, {args.steps} steps each; effort_scale {scale}, "
        f"w_effort {w_effort}, w_food {w_food}"
    )
    print(f"{'policy':<26} {'jerk/step':>9} {'food/1000':>9} {'w·effort/step':>13} {'w·food/step':>11}")
    for name in args.policies:
        c = costs(name, args.world, mazes, args.steps)
        print(
            f"{name:<26} {c['jerk']:9.3f} {1000 * c['food']:9.2f} {-w_effort * scale * c['jerk']:13.4f} "
            f"{w_food * c['food']:11.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
