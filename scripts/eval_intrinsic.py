"""Measure every floor of the intrinsic-reward scenarios over several model seeds.

    python scripts/eval_intrinsic.py --seeds 0 1 2 [--scenarios noisy_tv dark_room] [--set KEY=VALUE ...] [--json out.json]

Runs the scripted scenarios of ``embodied.evaluation.scenarios`` (the same ones ``tests/test_intrinsic*.py``
asserts at seed 0) with world-model seeds ``--seeds`` and prints, per floor, the measured ratio
per seed, the floor, and how many seeds meet it. Ratios: the reward in the test condition over
its reference (first pass, first corridor, exploring, clean), so <= floor passes
(``novelty.new_over_familiar``: >= floor).

The table is headed by where it was measured (commit, whether tracked files differed from it,
UTC date, the ``--set`` overrides, one thread), so a copy into docs/world_model.md carries its
provenance; ``--json`` writes the same stamp and every figure, atomically (a NaN ratio, whose
reference was not positive, as null).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's package, even from a stale editable install
from embodied.brain.perception.intrinsic import IntrinsicConfig
from embodied.evaluation.scenarios import AT_LEAST, FLOORS, SCENARIOS, meets
from embodied.experiments.files import git_stamp, utc_now, write_json_atomic
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
    if args.json:  # a folder that cannot be written fails now, not after the long run
        folder = Path(args.json).absolute().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=folder).close()
        except OSError:
            ap.error(f"--json {args.json}: cannot create or write the folder {folder}")
    stamp = git_stamp()
    meta = {**stamp, "date": utc_now(), "set": list(args.set), "seeds": args.seeds, "threads": 1}
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
    dirty = " plus uncommitted changes" if stamp["dirty"] else ""
    overrides = " ".join(args.set) or "none (the scenarios' own config)"
    print(f"\ncommit {stamp['commit'][:7]}{dirty}, {meta['date']}, one thread, --set {overrides}")
    print(f"| floor | {' | '.join(f'seed {s}' for s in args.seeds)} | needs | seeds meeting |")
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
        figures = {
            name: {str(seed): {k: None if math.isnan(v) else v for k, v in by_seed[seed].items()} for seed in by_seed}
            for name, by_seed in results.items()
        }
        write_json_atomic(args.json, {"meta": meta, "figures": figures})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
