"""``embodied lab``: run the conditioning protocols on the dopamine model.

Per protocol it writes ``<out>/<protocol>.png`` (figure), ``<out>/<protocol>.csv``
(per-step trace) and ``<out>/<protocol>.json`` (metrics and pass/fail per criterion);
for all of them ``summary.json`` and ``summary.md``. Exit status 1 if any fails, 2 for a bad
argument (one line on stderr naming it and its allowed range).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from embodied.errors import UsageError
from embodied.lab.protocols import PROTOCOLS
from embodied.lab.traces import write_trace_csv


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/lab", help="folder for figures, traces and summaries")
    parser.add_argument(
        "--protocols",
        nargs="+",
        default=list(PROTOCOLS),
        metavar="NAME",
        help=f"which protocols to run (default all): {', '.join(PROTOCOLS)}",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (inter-trial intervals, rewards, choices)")
    parser.add_argument("--alpha", type=float, default=0.1, help="critic learning rate")
    parser.add_argument(
        "--embodied",
        action="store_true",
        help="train the rat in the conditioning box and probe its own dopamine (light -> food)",
    )
    parser.add_argument("--steps", type=int, default=16384, help="--embodied: env steps of training in the box")
    parser.add_argument("--trials", type=int, default=32, help="--embodied: probe trials per checkpoint")
    parser.add_argument(
        "--checkpoints", type=int, default=2, help="--embodied: trained checkpoints probed (besides the naive rat)"
    )
    parser.add_argument(
        "--free-moving",
        action="store_true",
        help="--embodied: the rat walks to the feeder (default: restrained, nose at the feeder)",
    )
    parser.add_argument(
        "--video-steps",
        type=int,
        default=900,
        help="--embodied: steps of the trained rat's video, embodied.mp4 (0: none)",
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="--embodied: training config overrides (see embodied train --help)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


#: argument -> (lowest, highest) allowed
BOUNDS = {
    "seed": (0, 2**32 - 1),
    "alpha": (1e-6, 1.0),
    "steps": (1, 10**9),
    "trials": (1, 10**5),
    "checkpoints": (1, 100),
    "video_steps": (0, 10**6),
}


def _check(args: argparse.Namespace) -> None:
    for name, (low, high) in BOUNDS.items():
        value = getattr(args, name)
        if not (math.isfinite(value) and low <= value <= high):
            raise UsageError(f"--{name.replace('_', '-')} {value}: allowed {low:g}..{high:g}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")


def run(args: argparse.Namespace) -> int:
    _check(args)
    if args.embodied:
        from embodied.lab.embodied_lab import run_embodied_lab

        summary = run_embodied_lab(
            Path(args.out),
            args.steps,
            args.seed,
            checkpoints=args.checkpoints,
            trials=args.trials,
            overrides=args.set,
            video_steps=args.video_steps,
            restrained=not args.free_moving,
        )
        for check, ok in summary["checks"].items():
            print(f"  {'ok ' if ok else 'NO '} {check}")
        for step, resp in summary["responses"].items():
            print(
                f"  after {step:>6} steps: cue {resp['cue']:+.3f}  eat {resp['eat']:+.3f}  omission {resp['omission']:+.3f}"
                f"   (informed critic, raw δ: cue {resp['oracle']['cue']:+.3f}  omission {resp['oracle']['omission']:+.3f};"
                f" eaten {resp['n_eaten']}, light to eating {resp['eat_latency_s']:.2f} s)"
            )
        video = f" and {summary['video']['path']}" if summary.get("video") else ""
        print(f"{'PASS' if summary['passed'] else 'FAIL'}  embodied conditioning; wrote {args.out}/embodied.png{video}")
        return 0 if summary["passed"] else 1
    unknown = [p for p in args.protocols if p not in PROTOCOLS]
    if unknown:
        raise UsageError(f"unknown protocol(s) {unknown}; choose from {', '.join(PROTOCOLS)}")
    from embodied.lab.figures import plot

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(args.protocols), unit="protocol", desc="lab", dynamic_ncols=True, file=sys.stderr)
    for name in args.protocols:
        spec = PROTOCOLS[name]
        if bar is not None:
            bar.set_postfix_str(name)
        result = spec.run(seed=args.seed, alpha=args.alpha, record=True)
        if bar is not None:
            bar.update(1)
            bar.clear()
        plot(result, out / f"{name}.png", spec.title)
        write_trace_csv(result.rows, out / f"{name}.csv")
        entry = {
            "title": spec.title,
            "passed": result.passed,
            "criterion": spec.criterion,
            "source": spec.source,
            "checks": result.checks,
            "metrics": result.metrics,
            "seed": args.seed,
            "alpha": args.alpha,
        }
        (out / f"{name}.json").write_text(json.dumps(entry, indent=2))
        summary[name] = entry
        print(f"{'PASS' if result.passed else 'FAIL'}  {name:<15} {spec.title}")
        for check, ok in result.checks.items():
            print(f"      {'ok ' if ok else 'NO '} {check}")
    if bar is not None:
        bar.close()
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    lines = [
        "# embodied lab summary",
        "",
        f"seed {args.seed}, alpha {args.alpha}",
        "",
        "| protocol | result | criterion | source |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {'PASS' if e['passed'] else 'FAIL'} | {e['criterion']} | {e['source']} |" for n, e in summary.items()
    ]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out}/")
    return 0 if all(e["passed"] for e in summary.values()) else 1
