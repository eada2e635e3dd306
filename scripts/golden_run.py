"""Proof that a refactor changed nothing: fixed-seed runs whose figures must come out the same.

    python3 scripts/golden_run.py record --out /tmp/golden_before     # on the commit before a refactor
    python3 scripts/golden_run.py record --out /tmp/golden_after      # on the commit after it
    python3 scripts/golden_run.py compare /tmp/golden_before /tmp/golden_after   # exit 1 on any difference

``record`` trains two short runs from the built-in defaults with a fixed seed (explore on
``procedural:9x9`` and forage on ``procedural:9x9``; ``--steps`` env steps each, default 1,024)
and evaluates the explore run's last checkpoint on two held-out mazes with ``embodied eval``.
It writes, per run, ``metrics.csv`` and ``population.csv`` with the wall-clock columns
(``time/...``) removed, and ``eval.json`` without its timing fields: every figure the code
computes, nothing the machine's speed decides.

``compare`` reports the first differing row and column of each file, or "bit-identical".
On one machine and one set of package versions a behaviour-preserving refactor must give
bit-identical files; across CPUs the floating-point path may differ (see docs/architecture.md),
which is why ``tests/test_golden.py`` keeps a *short* version of this with a tolerance.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
from pathlib import Path

RUNS = {"explore": ["task=explore"], "forage": ["task=forage"]}
TIMING_KEYS = ("time", "seconds", "elapsed", "wall")


def _strip_timing_csv(text: str) -> str:
    """The CSV without columns whose name starts with ``time/``."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return ""
    keep = [i for i, name in enumerate(rows[0]) if not name.startswith("time/")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([row[i] for i in keep if i < len(row)])
    return out.getvalue()


def _strip_timing_json(data):
    if isinstance(data, dict):
        return {k: _strip_timing_json(v) for k, v in data.items() if not any(t in k.lower() for t in TIMING_KEYS)}
    if isinstance(data, list):
        return [_strip_timing_json(v) for v in data]
    return data


def train_run(run_dir: Path, overrides: list[str], steps: int) -> None:
    """A fixed-seed training run from the built-in defaults, no video, no progress bar."""
    from embodied.train.config import load_config
    from embodied.train.loop import train

    fixed = [f"total_steps={steps}", "seed=0", 'device="cpu"', "video_every=0", "log_every=128"]
    cfg = load_config(None, [*overrides, *fixed])
    train(cfg, run_dir, progress=False, overwrite=True)


def record(out: Path, steps: int, eval_steps: int) -> None:
    from embodied.cli import main as embodied

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in RUNS.items():
            run_dir = Path(tmp) / name
            train_run(run_dir, overrides, steps)
            for csv_name in ("metrics.csv", "population.csv"):
                text = (run_dir / csv_name).read_text()
                (out / f"{name}_{csv_name}").write_text(_strip_timing_csv(text))
        eval_json = Path(tmp) / "eval.json"
        code = embodied(
            [
                "eval",
                str(Path(tmp) / "explore"),
                "--task",
                "explore",
                "--seeds",
                "2",
                "--episode-steps",
                str(eval_steps),
                "--json",
                str(eval_json),
                "--no-progress",
            ]
        )
        if code != 0:
            raise SystemExit(f"golden_run: embodied eval exited {code}")
        data = _strip_timing_json(json.loads(eval_json.read_text()))
        (out / "eval.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"golden_run: wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")


def first_difference(a: str, b: str) -> str | None:
    """Where two texts first differ (line and field), or None when they are identical."""
    if a == b:
        return None
    la, lb = a.splitlines(), b.splitlines()
    header = la[0].split(",") if la else []
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            fx, fy = x.split(","), y.split(",")
            for j, (u, v) in enumerate(zip(fx, fy)):
                if u != v:
                    column = header[j] if j < len(header) else f"field {j + 1}"
                    return f"line {i + 1}, {column}: {u} != {v}"
            return f"line {i + 1}: {x[:80]!r} != {y[:80]!r}"
    return f"lengths differ: {len(la)} != {len(lb)} lines"


def compare(before: Path, after: Path) -> int:
    names = sorted({p.name for p in before.iterdir()} | {p.name for p in after.iterdir()})
    bad = 0
    for name in names:
        a, b = before / name, after / name
        if not (a.is_file() and b.is_file()):
            print(f"{name}: only in {'before' if a.is_file() else 'after'}")
            bad += 1
            continue
        diff = first_difference(a.read_text(), b.read_text())
        print(f"{name}: {'bit-identical' if diff is None else 'DIFFERS at ' + diff}")
        bad += diff is not None
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="train the fixed-seed runs and write their figures")
    rec.add_argument("--out", required=True, help="folder for the figures")
    rec.add_argument("--steps", type=int, default=1024, help="env steps per training run")
    rec.add_argument("--eval-steps", type=int, default=300, help="steps per evaluation episode")
    cmp_ = sub.add_parser("compare", help="compare two recorded folders")
    cmp_.add_argument("before")
    cmp_.add_argument("after")
    args = parser.parse_args(argv)
    if args.command == "record":
        record(Path(args.out), args.steps, args.eval_steps)
        return 0
    return compare(Path(args.before), Path(args.after))


if __name__ == "__main__":
    sys.exit(main())
