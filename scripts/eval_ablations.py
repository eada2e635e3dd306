"""Ablations against the full agent: plasticity off, one scalar dopamine, tonic dopamine fixed.

Each condition is the full config with one switch flipped (``plasticity=false``,
``scalar_dopamine=true``, ``fixed_tonic=true``), trained with the same budget and seed, then
evaluated on the same held-out mazes (seeds ≥ 10,000): food per 1,000 steps and coverage,
mean and bootstrap 95% CI, and the paired (same-maze) difference to the full agent.

Full version (estimated ~56 min on the 2 shared cores, from measured rates: 4 x 8,192 training
steps at ~15 env steps/s, 4 x 5 x 1,024 evaluation steps at ~17 steps/s):
    python scripts/eval_ablations.py --train-steps 8192 --seeds 5
Smoke version:
    python scripts/eval_ablations.py --quick
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from embodied.train.config import leaves_of
from embodied.train.evaluate import (
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

ABLATIONS = {
    "full": [],
    "no_plasticity": ["plasticity=false"],
    "scalar_dopamine": ["scalar_dopamine=true"],
    "fixed_tonic": ["fixed_tonic=true"],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="forage", choices=["forage", "explore"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--train-steps", type=int, default=8192)
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--episode-steps", type=int, default=1024, help="steps per evaluation episode")
    parser.add_argument("--config", default="configs/default.json")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="overrides for every condition")
    parser.add_argument("--world", default="procedural:9x9")
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="reuse a checkpoint for a condition (e.g. full=runs/eval_foraging/agent)",
    )
    parser.add_argument("--only", help="comma-separated conditions to run (default all)")
    parser.add_argument("--out", default="runs/eval_ablations")
    parser.add_argument("--figure", default="docs/figures/results_ablations.png")
    parser.add_argument("--quick", action="store_true", help="smoke: 2 mazes of 200 steps, 64 training steps each")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads when evaluating a checkpoint (0 = default)"
    )
    args = parser.parse_args(argv)
    missing = trainer_missing_reason()
    reuse = dict(item.split("=", 1) for item in args.checkpoint)
    conditions = args.only.split(",") if args.only else list(ABLATIONS)
    if missing and not all(c in reuse for c in conditions):
        print(f"eval_ablations needs the trainer: {missing}")
        return 2
    t_start = time.time()
    out = Path(args.out)
    seeds = held_out_seeds(2 if args.quick else args.seeds)
    episode_steps = 200 if args.quick else args.episode_steps
    steps = 64 if args.quick else args.train_steps
    quick = ["num_envs=1", "episode_steps=64", "learning_starts=32"] if args.quick else []
    report = {
        "command": " ".join(["python", "scripts/eval_ablations.py"] + list(argv if argv is not None else sys.argv[1:])),
        "seeds": seeds,
        "episode_steps": episode_steps,
        "train_steps": steps,
        "task": args.task,
        "quick": args.quick,
        "training": {},
    }
    results = {}
    for name in conditions:
        checkpoint = reuse.get(name)
        if checkpoint is None:
            overrides = (
                [
                    f"task={args.task}",
                    f"world={args.world}",
                    f"total_steps={steps}",
                    f"seed={args.train_seed}",
                    "video_every=0",
                    "tensorboard=false",
                ]
                + quick
                + args.set
                + ABLATIONS[name]
            )
            print(f"training {name}: {steps} env steps {ABLATIONS[name]} ...", flush=True)
            info = train_agent(out / name, overrides, args.config)
            report["training"][name] = info
            checkpoint = info["checkpoint"]
            print(f"  trained in {info['wall_s']:.0f} s", flush=True)
        path = Path(checkpoint)
        run_dir = path if path.is_dir() else path.parent.parent
        if (run_dir / "config.json").exists():
            config = leaves_of(json.loads((run_dir / "config.json").read_text()))
            report["training"].setdefault(name, {})["overlap"] = training_overlap(config, seeds, args.world)
            report["training"][name]["switches"] = {
                k: config.get(k) for k in ("plasticity", "scalar_dopamine", "fixed_tonic", "intrinsic", "total_steps")
            }
        limit_threads(args.threads)
        make, kwargs = policy_factory(checkpoint)
        results[name] = evaluate_policy(
            make, args.world, args.task, seeds, episode_steps, env_kwargs=kwargs, progress=True, label=name
        )
        print(summary_line(name, results[name]), flush=True)

    key = "food_per_1000" if args.task == "forage" else "coverage"
    print(f"\n== ablations ({args.task}): held-out mazes {seeds}, {episode_steps}-step episodes ==")
    comparisons = {}
    for name, result in results.items():
        line = summary_line(name, result)
        if name != "full" and "full" in results:
            diff = paired_difference(result, results["full"], key)
            comparisons[f"{name}_minus_full"] = diff
            line += f"   {key} - full: {diff['mean']:+.2f} [{diff['low']:+.2f}, {diff['high']:+.2f}]"
        print(line)
    report.update(results=results, comparisons=comparisons, wall_s=time.time() - t_start)
    write_json(out / "results.json", report)
    if not args.quick:
        save_bar_figure(
            args.figure,
            results,
            key,
            key.replace("_", " "),
            f"Ablations ({args.task}), held-out mazes (n={len(seeds)}, {steps} train steps)",
        )
        print(f"figure: {args.figure}")
    print(f"results: {out / 'results.json'}  (wall-clock {time.time() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
