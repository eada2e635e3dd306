"""Training throughput: env steps per second of ``embodied train``, and where the time goes.

    python3 scripts/bench_train.py                                  # this checkout, default config
    python3 scripts/bench_train.py --ref 2d16145 --repeats 3        # old commit beside this one: ratios
    python3 scripts/bench_train.py --profile --set num_envs=8       # the profile table of one config
    python3 scripts/bench_train.py --ref 2d16145 --variant fast num_envs=8 train_ratio=4   # old, new, new+fast

Each measurement is a fresh subprocess that trains ``--steps`` env steps (default 2,048: four
512-step episodes of the default two envs, past ``learning_starts`` so world-model updates count)
into a temporary folder with videos, checkpoints and TensorBoard off, and prints env steps per
second of the whole ``train()`` call. With ``--ref REV`` the same measurement runs on commit REV
(checked out once with ``git worktree`` under /tmp) alternately with this checkout, ``--repeats``
times each, so both see the same machine load; the ratio new/old is reported per pair and as the
median (this 2-core machine is shared and noisy: ratios in one run, not absolute figures).
Overrides use knob names alone (``num_envs=8``), which both the flat and the tree config accept.
``--variant LABEL KEY=VALUE ...`` (repeatable) adds a measurement of this checkout with those
overrides on top of ``--set``, in the same alternation; every label's ratio is printed against the
first one measured (``old`` with ``--ref``, else ``new``), pair by pair and as the median.

``--profile`` runs each measurement under cProfile and prints the share of wall-clock in each
phase (cumulative time of the functions named in :data:`PHASES`; a phase's children are indented
and included in it). cProfile slows Python-heavy code more than torch kernels, so read the
shares, not the absolute times, and take the throughput from a run without ``--profile``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: phase -> (file name, function name) pairs whose cumulative time it is; indented = inside the one above
PHASES: list[tuple[str, list[tuple[str, str]]]] = [
    ("collect: env step (PyBullet, senses, task)", [("env.py", "step")]),
    ("collect: agent step (all parts)", [("agent.py", "step")]),
    ("  world model observe", [("world_model.py", "observe")]),
    ("  intrinsic rewards", [("intrinsic.py", "step")]),
    ("    prediction success (two next-step decodes)", [("intrinsic.py", "prediction_success")]),
    ("  critics evaluate", [("critics.py", "evaluate")]),
    ("  module selection and acting", [("pathways.py", "choose"), ("pathways.py", "act")]),
    ("replay add + sample", [("replay.py", "add"), ("replay.py", "sample")]),
    ("world model + intrinsic heads update", [("agent.py", "train_world_model")]),
    ("  world model train_step", [("world_model.py", "train_step")]),
    ("  intrinsic heads train_step", [("intrinsic.py", "train_step")]),
    ("critics + actors learn", [("agent.py", "learn")]),
]

CHILD = r"""
import cProfile, json, pstats, sys, tempfile, time
import torch
import embodied
from embodied.train.config import load_config
from embodied.train.loop import train

args = json.loads(sys.argv[1])
torch.set_num_threads(1)
overrides = ["video_every=0", "checkpoint_every=1000000000", "tensorboard=false", "total_steps=%d" % args["steps"]]
cfg = load_config(args["config"], overrides + args["set"])
with tempfile.TemporaryDirectory() as run_dir:
    profiler = cProfile.Profile() if args["profile"] else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    summary = train(cfg, run_dir, progress=False)
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - start
phases = {}
if profiler:
    stats = pstats.Stats(profiler).stats
    for name, targets in args["phases"]:
        total = 0.0
        for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.items():
            if any(path.endswith("/" + f) and func == fn for f, fn in targets):
                total += ct
        phases[name] = total
steps = int(summary.get("steps", args["steps"]))
print(json.dumps({"wall_s": wall, "steps": steps, "sps": steps / wall, "phases": phases, "package": embodied.__file__}))
"""


def _checkout(ref: str) -> Path:
    """A worktree of ``ref`` under /tmp (made once, reused)."""
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True)
    path = Path(tempfile.gettempdir()) / f"embodied_bench_{sha.stdout.strip()}"
    if not path.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True, capture_output=True
        )
    return path


def _measure(tree: Path, args, profile: bool, extra: list[str]) -> dict:
    config = str(tree / "configs" / "default.json") if args.config is None else args.config
    payload = {"steps": args.steps, "set": args.set + extra, "config": config, "profile": profile, "phases": PHASES}
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(payload)], cwd=tree, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"bench_train: the run in {tree} with {payload['set']} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["package"].startswith(str(tree)):
        sys.exit(f"bench_train: the run meant for {tree} imported {result['package']}")
    return result


def _profile_table(profiles: dict[str, dict]) -> None:
    """One row per phase, one column per measurement: ms per env step under cProfile (share of wall-clock)."""
    labels = list(profiles)
    print("\nwhere the time goes, ms per env step under cProfile (share of that run's wall-clock):")
    for label, result in profiles.items():
        print(f"  {label}: {result['steps']} env steps in {result['wall_s']:.1f} s")
    print(f"{'phase':<50}" + "".join(f"{label:>22}" for label in labels))
    for name, _ in PHASES:
        cells = []
        for label in labels:
            seconds, result = profiles[label]["phases"].get(name, 0.0), profiles[label]
            cells.append(f"{1000 * seconds / result['steps']:>13.2f} ({100 * seconds / result['wall_s']:>4.1f}%)")
        print(f"{name:<50}" + "".join(f"{c:>22}" for c in cells))
    print(
        f"{'whole run':<50}" + "".join(f"{1000 * r['wall_s'] / r['steps']:>13.2f} (100 %)" for r in profiles.values())
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2048, help="env steps per measurement (all envs)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides (knob names)")
    parser.add_argument("--config", default=None, help="config file (default: each tree's configs/default.json)")
    parser.add_argument("--ref", default=None, help="also measure this commit, alternating with this checkout")
    parser.add_argument(
        "--variant",
        nargs="+",
        action="append",
        default=[],
        metavar=("LABEL", "KEY=VALUE"),
        help="also measure this checkout with these overrides on top of --set (repeatable)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="measurements per tree and variant")
    parser.add_argument("--profile", action="store_true", help="print where the time goes (cProfile)")
    args = parser.parse_args(argv)
    runs: list[tuple[str, Path, list[str]]] = [("old", _checkout(args.ref), [])] if args.ref else []
    runs.append(("new", ROOT, []))
    for label, *overrides in args.variant:
        if label in {name for name, _, _ in runs} or "=" in label or not overrides:
            parser.error(f"--variant {label!r}: give a new label, then KEY=VALUE overrides")
        runs.append((label, ROOT, overrides))
    results: dict[str, list[dict]] = {label: [] for label, _, _ in runs}
    for _ in range(args.repeats):
        for label, tree, extra in runs:  # old first in each round: a warming machine favours no one
            results[label].append(_measure(tree, args, profile=False, extra=extra))
            print(f"{label}: {results[label][-1]['sps']:.1f} env steps/s", flush=True)
    base = runs[0][0]
    for label, tree, extra in runs if args.repeats > 0 else []:  # --repeats 0: the profile alone
        sps = [r["sps"] for r in results[label]]
        line = f"{label} ({tree.name}{' ' + ' '.join(extra) if extra else ''}): median {statistics.median(sps):.1f}"
        line += f" env steps/s over {len(sps)} run(s) {[round(s, 1) for s in sps]}"
        if label != base:
            ratios = [n["sps"] / o["sps"] for n, o in zip(results[label], results[base])]
            line += f"; / {base}: median {statistics.median(ratios):.2f}x, rounds {[round(r, 2) for r in ratios]}"
        print(line)
    if args.profile:
        _profile_table({label: _measure(tree, args, profile=True, extra=extra) for label, tree, extra in runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
