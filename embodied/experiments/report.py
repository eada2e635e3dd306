"""``embodied report``: the results page, regenerated from sweep folders, never typed by hand.

    embodied report --results runs/sweeps/intrinsic runs/sweeps/forage --out docs/results.md

Reads each folder's ``results.json`` (written by ``embodied sweep``) and writes, between the markers
:data:`START` and :data:`END` of ``--out``, one section per sweep: what was measured (commit, dates,
mazes, episode length, seeds), one table per figure (condition, n seeds, n mazes, mean [95% CI],
paired difference against the baseline [95% CI]; the sweep's reference policies after the trained
conditions, n seeds "—"), where the sweep has references a second table per figure (each trained
condition minus each reference, paired by seed x maze, [95% CI]), and a PNG bar chart per figure with
CI whiskers (``embodied.train.evaluate.save_bar_figure``) under ``--figures`` (default ``figures/``
beside the page). A sweep with a learning curve (the spec's ``curve``) also gets, per curve metric
(coverage; pellets per 1,000 steps on forage), a table condition x env step (mean [95% CI], the last
step the trials' final evaluation) and a PNG of one line per condition with its CI band against env
steps, the references as horizontal lines (:func:`_curve_figure`). A sweep with ``transfer`` entries gets, per
other world, the same tables and bar charts for its trained conditions' final checkpoints evaluated there
without further training, beside that world's references (:func:`_transfer_section`).

Text outside the markers is kept: a page without markers gets the section appended at its end, a
missing page is created. The output depends only on the results files and the arguments (no clock,
no absolute paths), so running it twice gives byte-identical files; a figure whose bytes did not
change is not rewritten.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from embodied.errors import UsageError

from .files import read_json_or_none, write_bytes_atomic, write_text_atomic

START = "<!-- embodied report:start (generated; edit the sweeps, not this section) -->"
END = "<!-- embodied report:end -->"
DEFAULT_SWEEPS = Path("runs") / "sweeps"
SEED_FLOOR = 5  # issue 13: at least five training seeds per condition behind every claim
DIGITS = {"coverage": 3, "steps_to_50": 0, "steps_to_90": 0, "food_per_1000": 2}
LABELS = {
    "coverage": "coverage (fraction of free cells visited)",
    "steps_to_50": "steps to 50 % coverage (the episode length where never reached)",
    "steps_to_90": "steps to 90 % coverage (the episode length where never reached)",
    "food_per_1000": "pellets per 1,000 steps",
}
CURVE_METRICS = ("coverage", "food_per_1000")  # what a learning curve is drawn for (food only where the task has it)
MAX_LISTED_FAILURES = 10


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        nargs="+",
        action="extend",
        metavar="DIR",
        help=f"sweep folders holding results.json (default: every one under {DEFAULT_SWEEPS}/)",
    )
    parser.add_argument("--out", default="docs/results.md", help="the page; only its marked section is replaced")
    parser.add_argument("--figures", help="folder for the PNGs (default: figures/ beside --out)")


def _load(folder: Path) -> dict:
    path = folder / "results.json" if folder.is_dir() else folder
    if not path.is_file():
        raise UsageError(f"--results {folder}: no results.json there (run embodied sweep first)")
    data = read_json_or_none(path)
    keys = ("sweep", "metrics", "summary", "paired", "trials", "conditions", "baseline", "eval")
    if data is None or any(k not in data for k in keys):
        raise UsageError(f"--results {folder}: {path} is not a results.json written by embodied sweep")
    return data


def _fmt(value: float, digits: int, sign: bool = False) -> str:
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    if float(text) == 0:  # no "-0.000"
        text = text.replace("-", "+" if sign else "")
    return text


def _ci(ci: dict | None, digits: int, sign: bool = False) -> str:
    if not ci:
        return "–"
    return f"{_fmt(ci['mean'], digits, sign)} [{_fmt(ci['low'], digits, sign)}, {_fmt(ci['high'], digits, sign)}]"


def _length_words(evaluation: dict, where: str = "") -> str:
    """How the episode length was chosen: ``auto`` is 3 × the DFS oracle's tour on explore, a fixed 2,000 steps
    on forage (``embodied eval --episode-steps auto``); otherwise the spec fixed it."""
    if evaluation.get("episode_steps") != "auto":
        return "fixed"
    return "auto: 2,000 on forage" if evaluation.get("task") == "forage" else f"3 × the DFS oracle{where}"


def _stamp(data: dict) -> str:
    commits = data.get("measured_commits") or [{"commit": data.get("commit", "unknown"), "dirty": data.get("dirty")}]
    names = ", ".join(f"`{c['commit'][:10]}`" + (" + uncommitted changes" if c.get("dirty") else "") for c in commits)
    start, end = (data.get("measured_from") or "")[:10], (data.get("measured_to") or "")[:10]
    dates = start if start == end else f"{start} to {end}"
    return f"measured at commit {names} on {dates}"


def _figure_title(data: dict) -> str:
    commits = data.get("measured_commits") or [{"commit": data.get("commit", "unknown"), "dirty": data.get("dirty")}]
    stamp = ", ".join(c["commit"][:7] + ("+dirty" if c.get("dirty") else "") for c in commits)
    return f"{data['sweep']}\n{stamp}, {(data.get('measured_to') or '')[:10]}"


def _write_if_changed(path: Path, render) -> None:
    """``render(tmp)`` draws a PNG; it replaces ``path`` only when its bytes differ (an unchanged figure keeps
    its file and mtime)."""
    tmp = path.with_name(f".{path.name}.render.png")
    render(tmp)
    new = tmp.read_bytes()
    tmp.unlink()
    if not path.is_file() or path.read_bytes() != new:
        write_bytes_atomic(path, new)


def _figure(data: dict, metric: str, path: Path) -> None:
    """A bar per condition (mean, CI whiskers) with the seed x maze points, written only when its bytes change."""
    from embodied.train.evaluate import save_bar_figure

    bars = {}
    for condition in data["conditions"]:
        points = [v for row in data["trials"] if row["condition"] == condition for v in row[f"{metric}_per_maze"]]
        if data["summary"][condition]["metrics"][metric]:
            bars[condition] = {f"{metric}_ci": data["summary"][condition]["metrics"][metric], metric: points}
    for name, entry in data.get("reference_summary", {}).items():
        bars[f"{name} (ref.)"] = {f"{metric}_ci": entry["metrics"][metric], metric: entry[f"{metric}_per_maze"]}
    if not bars:
        return
    _write_if_changed(path, lambda tmp: save_bar_figure(tmp, bars, metric, metric, _figure_title(data)))


def _curve_figure(data: dict, metric: str, path: Path) -> None:
    """One line per condition (mean over seeds x mazes at each env step) with its 95 % CI band, the final
    evaluation's point ringed, each reference's mean as a dashed horizontal line; stamped like the bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(target: Path) -> None:
        fig, ax = plt.subplots(figsize=(5.6, 3.4), dpi=120)
        colours = plt.get_cmap("tab10")
        for i, (condition, points) in enumerate(data["curve"]["curve"].items()):
            points = [p for p in points if p["metrics"].get(metric)]
            if not points:
                continue
            steps = [p["step"] for p in points]
            cis = [p["metrics"][metric] for p in points]
            colour = colours(i % 10)
            ax.fill_between(steps, [c["low"] for c in cis], [c["high"] for c in cis], color=colour, alpha=0.2)
            ax.plot(steps, [c["mean"] for c in cis], marker="o", color=colour, label=condition)
            finals = [(p["step"], c["mean"]) for p, c in zip(points, cis) if p["final"]]
            if finals:
                ax.scatter(*zip(*finals), s=70, facecolors="none", edgecolors=colour, zorder=3)
        for j, (name, entry) in enumerate(data.get("reference_summary", {}).items()):
            ci = entry["metrics"].get(metric)
            if ci:
                style = ("--", ":", "-.")[j % 3]
                ax.axhline(ci["mean"], color="grey", linestyle=style, linewidth=1, label=f"{name} (ref.)")
        ax.set_xlabel("env steps of training (ringed: the final evaluation)")
        ax.set_ylabel(metric)
        ax.set_title(_figure_title(data), fontsize=9)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target)
        plt.close(fig)

    _write_if_changed(path, draw)


def _curve_section(data: dict, page: Path, figures: Path) -> list[str]:
    """Per curve metric a table condition x env step and the figure; then the points that are missing."""
    curve = data["curve"]
    lines = [
        f"**Learning curve** over {', '.join(f'`{c}`' for c in curve['requested_conditions'])}: each finished "
        f"trial's kept checkpoint `step_<N>.pt` evaluated on the same mazes for the same number of steps as its "
        f"final evaluation, which is the last point (final); mean over seeds × mazes, 95 % bootstrap CI. "
        f"{curve['n_points_finished']} of {curve['n_points']} checkpoint evaluations finished.",
        "",
    ]
    steps = sorted({p["step"] for points in curve["curve"].values() for p in points})
    final = {p["step"] for points in curve["curve"].values() for p in points if p["final"]}
    for metric in [m for m in CURVE_METRICS if m in curve.get("metrics", data["metrics"])]:
        digits = DIGITS.get(metric, 3)
        if steps:
            lines += [
                f"*{LABELS.get(metric, metric)}* against env steps:",
                "",
                "| condition | " + " | ".join(f"{s}" + (" (final)" if s in final else "") for s in steps) + " |",
                "|---|" + "---|" * len(steps),
            ]
            for condition, points in curve["curve"].items():
                at = {p["step"]: p["metrics"].get(metric) for p in points}
                lines.append(f"| `{condition}` | " + " | ".join(_ci(at.get(s), digits) for s in steps) + " |")
        figure = figures / f"sweep-{data['sweep']}-curve-{metric}.png"
        if steps:
            _curve_figure(data, metric, figure)
        if figure.is_file():
            link = Path(os.path.relpath(figure, page.parent)).as_posix()
            lines += ["", f"![{data['sweep']}: {metric} against env steps]({link})"]
        lines.append("")
    failed = curve.get("failed") or []
    if failed:
        lines.append(f"Curve points not evaluated ({len(failed)}):")
        lines.append("")
        lines += [f"- {f['error']}" for f in failed[:MAX_LISTED_FAILURES]]
        if len(failed) > MAX_LISTED_FAILURES:
            lines.append(f"- … and {len(failed) - MAX_LISTED_FAILURES} more (results.json, `curve.failed`)")
        lines.append("")
    return lines


def sweep_section(data: dict, page: Path, figures: Path) -> str:
    """The Markdown of one sweep: stamp, one table and one figure per metric."""
    evaluation = data["eval"]
    mazes = evaluation.get("maze_seeds") or []
    lines = [f"### {data['sweep']}", ""]
    if data.get("description"):
        lines += [data["description"], ""]
    seeds = min((entry["n_seeds"] for entry in data["summary"].values()), default=0)
    lines.append(
        f"{_stamp(data).capitalize()}; spec `{data.get('spec_path', '?')}`. Each trial trained on its own seed "
        f"({len(data.get('seeds', []))} seeds: {', '.join(map(str, data.get('seeds', [])))}) and was evaluated on "
        f"{len(mazes)} held-out mazes (seeds {mazes[0] if mazes else '?'}–{mazes[-1] if mazes else '?'}) of "
        f"`{evaluation.get('world')}`, task {evaluation.get('task')}, {evaluation.get('episode_steps_used')} steps "
        f"each ({_length_words(evaluation)}). "
        f"{data.get('n_finished', '?')} of {data.get('n_trials', '?')} trials finished."
    )
    if seeds < SEED_FLOOR:
        lines.append("")
        lines.append(
            f"**Fewer than {SEED_FLOOR} training seeds per condition: below the project's floor for a claim.**"
        )
    references = data.get("references") or []
    if references:
        lines.append("")
        lines.append(
            f"References (untrained policies, marked *ref.*: {', '.join(f'`{r}`' for r in references)}) ran once on "
            f"each of the same mazes for the same number of steps, each maze with a fresh policy seeded by the maze "
            f"seed; `reflex:<name>` is that one innate reflex alone, no world model and no learning."
        )
    failed = data.get("failed") or []
    if failed:
        lines.append("")
        lines.append(f"Failed trials (not in the figures): {', '.join(f['trial'] for f in failed)}.")
    lines.append("")
    lines += _metric_tables(data, page, figures, f"sweep-{data['sweep']}")
    if data.get("curve"):
        lines += _curve_section(data, page, figures)
    for name, entry in (data.get("transfer") or {}).items():
        lines += _transfer_section(data, name, entry, page, figures)
    return "\n".join(lines)


def _transfer_section(data: dict, name: str, entry: dict, page: Path, figures: Path) -> list[str]:
    """One transfer: where and how it was evaluated, then the metric tables and figures of its aggregate."""
    evaluation = entry["eval"]
    mazes = evaluation.get("maze_seeds") or []
    references = entry.get("references") or []
    lines = [
        f"**Transfer to `{evaluation['world']}`** (`{name}`): the final checkpoint of each finished trial of "
        f"{', '.join(f'`{c}`' for c in entry['conditions'])} evaluated there without further training, on "
        f"{len(mazes)} maze seeds ({mazes[0] if mazes else '?'}–{mazes[-1] if mazes else '?'}; for a fixed layout "
        f"they vary the start), task {evaluation.get('task')}, {evaluation.get('episode_steps_used')} steps each "
        f"({_length_words(evaluation, ' there')}). "
        f"{entry['n_finished']} of {entry['n_trials']} evaluations finished"
        + (f"; references {', '.join(f'`{r}`' for r in references)} on the same mazes." if references else "."),
        "",
    ]
    failed = entry.get("failed") or []
    if failed:
        lines += [f"Transfer evaluations that failed ({len(failed)}):", ""]
        lines += [f"- {f['error']}" for f in failed[:MAX_LISTED_FAILURES]]
        lines.append("")
    view = {**entry, "sweep": f"{data['sweep']} in {name}"}
    view.update({k: data.get(k) for k in ("measured_commits", "measured_to", "commit", "dirty")})
    return lines + _metric_tables(view, page, figures, f"sweep-{data['sweep']}-transfer-{name}")


def _metric_tables(data: dict, page: Path, figures: Path, stem: str) -> list[str]:
    """Per metric of an aggregate (a sweep's, or a transfer's): the condition table, the table against each
    reference, and the bar chart ``<stem>-<metric>.png``."""
    references = data.get("references") or []
    lines = []
    for metric in data["metrics"]:
        digits = DIGITS.get(metric, 3)
        better = data.get("better", {}).get(metric, "higher")
        lines += [
            f"**{LABELS.get(metric, metric)}** ({better} is better); mean over seeds × mazes, 95 % bootstrap CI; "
            f"difference paired by seed × maze against `{data['baseline']}`:",
            "",
            "| condition | n seeds | n mazes | mean [95 % CI] | difference vs baseline [95 % CI] |",
            "|---|---:|---:|---|---|",
        ]
        for condition in data["conditions"]:
            entry = data["summary"][condition]
            if condition == data["baseline"]:
                diff = "baseline"
            else:
                diff = _ci(data["paired"].get(condition, {}).get("metrics", {}).get(metric), digits, sign=True)
            mean = _ci(entry["metrics"][metric], digits)
            lines.append(f"| `{condition}` | {entry['n_seeds']} | {entry['n_mazes']} | {mean} | {diff} |")
        for name in references:
            entry = data["reference_summary"][name]
            mean = _ci(entry["metrics"][metric], digits)
            lines.append(f"| `{name}` (ref.) | — | {entry['n_mazes']} | {mean} | — |")
        if references:
            lines += _reference_table(data, metric, digits)
            lines += _ratio_table(data, metric)
        figure = figures / f"{stem}-{metric}.png"
        _figure(data, metric, figure)
        if figure.is_file():
            link = Path(os.path.relpath(figure, page.parent)).as_posix()
            lines += ["", f"![{data['sweep']}: {metric}]({link})"]
        lines.append("")
    return lines


def _against_references(data: dict, intro: str, operator: str, cell) -> list[str]:
    """A condition x reference table under ``intro``: column ``<operator> `ref```, each cell
    ``cell(paired_references[condition][ref])`` (an empty dict where a pair is missing)."""
    references = data.get("references") or []
    lines = [
        "",
        intro,
        "",
        "| condition | " + " | ".join(f"{operator} `{name}`" for name in references) + " |",
        "|---|" + "---|" * len(references),
    ]
    for condition in data["conditions"]:
        against = data.get("paired_references", {}).get(condition, {})
        lines.append(f"| `{condition}` | " + " | ".join(cell(against.get(name, {})) for name in references) + " |")
    return lines


def _reference_table(data: dict, metric: str, digits: int) -> list[str]:
    """Each trained condition minus each reference, paired by seed x maze, as a condition x reference table."""
    return _against_references(
        data,
        "Difference from each reference (trained condition − reference), paired by maze: each training seed "
        "against the reference's run on the same maze (n = seeds × mazes pairs), 95 % bootstrap CI:",
        "−",
        lambda entry: _ci(entry.get("metrics", {}).get(metric), digits, sign=True),
    )


def _ratio_table(data: dict, metric: str) -> list[str]:
    """Each trained condition's mean over each reference's on the same seed x maze pairs (the scale issue 14's
    claims are stated on: "≥ 0.8 × the forage oracle", "≤ 2 × the DFS oracle's steps"); none in old results."""

    def ratio(entry: dict) -> dict | None:
        return (entry.get("ratio") or {}).get(metric)

    if not any(ratio(e) for against in data.get("paired_references", {}).values() for e in against.values()):
        return []
    return _against_references(
        data,
        "As a multiple of each reference (condition mean ÷ reference mean over the same seed × maze pairs), "
        "95 % paired bootstrap CI:",
        "÷",
        lambda entry: _ci(ratio(entry), 2),
    )


def render(results: list[dict], page: Path, figures: Path, command: str) -> str:
    """The marked section: a header naming the command that regenerates it, then each sweep."""
    body = [
        START,
        "",
        f"_This section is generated by `{command}` from the sweeps' results.json; do not edit it by hand, "
        f"re-run the command. Every figure carries the commit and date it was measured on._",
        "",
    ]
    body += [sweep_section(data, page, figures) for data in results]
    return "\n".join(body).rstrip("\n") + "\n" + END


def splice(existing: str | None, section: str) -> str:
    """``existing`` with its marked section replaced (or the section appended); a new page when None."""
    if existing is None:
        return f"# Results\n\n{section}\n"
    if START in existing and END in existing.split(START, 1)[1]:
        head, rest = existing.split(START, 1)
        return head + section + rest.split(END, 1)[1]
    if START in existing or END in existing:
        raise UsageError(f"the page has only one of the markers {START!r} and {END!r}; fix or remove it")
    return existing.rstrip("\n") + "\n\n" + section + "\n"


def run(args: argparse.Namespace) -> int:
    if args.results:
        folders = [Path(p) for p in args.results]
    else:
        folders = sorted(p.parent for p in DEFAULT_SWEEPS.glob("*/results.json"))
        if not folders:
            raise UsageError(
                f"no sweep results under {DEFAULT_SWEEPS}/; give --results DIR (a folder of embodied sweep)"
            )
    results = [_load(folder) for folder in folders]
    names = [r["sweep"] for r in results]
    if len(set(names)) != len(names):
        raise UsageError(f"--results: two folders hold the sweep {sorted(n for n in names if names.count(n) > 1)[0]!r}")
    page = Path(args.out)
    if page.is_dir():
        raise UsageError(f"--out {page} is a folder; give the Markdown file")
    figures = Path(args.figures) if args.figures else page.parent / "figures"
    command = "embodied report"
    if args.results:
        command += " --results " + " ".join(Path(p).as_posix() for p in args.results)
    command += f" --out {page.as_posix()}" + (f" --figures {Path(args.figures).as_posix()}" if args.figures else "")
    try:
        existing = page.read_text(encoding="utf-8") if page.exists() else None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"--out {page} cannot be read as UTF-8 text: {err}") from None
    splice(existing, "")  # a page with one marker fails before any figure is drawn
    text = splice(existing, render(results, page, figures, command))
    if text != existing:
        write_text_atomic(page, text)
    print(f"{page}: {len(results)} sweep(s) ({', '.join(names)}), figures in {figures}", file=sys.stderr)
    return 0
