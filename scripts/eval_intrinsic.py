"""Measure every floor of the intrinsic-reward scenarios over several model seeds.

    python scripts/eval_intrinsic.py --seeds 0 1 2 [--scenarios noisy_tv dark_room] [--set KEY=VALUE ...] [--json out.json]

Runs the scripted scenarios of ``embodied.evaluation.scenarios`` (the same ones ``tests/test_intrinsic*.py``
asserts at seed 0) with world-model seeds ``--seeds`` and prints, per floor, the measured ratio
per seed, the floor, and how many seeds meet it. Ratios: the reward in the test condition over
its reference (first pass, first corridor, exploring, clean), so <= floor passes
(``novelty.new_over_familiar``: >= floor).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's package, even from a stale editable install
from embodied.brain.perception.intrinsic import IntrinsicConfig
from embodied.evaluation.scenarios import AT_LEAST, FLOORS, SCENARIOS, meets
from embodied.train.config import field_overrides


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="world-model seeds")
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="IntrinsicConfig fields over each scenario's own, e.g. --set lag_updates=50 episodic_k=5",
    )
    ap.add_argument("--json", default=None, help="also write every measured figure to this JSON file")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        intrinsic = field_overrides(IntrinsicConfig, args.set)
        IntrinsicConfig(**intrinsic).validated()
    except ValueError as err:  # ConfigError included
        ap.error(f"--set: {err}")
    results: dict = {}
    for name in args.scenarios:
        for seed in args.seeds:
            t0 = time.time()
            results.setdefault(name, {})[seed] = figures = SCENARIOS[name](seed, intrinsic)
            print(
                f"{name} seed {seed} ({time.time() - t0:.0f} s): "
                + ", ".join(f"{k} {v:+.4g}" for k, v in figures.items()),
                flush=True,
            )
    print(f"\n| floor | {' | '.join(f'seed {s}' for s in args.seeds)} | needs | seeds meeting |")
    print(f"|---|{'---|' * len(args.seeds)}---|---|")
    for key, floor in FLOORS.items():
        scenario, figure = key.split(".")
        if scenario not in results:
            continue
        values = [results[scenario][s][figure] for s in args.seeds]
        n = sum(meets(key, v) for v in values)
        sign = ">=" if key in AT_LEAST else "<="
        print(f"| {key} | {' | '.join(f'{v:.2f}' for v in values)} | {sign} {floor} | {n}/{len(values)} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
