"""``embodied bench``: env steps per second of the real env, under random actions.

    embodied bench                                   # procedural 9x9, forage, 64x64 vision, 1000 steps
    embodied bench --world open_field --vision-size 32 --steps 2000 --senses vision touch

Each block resets the env with a new seed and times ``--steps`` steps of uniform random
actions (seeded: the same actions every run); the figure is the median over ``--blocks`` of
steps per second, with the median reset time into a new maze. Timing only, no learning:
this measures the simulator, its senses and the task. ``scripts/bench_sim.py`` compares the
same env with a floor of bare PyBullet calls; this command is the quick figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from embodied.errors import UsageError

SENSES = ("vision", "touch", "proprio", "scent")


def bench(
    world: str = "procedural:9x9",
    task: str = "forage",
    vision_size: int = 64,
    senses=SENSES,
    steps: int = 1000,
    blocks: int = 3,
    progress: bool = False,
) -> dict:
    """``{"steps_per_second", "step_ms", "reset_ms", "blocks"}``: medians over ``blocks`` blocks."""
    import numpy as np

    from embodied.env import RodentMazeEnv

    env = RodentMazeEnv(world=world, task=task, vision_size=vision_size, senses=tuple(senses))
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, 3)).astype(np.float32)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps * blocks, unit="step", desc="bench", dynamic_ncols=True, file=sys.stderr)
    rates, resets = [], []
    try:
        for block in range(blocks):
            start = time.perf_counter()
            env.reset(seed=block)
            resets.append(time.perf_counter() - start)
            start = time.perf_counter()
            for action in actions:
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()
            rates.append(steps / (time.perf_counter() - start))
            if bar is not None:
                bar.update(steps)
    finally:
        if bar is not None:
            bar.close()
        env.close()
    rate = statistics.median(rates)
    return {
        "steps_per_second": rate,
        "step_ms": 1000.0 / rate,
        "reset_ms": 1000.0 * statistics.median(resets),
        "blocks": rates,
    }


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--world", default="procedural:9x9", help="layout name, file, or procedural:WxH")
    parser.add_argument("--task", default="forage", choices=["explore", "forage"])
    parser.add_argument("--vision-size", type=int, default=64, help="camera pixels (square), 8..512")
    parser.add_argument("--senses", nargs="+", default=list(SENSES), choices=SENSES, help="senses to compute")
    parser.add_argument("--steps", type=int, default=1000, help="steps per timed block, 1..1000000")
    parser.add_argument("--blocks", type=int, default=3, help="timed blocks (the median is reported), 1..100")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    for name, value, low, high in (
        ("--vision-size", args.vision_size, 8, 512),
        ("--steps", args.steps, 1, 10**6),
        ("--blocks", args.blocks, 1, 100),
    ):
        if not low <= value <= high:
            raise UsageError(f"{name} {value}: allowed {low}..{high}")
    result = bench(
        args.world, args.task, args.vision_size, args.senses, args.steps, args.blocks, progress=not args.no_progress
    )
    print(
        f"{args.world} {args.task}, {args.vision_size}x{args.vision_size}, senses {' '.join(args.senses)}: "
        f"{result['steps_per_second']:.0f} env steps/s ({result['step_ms']:.2f} ms/step, median of {args.blocks} "
        f"blocks of {args.steps}); reset {result['reset_ms']:.0f} ms"
    )
    return 0
