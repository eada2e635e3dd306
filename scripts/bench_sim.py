"""Env steps per second per sense configuration, against the floor of bare PyBullet calls.

The floor is the same PyBullet work made bare in a loop, in the same scene: the camera image
at the same resolution, the physics substeps, and the whisker rays. The ratio env/floor is the
env's own overhead (Python, senses, task); the target is ≤ 1.25 for the full four-sense env
at 64×64. Floor and env are timed in alternating blocks so machine noise hits both alike.
Also: median time to reset into a new procedural 9×9 layout (target < 0.1 s).

    python scripts/bench_sim.py [--steps 300] [--blocks 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pybullet as p

from embodied.body.rat import SUBSTEPS
from embodied.env import RodentMazeEnv
from embodied.senses.base import SimView

CONFIGS = [
    ("all four, 64x64", dict(senses=("vision", "touch", "proprio", "scent"), vision_size=64)),
    ("all four, 32x32", dict(senses=("vision", "touch", "proprio", "scent"), vision_size=32)),
    ("all four, 96x96", dict(senses=("vision", "touch", "proprio", "scent"), vision_size=96)),
    ("vision only, 64x64", dict(senses=("vision",), vision_size=64)),
    ("touch only", dict(senses=("touch",))),
    ("proprio only", dict(senses=("proprio",))),
    ("scent only", dict(senses=("scent",))),
    ("touch+proprio+scent", dict(senses=("touch", "proprio", "scent"))),
]


def floor_step(env: RodentMazeEnv) -> None:
    """The bare PyBullet calls one env step needs: substeps, camera, rays."""
    cid = env.client
    for _ in range(SUBSTEPS):
        p.stepSimulation(physicsClientId=cid)
    view = SimView(cid, env.rat, env.arena, env.odour, env.state, None, env.last_action, 0.0)
    for sense in env.senses:
        if sense.name == "vision":
            eye, target = sense.camera_pose(view)
            p.getCameraImage(
                sense.width,
                sense.height,
                p.computeViewMatrix(eye.tolist(), target.tolist(), [0, 0, 1]),
                sense._projection,
                renderer=p.ER_TINY_RENDERER,
                flags=p.ER_NO_SEGMENTATION_MASK,
                shadow=0,
                physicsClientId=cid,
            )
        elif sense.name == "touch":
            starts, ends = sense.rays(view)
            p.rayTestBatch(starts.tolist(), ends.tolist(), physicsClientId=cid)


def time_block(fn, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def bench_config(kwargs: dict, steps: int, blocks: int) -> tuple[float, float]:
    env = RodentMazeEnv(world="procedural:9x9", task="forage", **kwargs)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (steps, 3)).astype(np.float32)
    env_times, floor_times = [], []
    for block in range(blocks):
        env.reset(seed=block)
        it = iter(actions)
        env_times.append(time_block(lambda: env.step(next(it)), steps))
        env.reset(seed=block)
        floor_times.append(time_block(lambda: floor_step(env), steps))
    env.close()
    return statistics.median(env_times), statistics.median(floor_times)


def bench_reset(n: int) -> float:
    env = RodentMazeEnv(world="procedural:9x9", task="forage")
    times = []
    for seed in range(n):
        start = time.perf_counter()
        env.reset(seed=seed)
        times.append(time.perf_counter() - start)
    env.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=15, help="alternating env/floor blocks (median taken)")
    parser.add_argument("--resets", type=int, default=50, help="procedural resets to time")
    args = parser.parse_args()
    print(f"{'configuration':<22} {'env steps/s':>12} {'floor steps/s':>14} {'env/floor':>10}")
    for name, kwargs in CONFIGS:
        env_t, floor_t = bench_config(kwargs, args.steps, args.blocks)
        print(f"{name:<22} {1 / env_t:>12.0f} {1 / floor_t:>14.0f} {env_t / floor_t:>10.2f}", flush=True)
    print(f"reset into a new procedural 9x9 layout: median {1000 * bench_reset(args.resets):.1f} ms")


if __name__ == "__main__":
    main()
