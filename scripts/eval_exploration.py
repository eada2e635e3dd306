"""Exploration on held-out procedural 9x9 mazes: trained agent vs random vs no-intrinsic agent.

1. Drive the privileged depth-first oracle (evaluation only) through each held-out maze; the
   evaluation episode length is 3x its mean step count (the same rule as ``embodied eval``).
2. Train the full agent and the same agent with ``intrinsic=false`` with the trainer, same
   budget (``--train-steps`` env steps, same seed, same config otherwise).
3. Evaluate both checkpoints, a uniform-random-action policy and the whisker wanderer on the
   held-out mazes (seeds ≥ 10,000): cell coverage at the end of the episode, mean and bootstrap
   95% CI, and paired (same-maze) differences.

Full version (estimated ~75 min on the 2 shared cores, from measured rates: trainer ~15 env
steps/s, agent evaluation ~17 steps/s; 2 x 16,384 training steps + 2 x 5 x ~3,564 evaluation steps):
    python scripts/eval_exploration.py --train-steps 16384 --seeds 5
Smoke version (no trainer needed with --no-train):
    python scripts/eval_exploration.py --quick [--no-train]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from embodied.train.evaluate import (
    dfs_episode_steps,
    evaluate_policy,
    held_out_seeds,
    limit_threads,
    paired_difference,
    policy_factory,
    save_bar_figure,
    summary_line,
    train_agent,
    trainer_missing_reason,
    training_overlap,
    write_json,
)

TARGET_COVERAGE = 0.8


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="held-out mazes (seeds from 10000)")
    parser.add_argument("--train-steps", type=int, default=16_384, help="trainer env steps per condition")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--config", default="configs/default.json")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra trainer overrides")
    parser.add_argument("--world", default="procedural:9x9")
    parser.add_argument("--episode-steps", type=int, help="override the 3x-DFS evaluation episode length")
    parser.add_argument("--no-train", action="store_true", help="skip the trained agents (reference policies only)")
    parser.add_argument("--checkpoint", help="use this full-agent checkpoint instead of training")
    parser.add_argument("--checkpoint-no-intrinsic", help="use this no-intrinsic checkpoint instead of training")
    parser.add_argument("--skip-no-intrinsic", action="store_true", help="train and evaluate only the full agent")
    parser.add_argument("--out", default="runs/eval_exploration")
    parser.add_argument("--figure", default="docs/figures/results_exploration.png")
    parser.add_argument(
        "--quick", action="store_true", help="smoke: 2 mazes, 300-step episodes, 64 train steps in 1 env"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads when evaluating a checkpoint (0 = default)"
    )
    args = parser.parse_args(argv)
    t_start = time.time()
    out = Path(args.out)
    seeds = held_out_seeds(2 if args.quick else args.seeds)
    vision = 32
    for item in args.set:
        if item.startswith("vision_size="):
            vision = int(item.split("=", 1)[1])
    env_kwargs = {"vision_size": vision}

    dfs = dfs_episode_steps(args.world, seeds, env_kwargs)
    episode_steps = args.episode_steps or dfs["episode_steps"]
    if args.quick:
        episode_steps = min(episode_steps, 300)
    print(
        f"DFS oracle (privileged, evaluation only): {dfs['cell_moves'][0]} cell moves = 2(cells-1); "
        f"driven steps per maze {dfs['oracle_steps']} (formula {[round(f) for f in dfs['formula_steps']]}); "
        f"full coverage at {dfs['oracle_steps_to_full']}",
        flush=True,
    )
    print(
        f"evaluation episode: {episode_steps} steps"
        + (
            f" (set by --episode-steps; 3 x mean DFS = {dfs['episode_steps']})"
            if args.episode_steps
            else " (3 x mean DFS steps)"
        )
        + (" [quick: capped at 300]" if args.quick else ""),
        flush=True,
    )

    results: dict[str, dict] = {}
    report = {
        "command": " ".join(
            ["python", "scripts/eval_exploration.py"] + list(argv if argv is not None else sys.argv[1:])
        ),
        "seeds": seeds,
        "episode_steps": episode_steps,
        "dfs": dfs,
        "quick": args.quick,
        "training": {},
    }
    for name in ("random", "wander"):
        make, _ = policy_factory(name)
        results[name] = evaluate_policy(
            make, args.world, "explore", seeds, episode_steps, env_kwargs=env_kwargs, progress=True, label=name
        )
        print(summary_line(name, results[name]), flush=True)

    if not args.no_train:
        missing = trainer_missing_reason()
        if missing and not (args.checkpoint and (args.checkpoint_no_intrinsic or args.skip_no_intrinsic)):
            print(f"skipping the trained agents: {missing}")
        else:
            steps = 64 if args.quick else args.train_steps
            quick = ["num_envs=1", "episode_steps=64", "learning_starts=32"] if args.quick else []
            base = (
                [
                    "task=explore",
                    f"world={args.world}",
                    f"total_steps={steps}",
                    f"seed={args.train_seed}",
                    "video_every=0",
                    "tensorboard=false",
                ]
                + quick
                + list(args.set)
            )
            conditions = {
                "agent": (args.checkpoint, base + ["intrinsic=true"]),
                "agent_no_intrinsic": (args.checkpoint_no_intrinsic, base + ["intrinsic=false"]),
            }
            if args.skip_no_intrinsic:
                conditions.pop("agent_no_intrinsic")
            for name, (checkpoint, overrides) in conditions.items():
                if checkpoint is None:
                    print(f"training {name}: {steps} env steps, overrides {overrides[:4]} ...", flush=True)
                    info = train_agent(out / name, overrides, args.config)
                    checkpoint = info["checkpoint"]
                    print(
                        f"  trained in {info['wall_s']:.0f} s ({info['total_steps'] / info['wall_s']:.1f} env steps/s)",
                        flush=True,
                    )
                    report["training"][name] = info
                run_config = Path(checkpoint).parent.parent / "config.json"
                if run_config.exists():
                    overlap = training_overlap(json.loads(run_config.read_text()), seeds, args.world)
                    report["training"].setdefault(name, {})["overlap"] = overlap
                    if overlap["shared_seeds"] or overlap["same_maze_geometry"]:
                        print(f"  WARNING {name}: held-out overlap with training {overlap}")
                limit_threads(args.threads)
                make, kwargs = policy_factory(checkpoint)
                results[name] = evaluate_policy(
                    make,
                    args.world,
                    "explore",
                    seeds,
                    episode_steps,
                    env_kwargs=kwargs or env_kwargs,
                    progress=True,
                    label=name,
                )
                print(summary_line(name, results[name]), flush=True)

    print("\n== exploration: coverage at the end of a", episode_steps, "step episode, held-out mazes", seeds, "==")
    for name, result in results.items():
        print(summary_line(name, result))
    comparisons = {}
    if "agent" in results:
        cov = results["agent"]["coverage_ci"]
        comparisons["target_coverage_met"] = bool(cov["mean"] >= TARGET_COVERAGE)
        comparisons["gap_to_target"] = TARGET_COVERAGE - cov["mean"]
        print(
            f"agent coverage {cov['mean']:.3f} vs target {TARGET_COVERAGE}: "
            f"{'MET' if cov['mean'] >= TARGET_COVERAGE else 'NOT met, gap %.3f' % (TARGET_COVERAGE - cov['mean'])}"
        )
        for other in ("random", "agent_no_intrinsic"):
            if other in results:
                diff = paired_difference(results["agent"], results[other], "coverage")
                comparisons[f"agent_minus_{other}"] = diff
                print(
                    f"agent - {other}: {diff['mean']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}] (paired, same mazes)"
                )
    report.update(results=results, comparisons=comparisons, wall_s=time.time() - t_start)
    write_json(out / "results.json", report)
    if not args.quick:
        save_bar_figure(
            args.figure,
            results,
            "coverage",
            "cell coverage",
            f"Exploration, held-out 9x9 mazes (n={len(seeds)}, {episode_steps} steps)",
            TARGET_COVERAGE,
            "target 0.8",
        )
        print(f"figure: {args.figure}")
    print(f"results: {out / 'results.json'}  (wall-clock {time.time() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
