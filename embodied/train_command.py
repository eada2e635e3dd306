"""``embodied train``: headless training with a config file plus command-line overrides.

    embodied train                                   # the built-in default short run
    embodied train --config configs/default.json --set task=forage intrinsic=false --steps 2000
    embodied train --run-dir runs/x --resume         # continue exactly from runs/x/checkpoints/latest.pt

Exit status: 0 done; 2 a user error (one line on stderr: the key, file or argument at fault);
1 the disk filled (the last checkpoint and the CSVs are intact); 130 stopped by Ctrl-C after
writing a checkpoint at the next episode boundary (``--resume`` continues it exactly).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.json"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help=f"JSON or TOML config file (default: {DEFAULT_CONFIG.name} when it exists, else built-in defaults)",
    )
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config keys, e.g. --set task=forage"
    )
    parser.add_argument("--steps", type=int, default=None, help="total env steps (same as --set total_steps=N)")
    parser.add_argument("--run-dir", default=None, help="run folder (default: runs/<time>)")
    parser.add_argument("--seed", type=int, default=None, help="seed (same as --set seed=N)")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda (same as --set device=...)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --run-dir from its latest checkpoint"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--list-keys", action="store_true", help="print every config key with its default and help, then exit"
    )


def run(args: argparse.Namespace) -> int:
    from embodied.errors import UserError

    try:
        return _run(args)
    except UserError as err:  # also when called directly (tests, scripts), not only through embodied.cli
        print(f"embodied train: {err}", file=sys.stderr)
        return err.exit_code


def _run(args: argparse.Namespace) -> int:
    from embodied.train.checkpoint import CheckpointError
    from embodied.train.config import FIELDS, ConfigError, TrainConfig, dotted, load_config

    if args.list_keys:  # dotted path = default  [range or choices]; the name alone works too
        defaults = TrainConfig()
        for name, f in FIELDS.items():
            allowed = f.metadata.get("range") or " | ".join(f.metadata.get("choices") or ())
            bound = f"  in {allowed}" if allowed else ""
            print(
                f"{dotted(name)} = {json.dumps(defaults.get(name), ensure_ascii=False)}{bound}\n    {f.metadata['help']}"
            )
        return 0
    overrides, sources = list(args.set), {}
    for flag, key, name in (
        (args.steps, "total_steps", "--steps"),
        (args.seed, "seed", "--seed"),
        (args.device, "device", "--device"),
    ):
        if flag is not None:  # after --set: the flag wins, and an error names the flag
            overrides.append(f"{key}={json.dumps(flag)}")
            sources[key] = name
    config = args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    cfg = load_config(config, overrides, sources=sources)
    from embodied.brain.device import resolve_device

    try:
        resolve_device(cfg.run.device)
    except ValueError as err:
        raise ConfigError(f"device: {err}", "device") from None
    if args.resume and not args.run_dir:
        raise CheckpointError("--resume needs --run-dir (the run to continue)")
    run_dir = Path(args.run_dir or f"runs/{time.strftime('%Y%m%d-%H%M%S')}")
    from embodied.train.loop import train
    from embodied.viz.record import record_rollout

    start = time.perf_counter()
    summary = train(cfg, run_dir, resume=args.resume, progress=not args.no_progress, recorder=record_rollout)
    minutes = (time.perf_counter() - start) / 60
    keys = ("charts/coverage", "charts/food_per_1000_steps", "dopamine/tonic", "population/size", "losses/nan_skips")
    figures = ", ".join(f"{k.split('/')[-1]} {summary[k]:.3g}" for k in keys if k in summary)
    print(f"wrote {run_dir} in {minutes:.1f} min: {summary.get('total_steps', 0)} steps; {figures}")
    return 0
