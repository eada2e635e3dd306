"""Per-trial evaluation figures -> per-condition means and paired differences, with bootstrap 95% CIs.

Every trial is evaluated on the same held-out mazes, so each figure is a table ``value[seed, maze]``
per condition. For a condition with training seeds S and mazes M:

    mean    = (1 / |S||M|) * sum_{s,m} value[s, m]
    CI      = bootstrap (BCa, 9,999 resamples, seed 0; ``embodied.stats.bootstrap_ci``) over the
              |S||M| cells, resampled as independent samples

and for a condition C against the baseline B, on the cells both have (paired by seed x maze: the
same training seed and the same maze):

    diff    = (1 / n) * sum_{s,m} (value_C[s, m] - value_B[s, m])      with its bootstrap CI

The flat bootstrap over seed x maze cells treats the cells as independent; cells of one training
seed share a network, so this interval is narrower than a two-level (seed, then maze) bootstrap
would be when seeds differ much. docs/experiments.md says so next to the figures.

A reference R (an untrained policy evaluated once per maze: ``random``, ``wander``, ``reflex:<name>``)
has one value per maze, ``value_R[m]``: its mean and CI are over its |M| mazes, and every trained
condition C (the baseline too) is compared with it on the mazes both have, each training seed paired
with the reference's run on the same maze:

    diff_R  = (1 / n) * sum_{s,m} (value_C[s, m] - value_R[m])           n = |S| x |M| pairs

The reference's value on a maze enters once per training seed; the bootstrap resamples the n pairs.
The same pairs give the ratio the issue's claims are stated in (">= 0.8 x the forage oracle's food",
"steps to 90 % <= 2 x the DFS oracle's"):

    ratio_R = (sum_{s,m} value_C[s, m]) / (sum_{s,m} value_R[m])          paired bootstrap CI over the n pairs

(``embodied.stats.ratio_ci(paired=True)``; none when the reference's mean is 0.)

A learning curve (:func:`curve_summary`) applies the same two formulas at each env step N separately:
``value[s, m]`` is then the evaluation of trial s's checkpoint at step N on maze m (its kept
``step_<N>.pt``, or its final evaluation at the step it ended on), the mean and CI are over the
seed x maze cells at N, and the difference against the baseline is paired by seed x maze at the same N.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from embodied.stats import bootstrap_ci, ratio_ci

#: what ``embodied.train.evaluate.run_episode`` measures per maze, and which way is better
METRICS = {"coverage": "higher", "steps_to_50": "lower", "steps_to_90": "lower", "food_per_1000": "higher"}
FOOD_TASKS = ("forage",)


def metrics_for(task: str) -> list[str]:
    """The figures a sweep reports: coverage and the steps to 50 % / 90 %, and pellets per 1,000 steps where there is food."""
    return [m for m in METRICS if m != "food_per_1000" or task in FOOD_TASKS]


def _cells(result: dict, metric: str) -> dict[int, float]:
    """maze seed -> value from one evaluate_policy result."""
    return {int(seed): float(value) for seed, value in zip(result["seeds"], result[metric])}


def _paired_ratio(cells: dict, reference: dict, shared: list) -> dict | None:
    """mean(condition) / mean(reference) over the seed x maze pairs ``shared`` (each reference value counted
    once per training seed, as in the difference), with a paired bootstrap CI; None without pairs or when the
    reference's mean is 0 (no scale to state a ratio on)."""
    if not shared or not np.mean([reference[k[1]] for k in shared]):
        return None
    return ratio_ci([cells[k] for k in shared], [reference[k[1]] for k in shared], paired=True).as_dict()


def aggregate(conditions, baseline: str, task: str, trials: list[dict], references: dict | None = None) -> dict:
    """``trials``: finished trial records ({condition, seed, eval: {result}}); ``references``: reference name
    -> its evaluate_policy result, in the order to report them. Returns the per-trial figures, the
    per-condition CIs, the paired differences against ``baseline``, and for the references their CIs over
    mazes (``reference_summary``) and every condition's paired difference against each
    (``paired_references[condition][reference]``; see the module doc)."""
    metrics = metrics_for(task)
    table: dict[str, dict[str, dict[tuple[int, int], float]]] = {c: {m: {} for m in metrics} for c in conditions}
    per_trial = []
    for record in sorted(trials, key=lambda r: (list(conditions).index(r["condition"]), r["seed"])):
        result = record["eval"]["result"]
        row = {"condition": record["condition"], "seed": record["seed"], "mazes": [int(s) for s in result["seeds"]]}
        for metric in metrics:
            cells = _cells(result, metric)
            for maze, value in cells.items():
                table[record["condition"]][metric][(record["seed"], maze)] = value
            row[metric] = float(np.mean(list(cells.values())))
            row[f"{metric}_per_maze"] = [cells[s] for s in row["mazes"]]
        per_trial.append(row)

    summary, paired = {}, {}
    for condition in conditions:
        cells = table[condition][metrics[0]]
        summary[condition] = {
            "n_seeds": len({seed for seed, _ in cells}),
            "n_mazes": len({maze for _, maze in cells}),
            "metrics": {
                m: bootstrap_ci(list(table[condition][m].values())).as_dict() if cells else None for m in metrics
            },
        }
    for condition in conditions:
        if condition == baseline:
            continue
        shared = sorted(set(table[condition][metrics[0]]) & set(table[baseline][metrics[0]]))
        paired[condition] = {
            "vs": baseline,
            "n_pairs": len(shared),
            "n_seeds": len({seed for seed, _ in shared}),
            "n_mazes": len({maze for _, maze in shared}),
            "metrics": {
                m: bootstrap_ci([table[condition][m][k] - table[baseline][m][k] for k in shared]).as_dict()
                if shared
                else None
                for m in metrics
            },
        }
    reference_summary, paired_references = {}, {condition: {} for condition in conditions}
    for name, result in (references or {}).items():
        values = {m: _cells(result, m) for m in metrics}
        mazes = [int(s) for s in result["seeds"]]
        reference_summary[name] = {
            "n_mazes": len(mazes),
            "mazes": mazes,
            "metrics": {m: bootstrap_ci([values[m][k] for k in mazes]).as_dict() for m in metrics},
            **{f"{m}_per_maze": [values[m][k] for k in mazes] for m in metrics},
        }
        for condition in conditions:
            shared = sorted(k for k in table[condition][metrics[0]] if k[1] in values[metrics[0]])
            paired_references[condition][name] = {
                "vs": name,
                "n_pairs": len(shared),
                "n_seeds": len({seed for seed, _ in shared}),
                "n_mazes": len({maze for _, maze in shared}),
                "metrics": {
                    m: bootstrap_ci([table[condition][m][k] - values[m][k[1]] for k in shared]).as_dict()
                    if shared
                    else None
                    for m in metrics
                },
                "ratio": {m: _paired_ratio(table[condition][m], values[m], shared) for m in metrics},
            }
    return {
        "metrics": metrics,
        "better": {m: METRICS[m] for m in metrics},
        "trials": per_trial,
        "summary": summary,
        "paired": paired,
        "references": list(reference_summary),
        "reference_summary": reference_summary,
        "paired_references": paired_references,
    }


def curve_summary(conditions, baseline: str, task: str, points: list[dict]) -> dict:
    """A learning curve: ``points`` are evaluations of the trials' checkpoints ({condition, seed, step, final,
    result}; ``final`` for the trial's own final evaluation) -> per condition, per step, the mean and CI
    over seed x maze cells and (where ``baseline`` is among ``conditions``) the difference against the
    baseline paired by seed x maze at that step: :func:`aggregate` run on each step's evaluations."""
    conditions = list(conditions)
    paired_with = baseline if baseline in conditions else None
    steps = sorted({int(p["step"]) for p in points})
    curve = {c: [] for c in conditions}
    per_trial = []
    for step in steps:
        here = [p for p in points if int(p["step"]) == step]
        records = [{"condition": p["condition"], "seed": p["seed"], "eval": {"result": p["result"]}} for p in here]
        aggregated = aggregate(conditions, paired_with or conditions[0], task, records)
        final = {(p["condition"], p["seed"]): bool(p.get("final")) for p in here}
        for row in aggregated["trials"]:
            per_trial.append({"step": step, "final": final[(row["condition"], row["seed"])], **row})
        for condition in conditions:
            entry = aggregated["summary"][condition]
            if not entry["n_seeds"]:
                continue  # no trial of this condition has a point at this step
            paired = aggregated["paired"].get(condition) if paired_with else None
            curve[condition].append(
                {
                    "step": step,
                    "final": any(final[k] for k in final if k[0] == condition),
                    **entry,
                    "paired": paired if paired and paired["n_pairs"] else None,
                }
            )
    return {
        "conditions": conditions,
        "baseline": paired_with,
        "metrics": metrics_for(task),
        "curve": curve,
        "trials": per_trial,
    }


def results_csv(aggregated: dict, curve: dict | None = None, transfer: dict | None = None) -> str:
    """Long-format CSV: one row per (kind, condition, seed, metric[, step][, transfer]); kind is trial, condition,
    reference, paired, ratio, for a learning curve curve_trial, curve and curve_paired, and for each transfer
    (its name in ``transfer``) transfer_trial, transfer_condition, transfer_reference, transfer_paired and transfer_ratio.

    ``trial`` rows hold the mean over mazes (no interval); ``condition`` rows the mean and CI over
    seeds x mazes; ``reference`` rows a reference's mean and CI over mazes; ``paired`` rows the mean
    difference against ``vs`` (the baseline, then each reference) and its CI; ``ratio`` rows a condition's
    mean over a reference's on the same pairs (``vs``) and its paired CI. The ``curve*`` rows are
    the same at the env step in ``step`` (``curve``: :func:`curve_summary`); other rows leave it empty."""
    out = io.StringIO()
    writer = _PaddedWriter(csv.writer(out, lineterminator="\n"))
    writer.writerow(CSV_COLUMNS)
    _aggregate_rows(writer, aggregated)
    if curve:
        _curve_rows(writer, curve)
    for name, entry in (transfer or {}).items():
        _aggregate_rows(_TransferWriter(writer, name), entry)
    return out.getvalue()


def _aggregate_rows(writer, aggregated: dict) -> None:
    """The trial, condition, reference and paired rows of one :func:`aggregate` result."""
    metrics = aggregated["metrics"]
    for row in aggregated["trials"]:
        for m in metrics:
            writer.writerow(["trial", row["condition"], "", row["seed"], m, _num(row[m]), "", "", len(row["mazes"])])
    for condition, entry in aggregated["summary"].items():
        for m in metrics:
            ci = entry["metrics"][m]
            if ci:
                writer.writerow(["condition", condition, "", "", m, *_ci_cells(ci)])
    for name, entry in aggregated.get("reference_summary", {}).items():
        for m in metrics:
            ci = entry["metrics"][m]
            writer.writerow(["reference", name, "", "", m, *_ci_cells(ci)])
    paired = [(condition, entry) for condition, entry in aggregated["paired"].items()]
    for condition, against in aggregated.get("paired_references", {}).items():
        paired += [(condition, entry) for entry in against.values()]
    for condition, entry in paired:
        for m in metrics:
            ci = entry["metrics"][m]
            if ci:
                writer.writerow(
                    [
                        "paired",
                        condition,
                        entry["vs"],
                        "",
                        m,
                        *_ci_cells(ci),
                    ]
                )
    for condition, against in aggregated.get("paired_references", {}).items():
        for entry in against.values():
            for m in metrics:
                ci = (entry.get("ratio") or {}).get(m)
                if ci:
                    writer.writerow(["ratio", condition, entry["vs"], "", m, *_ci_cells(ci)])


def _ci_cells(ci: dict) -> list:
    """A CI's CSV cells: mean, low, high, n."""
    return [_num(ci["mean"]), _num(ci["low"]), _num(ci["high"]), ci["n"]]


CSV_COLUMNS = ["kind", "condition", "vs", "seed", "metric", "mean", "low", "high", "n", "step", "transfer"]


class _PaddedWriter:
    """A csv writer whose short rows get empty trailing cells: every row has every column."""

    def __init__(self, writer):
        self.writer = writer

    def writerow(self, values) -> None:
        self.writer.writerow([*values, *[""] * (len(CSV_COLUMNS) - len(values))])


class _TransferWriter:
    """Rows of a transfer's aggregate: kind prefixed ``transfer_``, the transfer's name in the last column."""

    def __init__(self, writer: _PaddedWriter, name: str):
        self.writer, self.name = writer, name

    def writerow(self, values) -> None:
        values = list(values)
        values = [f"transfer_{values[0]}", *values[1:], *[""] * (len(CSV_COLUMNS) - 1 - len(values))]
        self.writer.writerow([*values, self.name])


def _curve_rows(writer, curve: dict) -> None:
    metrics = curve["metrics"]
    for row in curve["trials"]:
        for m in metrics:
            writer.writerow(
                [
                    "curve_trial",
                    row["condition"],
                    "",
                    row["seed"],
                    m,
                    _num(row[m]),
                    "",
                    "",
                    len(row["mazes"]),
                    row["step"],
                ]
            )
    for condition, points in curve["curve"].items():
        for point in points:
            for m in metrics:
                ci = point["metrics"][m]
                if ci:
                    writer.writerow(["curve", condition, "", "", m, *_ci_cells(ci), point["step"]])
                paired = (point.get("paired") or {}).get("metrics", {}).get(m)
                if paired:
                    vs = point["paired"]["vs"]
                    writer.writerow(["curve_paired", condition, vs, "", m, *_ci_cells(paired), point["step"]])


def _num(value: float) -> str:
    return f"{value:.6g}"
