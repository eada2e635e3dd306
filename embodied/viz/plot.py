"""``embodied plot RUN_DIR``: PNG plots of a run folder, written to ``RUN_DIR/plots``.

Reads ``metrics.csv`` (column ``step`` then stable metric names, see docs/architecture.md)
by prefix and ``population.csv`` (step,event,module,parent,strength). Missing columns or
files are skipped with a note, so a rollout folder, a half-finished run and a full training
run all plot what they have:

| file | what |
|---|---|
| ``learning_curves.png`` | ``charts/*`` (coverage, food rate, episode return…) and ``time/*`` |
| ``rewards.png`` | ``rewards/<channel>`` |
| ``losses.png`` | ``losses/<name>`` (log scale when all positive) |
| ``dopamine.png`` | ``dopamine/rpe_<channel>`` and ``dopamine/tonic`` |
| ``population.png`` | module population size, births and prunes, and each module's strength |
"""

from __future__ import annotations

import argparse
import csv
import math
import pathlib
import sys

import numpy as np

from ..errors import UserError

#: figure file -> (title, metric-name prefixes)
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "learning_curves.png": ("Learning curves", ("charts/", "time/")),
    "rewards.png": ("Reward channels", ("rewards/",)),
    "losses.png": ("Losses", ("losses/",)),
    "dopamine.png": ("Dopamine: phasic RPE per channel and tonic level", ("dopamine/",)),
}


class RunFolderError(UserError, ValueError):
    """The folder is not a run folder, or a file in it cannot be read."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, never opens a window
    import matplotlib.pyplot as plt

    return plt


def read_metrics(path: str | pathlib.Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (steps, values)}`` from a metrics CSV; empty or non-numeric cells are skipped."""
    path = pathlib.Path(path)
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "step" not in reader.fieldnames:
            raise RunFolderError(f"{path}: the first column must be 'step', got {reader.fieldnames}")
        columns: dict[str, tuple[list, list]] = {name: ([], []) for name in reader.fieldnames if name != "step"}
        for line, row in enumerate(reader, start=2):
            try:
                step = float(row["step"])
            except (TypeError, ValueError):
                raise RunFolderError(f"{path}:{line}: step {row['step']!r} is not a number") from None
            for name, (steps, values) in columns.items():
                try:
                    value = float(row.get(name) or "nan")
                except ValueError:
                    continue
                if math.isfinite(value):
                    steps.append(step)
                    values.append(value)
    return {name: (np.array(s), np.array(v)) for name, (s, v) in columns.items() if s}


def read_population(path: str | pathlib.Path) -> list[dict]:
    """Rows of ``population.csv`` as dicts with ``step`` int and ``strength`` float (NaN if empty)."""
    path = pathlib.Path(path)
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"step", "event", "module"} - set(reader.fieldnames or ())
        if missing:
            raise RunFolderError(
                f"{path}: missing columns {sorted(missing)}; expected step,event,module,parent,strength"
            )
        for line, row in enumerate(reader, start=2):
            try:
                step = int(float(row["step"]))
                strength = float(row.get("strength") or "nan")
            except ValueError:
                raise RunFolderError(f"{path}:{line}: step or strength is not a number: {row}") from None
            rows.append(
                {
                    "step": step,
                    "event": row["event"],
                    "module": row["module"],
                    "parent": row.get("parent") or "",
                    "strength": strength,
                }
            )
    return rows


def _grid(plt, n: int, title: str):
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    fig.suptitle(title)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_group(metrics: dict, prefixes: tuple[str, ...], title: str, out: pathlib.Path) -> bool:
    """One small plot per metric whose name starts with a prefix; False when there is none."""
    names = sorted(n for n in metrics if n.startswith(prefixes))
    if not names:
        return False
    plt = _pyplot()
    if prefixes == ("dopamine/",):  # all channels on one axis: they are compared with each other
        fig, ax = plt.subplots(figsize=(9, 4))
        fig.suptitle(title)
        for name in names:
            steps, values = metrics[name]
            ax.plot(steps, values, label=name.split("/", 1)[1], lw=2.5 if name.endswith("tonic") else 1.2)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel("step")
        ax.legend(fontsize=8, ncol=3)
    else:
        fig, axes = _grid(plt, len(names), title)
        for ax, name in zip(axes, names):
            steps, values = metrics[name]
            ax.plot(steps, values, lw=1.2, marker="." if len(values) < 30 else None)
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            if name.startswith("losses/") and np.all(values > 0) and values.max() / values.min() > 100:
                ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return True


def plot_population(rows: list[dict], out: pathlib.Path) -> bool:
    """Population size with birth/prune marks, and each module's strength over time."""
    if not rows:
        return False
    plt = _pyplot()
    rows = sorted(rows, key=lambda r: r["step"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    fig.suptitle("Policy-module population")
    alive: set[str] = set()
    steps, sizes = [], []
    for row in rows:
        if row["event"] == "birth":
            alive.add(row["module"])
        elif row["event"] == "prune":
            alive.discard(row["module"])
        steps.append(row["step"])
        sizes.append(len(alive))
    top.step(steps, sizes, where="post", color="black", lw=1.5, label="size")
    for event, marker, colour in (("birth", "^", "tab:green"), ("prune", "v", "tab:red")):
        marks = [(r["step"], sizes[i]) for i, r in enumerate(rows) if r["event"] == event]
        if marks:
            top.scatter(*zip(*marks), marker=marker, color=colour, label=f"{event}s ({len(marks)})", zorder=3)
    top.set_ylabel("modules alive")
    top.legend(fontsize=8)
    modules = sorted({r["module"] for r in rows})
    for module in modules:
        points = [(r["step"], r["strength"]) for r in rows if r["module"] == module and math.isfinite(r["strength"])]
        if points:
            bottom.plot(*zip(*points), marker=".", lw=1, label=module)
    bottom.set_ylabel("strength")
    bottom.set_xlabel("step")
    if len(modules) <= 12:
        bottom.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return True


def plot_run(run_dir: str | pathlib.Path, out_dir: str | pathlib.Path | None = None) -> dict[str, list]:
    """Write every plot the run folder has data for; returns ``{"written": [paths], "skipped": [notes]}``."""
    run_dir = pathlib.Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is a file, not a run folder (give the folder that holds metrics.csv)")
    if not run_dir.is_dir():
        raise RunFolderError(f"run folder {run_dir} does not exist")
    metrics_path, population_path = run_dir / "metrics.csv", run_dir / "population.csv"
    if not metrics_path.is_file() and not population_path.is_file():
        raise RunFolderError(f"{run_dir} has neither metrics.csv nor population.csv: not a run folder")
    out_dir = pathlib.Path(out_dir) if out_dir else run_dir / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    metrics = read_metrics(metrics_path) if metrics_path.is_file() else {}
    for filename, (title, prefixes) in GROUPS.items():
        if plot_group(metrics, prefixes, title, out_dir / filename):
            written.append(out_dir / filename)
        else:
            skipped.append(f"{filename}: no {'/'.join(p.rstrip('/') for p in prefixes)} columns")
    population = read_population(population_path) if population_path.is_file() else []
    if plot_population(population, out_dir / "population.png"):
        written.append(out_dir / "population.png")
    else:
        skipped.append("population.png: no population.csv events")
    return {"written": written, "skipped": skipped}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run folder (metrics.csv, population.csv)")
    parser.add_argument("--out", default=None, help="where to write the PNGs (default: RUN_DIR/plots)")


def run(args: argparse.Namespace) -> int:
    try:
        result = plot_run(args.run_dir, args.out)
    except (RunFolderError, OSError) as err:
        print(f"embodied plot: {err}", file=sys.stderr)
        return 2
    for path in result["written"]:
        print(f"wrote {path}")
    for note in result["skipped"]:
        print(f"skipped {note}")
    return 0 if result["written"] else 1
