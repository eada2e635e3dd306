"""Held-out evaluation of one checkpoint, one maze after another against all mazes at once.

    python3 scripts/bench_eval.py runs/explore --mazes 3 5 --episode-steps 400 --with-predicted-frame
    python3 scripts/bench_eval.py runs/explore/checkpoints/latest.pt --mazes 5 --repeats 3 --json bench.json

For each maze count N (``--mazes``), on the held-out mazes 10000 .. 10000+N−1, in one process:

- **sequential**: ``evaluate_policy(batch=1)``: one env, the mazes one after another, a batch-1 agent;
- **batched**: ``evaluate_policy(batch=N)``: N envs stepped together, one agent step for all of them
  (``run_episodes_batched``);

and, with ``--with-predicted-frame``, the sequential run as it was before batching came (one agent
loaded once for every maze, drawing its predicted frame every step, which evaluation never read).

Each wall-clock is the whole ``evaluate_policy`` call (envs built, checkpoint loaded, every step);
``ms/call`` divides it by the policy calls (one per step of each maze sequentially, one per step of
all the mazes batched), and "of it act" is the time inside the policy's ``act`` (the agent's step;
the rest is the envs and the drivers). The runs of one maze count follow each other in one process,
so their ratio is taken under one load (this machine is shared: compare ratios, not seconds across
runs). Torch's stream is seeded 0 before each run and the agent's own generator is seeded when the
checkpoint is loaded, so a row's figures repeat (``--repeats R`` shows the timing's spread). The
coverage column is the mean over the mazes (per maze in ``--json``): sequential and batched runs of
a stochastic agent share no random draws, so they agree in distribution only; the line under each
batched row is their paired per-maze difference with a bootstrap 95% interval.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


class TimedPolicy:
    """A policy with the seconds spent in its ``act`` counted (the rest of evaluation is envs and drivers)."""

    clock = {"act_s": 0.0}

    def __init__(self, policy):
        self.policy = policy

    def reset(self, *args) -> None:
        self.policy.reset(*args)

    def act(self, obs):
        start = time.perf_counter()
        out = self.policy.act(obs)
        TimedPolicy.clock["act_s"] += time.perf_counter() - start
        return out

    def observe_reward(self, reward) -> None:
        self.policy.observe_reward(reward)


def timed(make):
    """``make`` (a PolicyMaker) whose policies count their acting time in ``TimedPolicy.clock``."""
    from embodied.train.evaluate import PolicyMaker

    return PolicyMaker(
        lambda env, seed: TimedPolicy(make(env, seed)),
        None if make.batched is None else lambda envs, seeds: TimedPolicy(make.batched(envs, seeds)),
    )


def measure(checkpoint: str, world: str, task: str, mazes: int, episode_steps: int, predicted_frame: bool) -> dict:
    """Wall seconds, the policy's share of them and the coverage of each evaluation of ``mazes`` mazes
    (torch's stream, which the world model's latent samples draw from, seeded 0 before each)."""
    import torch

    from embodied.train.checkpoint import load_policy
    from embodied.train.evaluate import evaluate_policy, held_out_seeds, paired_difference, policy_factory

    make, env_kwargs = policy_factory(checkpoint)
    make = timed(make)
    seeds = held_out_seeds(mazes)
    runs = {}
    if predicted_frame:  # the path before batched evaluation: a batch-1 agent that also draws its predicted frame
        path = checkpoint if checkpoint.endswith(".pt") else os.path.join(checkpoint, "checkpoints", "latest.pt")
        cache = {}  # it also loaded the checkpoint once and went on with the same agent from maze to maze

        def before(env, seed):
            if "policy" not in cache:
                cache["policy"] = TimedPolicy(load_policy(path, env=env, predict=True))
            return cache["policy"]

        runs["sequential, predicted frame"] = (before, 1)
    runs["sequential"] = (make, 1)
    runs["batched"] = (make, mazes)
    rows, results = {}, {}
    for name, (maker, batch) in runs.items():
        TimedPolicy.clock["act_s"] = 0.0
        torch.manual_seed(0)
        r = results[name] = evaluate_policy(
            maker, world, task, seeds, episode_steps, env_kwargs=env_kwargs, batch=batch
        )
        calls = episode_steps * (1 if r["batch"] > 1 else mazes)  # one per step of each maze, or of all at once
        rows[name] = {
            "wall_s": round(r["wall_s"], 2),
            "ms_per_call": round(1000 * r["wall_s"] / calls, 2),
            "act_ms_per_call": round(1000 * TimedPolicy.clock["act_s"] / calls, 2),
            "coverage": round(float(np.mean(r["coverage"])), 3),
            "coverage_per_maze": [round(c, 3) for c in r["coverage"]],
            "batch": r["batch"],
        }
    if mazes > 1:  # the paired per-maze difference, batched - sequential (bootstrap 95% CI)
        rows["batched"]["coverage_minus_sequential"] = paired_difference(
            results["batched"], results["sequential"], "coverage"
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="checkpoint .pt or run folder")
    parser.add_argument("--world", default="procedural:9x9:loops=0.3")
    parser.add_argument("--task", default="explore", choices=["explore", "forage"])
    parser.add_argument("--mazes", type=int, nargs="+", default=[3, 5], help="maze counts to compare, each 1..64")
    parser.add_argument("--episode-steps", type=int, default=600, help="steps per maze, 1..100000")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each maze count (the timing's spread), 1..20")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (embodied eval's default: 1)")
    parser.add_argument(
        "--with-predicted-frame", action="store_true", help="also time the sequential path as it was before batching"
    )
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    if not all(1 <= n <= 64 for n in args.mazes) or not 1 <= args.episode_steps <= 100_000:
        parser.error("--mazes each 1..64 and --episode-steps 1..100000")
    if not 1 <= args.repeats <= 20:
        parser.error("--repeats 1..20")
    from embodied.train.evaluate import limit_threads, write_json

    limit_threads(args.threads)
    print(
        f"{args.checkpoint} on {args.world} ({args.task}), {args.episode_steps} steps per maze, "
        f"{args.threads} thread(s); ms per policy call, and of it inside act"
    )
    print(f"{'mazes':>5} {'run':>4}  {'':<28} {'wall s':>7} {'ms':>6} {'act':>6} {'coverage':>8} {'speed-up':>8}")
    report = []
    for n in args.mazes:
        for repeat in range(args.repeats):
            rows = measure(args.checkpoint, args.world, args.task, n, args.episode_steps, args.with_predicted_frame)
            base = rows["sequential"]["wall_s"]
            for name, row in rows.items():
                row["speedup"] = round(base / row["wall_s"], 2)
                print(
                    f"{n:>5} {repeat:>4}  {name:<28} {row['wall_s']:>7.1f} {row['ms_per_call']:>6.1f} "
                    f"{row['act_ms_per_call']:>6.1f} {row['coverage']:>8.3f} {row['speedup']:>7.2f}x",
                    flush=True,
                )
            diff = rows["batched"].get("coverage_minus_sequential")
            if diff:
                print(
                    f"{'':>11}coverage batched - sequential, paired over the mazes: {diff['mean']:+.3f} "
                    f"[{diff['low']:+.3f}, {diff['high']:+.3f}]"
                )
            report.append({"mazes": n, "repeat": repeat, "rows": rows})
    if args.json:
        write_json(args.json, {"args": vars(args), "python": sys.version.split()[0], "runs": report})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
