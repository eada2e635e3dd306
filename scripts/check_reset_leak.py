"""1,000 resets into new procedural layouts must not grow memory or leak PyBullet clients.

Prints resident memory after a warm-up and after all resets, the PyBullet body count, and
whether every client opened and closed by short-lived envs is released.

    python scripts/check_reset_leak.py [--resets 1000] [--envs 50]
"""

from __future__ import annotations

import argparse
import resource

import pybullet as p

from embodied.env import RodentMazeEnv


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resets", type=int, default=1000)
    parser.add_argument("--envs", type=int, default=50, help="envs opened and closed to check client release")
    args = parser.parse_args()
    env = RodentMazeEnv(world="procedural:9x9", task="forage")
    warmup = 100
    for seed in range(warmup):
        env.reset(seed=seed)
        env.step(env.action_space.sample())
    before, bodies_before = rss_mb(), p.getNumBodies(physicsClientId=env.client)
    for seed in range(warmup, warmup + args.resets):
        env.reset(seed=seed)
        env.step(env.action_space.sample())
    after, bodies_after = rss_mb(), p.getNumBodies(physicsClientId=env.client)
    env.close()
    print(
        f"{args.resets} procedural resets: RSS {before:.1f} MB -> {after:.1f} MB ({after - before:+.1f} MB); "
        f"bodies {bodies_before} -> {bodies_after}"
    )
    clients = []
    for _ in range(args.envs):
        short = RodentMazeEnv(world="t_maze")
        short.reset(seed=0)
        clients.append(short.client)
        short.close()
    leaked = [c for c in clients if p.isConnected(physicsClientId=c)]
    print(f"{args.envs} envs opened and closed: {len(leaked)} clients still connected")


if __name__ == "__main__":
    main()
