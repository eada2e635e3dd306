"""Foraging on held-out mazes: trained agent vs SB3 PPO (same env steps) vs the privileged oracle.

1. Train the agent with the trainer (task ``forage``, ``--train-steps`` env steps).
2. Train Stable-Baselines3 PPO (``MultiInputPolicy``, SB3 defaults, extrinsic food reward only)
   for the same number of env steps on the same env (``scripts/ppo_baseline.py``).
3. Evaluate the agent, PPO, uniform-random actions and the privileged forage oracle (shortest
   paths at top speed; evaluation only) on held-out mazes (seeds ≥ 10,000): food eaten per
   1,000 steps, mean and bootstrap 95% CI, and the ratios agent/PPO (target ≥ 1.5) and
   agent/oracle (target ≥ 0.5) with bootstrap CIs.

Full version (estimated ~55 min on the 2 shared cores, from measured rates: trainer ~15 env
steps/s, agent evaluation ~17 steps/s, PPO ~43 steps/s):
    python scripts/eval_foraging.py --train-steps 32768 --seeds 5
Smoke version:
    python scripts/eval_foraging.py --quick [--no-train] [--no-ppo]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ppo_baseline lives beside this script

from embodied.stats import ratio_ci  # noqa: E402
from embodied.train.config import leaves_of  # noqa: E402
from embodied.train.evaluate import (
    evaluate_policy,
    held_out_seeds,
    limit_threads,
    policy_factory,
    save_bar_figure,  # noqa: E402
    summary_line,
    train_agent,
    trainer_missing_reason,
    training_overlap,
    write_json,
)

TARGET_VS_PPO, TARGET_VS_ORACLE = 1.5, 0.5


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="held-out mazes (seeds from 10000)")
    parser.add_argument("--train-steps", type=int, default=32_768, help="env steps for the agent and for PPO")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--episode-steps", type=int, default=1024, help="steps per evaluation episode")
    parser.add_argument("--config", default="configs/default.json")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra trainer overrides")
    parser.add_argument("--world", default="procedural:9x9")
    parser.add_argument("--vision-size", type=int, default=32, help="camera size of both learners (the config's)")
    parser.add_argument("--no-train", action="store_true", help="skip the trained agent")
    parser.add_argument("--no-ppo", action="store_true", help="skip PPO")
    parser.add_argument("--checkpoint", help="use this agent checkpoint instead of training")
    parser.add_argument("--ppo-model", help="use this saved PPO model instead of training")
    parser.add_argument("--out", default="runs/eval_foraging")
    parser.add_argument("--figure", default="docs/figures/results_foraging.png")
    parser.add_argument("--quick", action="store_true", help="smoke: 2 mazes of 300 steps, 64 training steps")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads when evaluating a checkpoint (0 = default)"
    )
    args = parser.parse_args(argv)
    t_start = time.time()
    out = Path(args.out)
    seeds = held_out_seeds(2 if args.quick else args.seeds)
    episode_steps = 300 if args.quick else args.episode_steps
    steps = 64 if args.quick else args.train_steps
    env_kwargs = {"vision_size": args.vision_size}
    report = {
        "command": " ".join(["python", "scripts/eval_foraging.py"] + list(argv if argv is not None else sys.argv[1:])),
        "seeds": seeds,
        "episode_steps": episode_steps,
        "train_steps": steps,
        "quick": args.quick,
        "training": {},
    }
    results: dict[str, dict] = {}
    train_episode_steps = 64 if args.quick else 512  # the trainer's default; read from the agent's run below

    def evaluate(name, make, kwargs=None):
        results[name] = evaluate_policy(
            make, args.world, "forage", seeds, episode_steps, env_kwargs=kwargs or env_kwargs, progress=True, label=name
        )
        print(summary_line(name, results[name]), flush=True)

    for name in ("random", "forage-oracle"):
        evaluate(name.replace("-", "_"), policy_factory(name)[0])

    if not args.no_train:
        missing = trainer_missing_reason()
        if missing and not args.checkpoint:
            print(f"skipping the trained agent: {missing}")
        else:
            checkpoint = args.checkpoint
            if checkpoint is None:
                quick = ["num_envs=1", "episode_steps=64", "learning_starts=32"] if args.quick else []
                overrides = (
                    [
                        "task=forage",
                        f"world={args.world}",
                        f"total_steps={steps}",
                        f"seed={args.train_seed}",
                        f"vision_size={args.vision_size}",
                        "video_every=0",
                        "tensorboard=false",
                    ]
                    + quick
                    + args.set
                )
                print(f"training agent: {steps} env steps ...", flush=True)
                info = train_agent(out / "agent", overrides, args.config)
                checkpoint = info["checkpoint"]
                report["training"]["agent"] = info
                print(f"  trained in {info['wall_s']:.0f} s", flush=True)
            run_config = Path(checkpoint).parent.parent / "config.json"
            if run_config.exists():
                config = leaves_of(json.loads(run_config.read_text()))
                report["training"].setdefault("agent", {})["overlap"] = training_overlap(config, seeds, args.world)
                steps = int(config.get("total_steps", steps))  # PPO gets what the agent was asked for
                train_episode_steps = int(config.get("episode_steps", train_episode_steps))
            limit_threads(args.threads)
            make, kwargs = policy_factory(checkpoint)
            evaluate("agent", make, kwargs)

    if not args.no_ppo:
        from ppo_baseline import ppo_factory, require_sb3, train_ppo

        require_sb3()  # a clear message if the optional benchmark dependency is missing
        model = args.ppo_model
        if model is None:
            ppo_steps = max(steps, 64)
            print(
                f"training PPO: {ppo_steps} env steps (SB3 defaults{', quick n_steps=64' if args.quick else ''}) ...",
                flush=True,
            )
            info = train_ppo(
                out / "ppo",
                ppo_steps,
                args.world,
                "forage",
                train_episode_steps,
                args.vision_size,
                args.train_seed,
                ppo_kwargs={"n_steps": 64, "batch_size": 32, "n_epochs": 2} if args.quick else None,
            )
            model = info["model"]
            report["training"]["ppo"] = info
            print(f"  trained {info['steps']} steps in {info['wall_s']:.0f} s", flush=True)
        evaluate("ppo", ppo_factory(model))

    print(f"\n== foraging: food per 1,000 steps, {episode_steps}-step episodes, held-out mazes {seeds} ==")
    for name, result in results.items():
        print(summary_line(name, result))
    comparisons = {}
    for other, target in (("ppo", TARGET_VS_PPO), ("forage_oracle", TARGET_VS_ORACLE)):
        if "agent" in results and other in results:
            ci = ratio_ci(results["agent"]["food_per_1000"], results[other]["food_per_1000"]).as_dict()
            if ci["mean"] == float("inf"):  # the baseline ate nothing: no ratio to speak of
                agent_rate = results["agent"]["food_per_1000_ci"]["mean"]
                ci.update(target=target, met=None)
                verdict = (
                    f"undefined: {other} ate 0 pellets on every maze; agent ate {agent_rate:.2f} per 1000 steps "
                    f"(target >= {target}x not testable as a ratio)"
                )
            else:
                ci.update(target=target, met=bool(ci["mean"] >= target))
                verdict = (
                    f"{ci['mean']:.2f} [{ci['low']:.2f}, {ci['high']:.2f}]  target >= {target}: "
                    f"{'MET' if ci['met'] else 'NOT met'}"
                )
            comparisons[f"agent_over_{other}"] = ci
            print(f"agent / {other}: {verdict}")
    report.update(results=results, comparisons=comparisons, wall_s=time.time() - t_start)
    write_json(out / "results.json", report)
    if not args.quick:
        save_bar_figure(
            args.figure,
            results,
            "food_per_1000",
            "food per 1,000 steps",
            f"Foraging, held-out 9x9 mazes (n={len(seeds)}, {episode_steps} steps)",
        )
        print(f"figure: {args.figure}")
    print(f"results: {out / 'results.json'}  (wall-clock {time.time() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
