"""``embodied sweep``: a grid of training runs and their held-out evaluations, as Ray tasks.

    embodied sweep configs/sweeps/intrinsic.json --out runs/sweeps/intrinsic
    embodied sweep SPEC --address auto --cpus-per-trial 2 --gpus-per-trial 0.25   # join a running cluster

1. The spec is read and every trial's config loaded (``grid.load_spec``): a typo fails here, in one
   line, before Ray starts. Trial folders left by an earlier run are checked: a folder started by a
   different spec (other overrides, base config or evaluation) is an error, not silently reused.
2. Finished trials (a verified eval.json, ``trial.finished_record``) are skipped; when every trial is
   finished Ray is not started at all.
3. The rest run as Ray core tasks (``ray.remote(num_cpus=..., num_gpus=...)`` around
   ``trial.run_trial``), at most ``--max-concurrent`` at a time; each trains (or resumes) its run
   folder and evaluates ``checkpoints/latest.pt``. A live table on stderr shows each trial's
   status, steps and elapsed time (read from the trial folders, so it needs the folders visible to
   this machine: local runs, or a shared filesystem on a cluster).
4. The spec's ``references`` (untrained policies: ``random``, ``wander``, ``reflex:<name>``) are
   evaluated in this process once the trials are done, on the same mazes for the same episode length
   with the baseline's env settings, each into ``OUT/references/<name>/eval.json``
   (``trial.run_reference``); a finished one is skipped. They need no Ray and take seconds to minutes.
5. The spec's ``curve`` (kept checkpoints ``step_<N>.pt`` of the finished trials) is evaluated once the
   trials are done, as Ray tasks of one CPU each (``trial.run_curve_point``), each point into the trial's
   ``curve/step_<N>.json``; a finished point is skipped, a point whose checkpoint is not there is a
   one-line failure. The curve is in no trial's fingerprint: adding it to a finished sweep trains nothing.
6. The spec's ``transfer`` entries (other worlds) evaluate each finished trial's final checkpoint there without
   further training, as Ray tasks of one CPU each (``trial.run_transfer_point``) into the trial's
   ``transfer/<name>.json``, and their references in this process into ``OUT/transfer/<name>/references/``;
   ``auto`` episode lengths are measured on the transfer's own mazes (``OUT/transfer/<name>/episode_steps.json``).
   Like the curve, adding a transfer to a finished sweep trains nothing.
7. ``OUT/results.json`` and ``OUT/results.csv`` aggregate every finished trial, reference, curve point and transfer
   (``aggregate.py``), stamped with the spec, the git commit and the date. A failed trial (or an
   evaluation that crashed) is listed there and makes the command exit 1; re-running the same command
   retries it and skips the rest.

Ray core rather than Ray Tune: a trial here is "run this function once", not a search; Tune would
add its own trial folders, experiment state and result syncing around run folders the project
already resumes on its own (checkpoints/latest.pt), and its extra dependencies. See docs/experiments.md.

Ray is imported inside :func:`run` only: nothing else in the package pays for it or needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from embodied.errors import UsageError, UserError

from .aggregate import aggregate, curve_summary, results_csv
from .files import git_stamp, read_json_or_none, utc_now, write_json_atomic, write_text_atomic
from .grid import EvalSpec, SpecError, SweepSpec, TransferSpec, load_spec
from .trial import (
    TRAIN_FILE,
    TRIAL_FILE,
    checkpoint_sha256,
    curve_point_file,
    finished_point,
    finished_record,
    finished_reference,
    last_logged_step,
    missing_checkpoint_line,
    recorded_fingerprint,
    run_curve_point,
    run_reference,
    run_transfer_point,
    run_trial,
    transfer_point_file,
)

#: the local instance's object store: trials return small dicts, so the minimum Ray accepts (75 MiB) plus room
OBJECT_STORE_BYTES = 128 * 1024**2
FORAGE_EPISODE_STEPS = 2000  # `embodied eval --episode-steps auto` on forage


class RayMissing(UserError):
    """Ray is an optional extra; exit 1 like the other missing-package errors of the CLI."""

    exit_code = 1


class SweepIncomplete(UserError):
    """Some trials failed; the finished ones are aggregated and a re-run retries the rest."""

    exit_code = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="sweep spec (.json or .toml): conditions, seeds, evaluation (docs/experiments.md)")
    parser.add_argument("--out", help="sweep folder (default runs/sweeps/<spec name>); re-run with it to resume")
    parser.add_argument("--address", help="join this Ray cluster (e.g. auto, or HOST:6379); default a local instance")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs Ray reserves per trial (default 1)")
    parser.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPU fraction per trial (default 0)")
    parser.add_argument(
        "--max-concurrent", type=int, default=0, help="at most this many trials at once (default 0: as resources allow)"
    )
    parser.add_argument(
        "--collect",
        action="store_true",
        help="run nothing: aggregate the trials, references and curve points finished so far in --out (a stopped "
        "sweep's partial results; the report says how many finished); re-run without it to finish the rest",
    )


def _checked_args(args: argparse.Namespace) -> None:
    if not 0 < args.cpus_per_trial <= 1024:
        raise UsageError(f"--cpus-per-trial {args.cpus_per_trial}: allowed (0, 1024]")
    if not 0 <= args.gpus_per_trial <= 64:
        raise UsageError(f"--gpus-per-trial {args.gpus_per_trial}: allowed [0, 64]")
    if not 0 <= args.max_concurrent <= 100_000:
        raise UsageError(f"--max-concurrent {args.max_concurrent}: allowed 0 (no limit) .. 100000")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out} is a file; give a folder")


def _check_folders(spec: SweepSpec, out: Path) -> dict[str, dict]:
    """Finished trials' eval records by trial key; SpecError for a trial folder another spec started."""
    finished = {}
    for trial in spec.trials:
        run_dir = out / trial.relative_dir
        recorded = recorded_fingerprint(run_dir)
        if recorded is not None and recorded != spec.fingerprint(trial):
            raise SpecError(
                f"{spec.path}: trial {trial.key} in {run_dir} was started with a different spec (overrides, base "
                f"config or evaluation changed); use another --out or remove that folder"
            )
        record = finished_record(run_dir, spec.fingerprint(trial))
        if record is not None:
            finished[trial.key] = record
    return finished


def _episode_steps(spec: SweepSpec, out: Path, evaluation: EvalSpec | None = None) -> int:
    """An evaluation's episode length (the spec's, or a transfer's ``evaluation`` whose cache lies in ``out``): its
    number, or ``auto`` as ``embodied eval`` defines it (3 x the mean DFS-oracle traversal of these mazes on
    explore, measured once with the baseline's env and cached in ``out/episode_steps.json``)."""
    evaluation = evaluation or spec.eval
    if evaluation.episode_steps != "auto":
        return int(evaluation.episode_steps)
    if evaluation.task != "explore":
        return FORAGE_EPISODE_STEPS
    cache = out / "episode_steps.json"
    key = {"world": evaluation.world, "maze_seeds": evaluation.maze_seeds}
    cached = read_json_or_none(cache)
    if cached and cached.get("key") == key:
        return int(cached["episode_steps"])
    from embodied.train.evaluate import dfs_episode_steps

    env_kwargs = _baseline_env_kwargs(spec)
    print(
        f"measuring the episode length: 3 x the DFS oracle on {evaluation.mazes} maze(s) of {evaluation.world}",
        file=sys.stderr,
        flush=True,
    )
    dfs = dfs_episode_steps(evaluation.world, evaluation.maze_seeds, env_kwargs)
    write_json_atomic(cache, {"key": key, **dfs})
    return int(dfs["episode_steps"])


def _baseline_env_kwargs(spec: SweepSpec) -> dict:
    """The env settings (``vision_size``, ``task_options``, ...) of the baseline's first trial: the body the DFS
    oracle measures the episode length with, and the one the references run in."""
    from embodied.train.config import load_config
    from embodied.train.evaluate import env_kwargs_from_config

    baseline = next(t for t in spec.trials if t.condition == spec.baseline)
    return env_kwargs_from_config(load_config(spec.config, overrides=list(baseline.overrides)).to_dict())


def _run_references(
    spec: SweepSpec, out: Path, episode_steps: int, collect: bool = False, transfer: TransferSpec | None = None
) -> list[dict]:
    """Each reference of the spec (or of a ``transfer``, in ``out/transfer/<name>/``) evaluated (or skipped when
    finished) in this process; their records in spec order. ``collect``: evaluate none; only the finished ones'
    records (an unfinished reference is left out)."""
    references = transfer.references if transfer else spec.references
    if not references:
        return []
    env_kwargs = _baseline_env_kwargs(spec)
    evaluation = _evaluation(spec, episode_steps, transfer.eval if transfer else None)
    base = out / transfer.relative_dir if transfer else out
    records = []
    for reference in references:
        job = {
            "reference": reference.name,
            "run_dir": str((base / reference.relative_dir).resolve()),
            "fingerprint": spec.reference_fingerprint(
                reference, episode_steps, env_kwargs, transfer.eval if transfer else None
            ),
            "env_kwargs": env_kwargs,
            "eval": evaluation,
        }
        if collect:
            done = finished_reference(Path(job["run_dir"]), job["fingerprint"])
            if done is not None:
                records.append(
                    {"reference": reference.name, "status": "skipped", "action": "finished before", "eval": done}
                )
            continue
        record = run_reference(job)
        status = record["error"] if record["status"] == "failed" else record["action"]
        where = f"{reference.name} ({transfer.name})" if transfer else reference.name
        print(f"reference {where:<32} {record['status']:<8} {status}", file=sys.stderr, flush=True)
        records.append(record)
    return records


class ProgressTable:
    """Trial, status, steps and elapsed time on stderr: redrawn in place on a terminal, one line per change otherwise."""

    def __init__(self, spec: SweepSpec, out: Path, stream=None):
        self.spec, self.out, self.stream = spec, out, stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.time()
        self.status = {t.key: "queued" for t in spec.trials}
        self.submitted: dict[str, float] = {}
        self.finished_at: dict[str, float] = {}
        self.drawn = 0
        self.last = dict(self.status)

    def set(self, key: str, status: str) -> None:
        self.status[key] = status
        if status in ("done", "failed", "skipped"):
            self.finished_at[key] = time.time()
        elif status == "submitted":
            self.submitted[key] = time.time()

    def _live(self, trial) -> tuple[str, str, str]:
        run_dir = self.out / trial.relative_dir
        status = self.status[trial.key]
        started = (run_dir / TRIAL_FILE).stat().st_mtime if (run_dir / TRIAL_FILE).exists() else 0
        begin = started if started >= self.submitted.get(trial.key, float("inf")) - 1 else None
        if status == "submitted":
            if begin is None:  # not yet picked up by a worker
                status = "waiting"
            else:
                trained = read_json_or_none(run_dir / TRAIN_FILE)
                status = (
                    "evaluating"
                    if trained and trained.get("fingerprint") == self.spec.fingerprint(trial)
                    else "training"
                )
        metrics = run_dir / "metrics.csv"
        fresh = (
            begin is not None and metrics.exists() and metrics.stat().st_mtime >= begin
        )  # not a resumed run's old rows
        step = last_logged_step(run_dir) if status in ("done", "skipped", "evaluating") or fresh else None
        steps = "" if step is None else f"{step}" + (f"/{trial.total_steps}" if trial.total_steps else "")
        end = self.finished_at.get(trial.key, time.time())
        elapsed = "" if begin is None else f"{end - begin:.0f}s"
        return status, steps, elapsed

    def draw(self, final: bool = False) -> None:
        rows = [(t.key, *self._live(t)) for t in self.spec.trials]
        counts = {}
        for _, status, _, _ in rows:
            counts[status] = counts.get(status, 0) + 1
        head = f"sweep {self.spec.name}: {len(rows)} trials, " + ", ".join(
            f"{n} {s}" for s, n in sorted(counts.items())
        )
        head += f"  [{time.time() - self.start:.0f}s]"
        if not self.tty:  # logs and pipes: a line when a trial's status changes, nothing in between
            for key, status, steps, elapsed in rows:
                if self.last.get(key) != status:
                    print(
                        f"[{time.time() - self.start:5.0f}s] {key:<40} {status:<10} {steps:>12} {elapsed:>7}",
                        file=self.stream,
                    )
                    self.last[key] = status
            if final:
                print(head, file=self.stream)
            self.stream.flush()
            return
        if len(rows) > 30:  # long grids: the active and failed trials only
            rows = [r for r in rows if r[1] not in ("queued", "done", "skipped")][:30]
        lines = [head, f"{'trial':<40} {'status':<10} {'steps':>12} {'elapsed':>7}"]
        lines += [f"{key:<40} {status:<10} {steps:>12} {elapsed:>7}" for key, status, steps, elapsed in rows]
        erase = f"\x1b[{self.drawn}F" if self.drawn else ""
        self.stream.write(erase + "".join(f"\x1b[2K{line}\n" for line in lines))
        self.stream.flush()
        self.drawn = len(lines)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayMissing("needs Ray, an optional extra: pip install -e '.[ray]' (or bash scripts/install.sh)") from None
    return ray


def _start_ray(ray, args: argparse.Namespace) -> bool:
    """Join ``--address`` or start a local instance; True when this command started it (and must shut it down)."""
    import logging

    if ray.is_initialized():  # a caller (a test, a notebook) already has one: use it as it is
        return False
    try:
        if args.address:
            ray.init(address=args.address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(
                num_cpus=os.cpu_count() or 1,
                include_dashboard=False,
                object_store_memory=OBJECT_STORE_BYTES,
                logging_level=logging.ERROR,
                log_to_driver=False,
            )
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {args.address}" if args.address else "a local Ray instance"
        raise UserError(f"cannot start or join {where}: {str(err).strip().splitlines()[0]}") from None
    return True


def _check_resources(ray, args: argparse.Namespace) -> None:
    """A trial that asks for more than the whole cluster has would wait forever: say so now."""
    total = ray.cluster_resources()
    if args.cpus_per_trial > total.get("CPU", 0):
        raise UsageError(f"--cpus-per-trial {args.cpus_per_trial}: the Ray cluster has {total.get('CPU', 0):g} CPUs")
    if args.gpus_per_trial > total.get("GPU", 0):
        raise UsageError(f"--gpus-per-trial {args.gpus_per_trial}: the Ray cluster has {total.get('GPU', 0):g} GPUs")


def _run_tasks(ray, task, jobs: list[dict], limit: int, died, returned, submitted=None, tick=None) -> list[dict]:
    """Run ``jobs`` as the Ray remote function ``task``, at most ``limit`` in flight, in order; the records in the
    order they return. ``died(job, err)`` makes the record of a job whose worker died (killed, out of memory: a
    re-run retries it); ``returned(job, record)`` sees each record as it comes back, ``submitted(job)`` each
    submission, ``tick()`` every second (a live table). On Ctrl-C the tasks in flight are cancelled: a trial's
    last checkpoint, or the curve points written so far, are where a re-run resumes."""
    waiting, running, records = list(jobs), {}, []
    try:
        while waiting or running:
            while waiting and len(running) < limit:
                job = waiting.pop(0)
                running[task.remote(job)] = job
                if submitted:
                    submitted(job)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                job = running.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as err:
                    record = died(job, str(err).strip().splitlines()[0])
                returned(job, record)
                records.append(record)
            if tick:
                tick()
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
    return records


def _run_on_ray(ray, jobs: list[dict], args, table: ProgressTable) -> list[dict]:
    task = ray.remote(num_cpus=args.cpus_per_trial, num_gpus=args.gpus_per_trial, max_retries=1)(run_trial)
    return _run_tasks(
        ray,
        task,
        jobs,
        args.max_concurrent or len(jobs),
        died=lambda job, error: {
            "condition": job["condition"],
            "seed": job["seed"],
            "status": "failed",
            "error": error,
        },
        returned=lambda job, record: table.set(job["key"], "failed" if record["status"] == "failed" else "done"),
        submitted=lambda job: table.set(job["key"], "submitted"),
        tick=table.draw,
    )


def _curve_jobs(
    spec: SweepSpec, out: Path, evals: dict[str, dict], episode_steps: int
) -> tuple[list[dict], list[dict]]:
    """The curve points of the finished trials (``evals`` by trial key): (jobs to evaluate, records of the points
    already finished or whose checkpoint is missing). A step equal to the one a trial ended on is its final
    evaluation (``latest.pt`` is that checkpoint): no job, the aggregation takes eval.json."""
    jobs, records = [], []
    if spec.curve is None:
        return jobs, records
    evaluation = _evaluation(spec, episode_steps)
    for trial in spec.trials:
        if trial.condition not in spec.curve.conditions or trial.key not in evals:
            continue
        run_dir = (out / trial.relative_dir).resolve()
        for step in spec.curve.steps:
            if step == evals[trial.key].get("checkpoint_step"):
                continue
            point = {"key": trial.key, "condition": trial.condition, "seed": trial.seed, "step": step}
            checkpoint = run_dir / "checkpoints" / f"step_{step}.pt"
            if not checkpoint.is_file():
                error = missing_checkpoint_line(trial.key, run_dir, step)
                records.append({**point, "status": "failed", "missing": True, "error": error})
                continue
            sha = checkpoint_sha256(checkpoint)
            fingerprint = spec.curve_fingerprint(step, episode_steps, sha)
            _add_point(jobs, records, point, curve_point_file(run_dir, step), fingerprint, sha, evaluation)
    return jobs, records


def _add_point(
    jobs: list, records: list, point: dict, path: Path, fingerprint: str, sha: str, evaluation: dict
) -> None:
    """A curve point or transfer evaluation (``point``: key, condition, seed, step or transfer) whose record
    belongs at ``path``: its record when that file carries ``fingerprint`` (finished before), else a job."""
    done = finished_point(path, fingerprint)
    if done is not None:
        records.append({**point, "status": "skipped", "action": "finished before", "eval": done})
        return
    run_dir = str(path.parent.parent)  # <trial>/curve/step_<N>.json, <trial>/transfer/<name>.json
    jobs.append({**point, "run_dir": run_dir, "fingerprint": fingerprint, "checkpoint_sha256": sha, "eval": evaluation})


def _point_words(point: dict) -> tuple[str, str, str]:
    """(its word on stderr, where, its name in an error) of a curve point's or transfer evaluation's job or record."""
    if "transfer" in point:
        return "transfer", f"{point['key']} in {point['transfer']}", f"transfer {point['transfer']}"
    return "curve", f"{point['key']} step {point['step']}", f"curve point at step {point['step']}"


def _print_point(record: dict) -> None:
    word, where, _ = _point_words(record)
    status = record["error"] if record["status"] == "failed" else record["action"]
    print(f"{word} {where:<40} {record['status']:<8} {status}", file=sys.stderr, flush=True)


def _run_points_on_ray(ray, jobs: list[dict], args, evaluate=run_curve_point) -> list[dict]:
    """Each checkpoint evaluation (curve points: ``run_curve_point``; transfers: ``run_transfer_point``) as a Ray
    task of one CPU (an evaluation, like a trial's last part); their records."""
    if ray.cluster_resources().get("CPU", 0) < 1:
        raise UsageError("evaluating checkpoints needs 1 CPU per task; the Ray cluster has less than 1")

    def died(job: dict, error: str) -> dict:
        point = {k: job[k] for k in ("key", "condition", "seed", "step", "transfer") if k in job}
        return {**point, "status": "failed", "error": f"trial {job['key']}, {_point_words(job)[2]}: {error}"}

    task = ray.remote(num_cpus=1, max_retries=1)(evaluate)
    return _run_tasks(
        ray, task, jobs, args.max_concurrent or len(jobs), died=died, returned=lambda job, record: _print_point(record)
    )


def _transfer_jobs(
    spec: SweepSpec, transfer: TransferSpec, out: Path, evals: dict[str, dict], episode_steps: int
) -> tuple[list[dict], list[dict]]:
    """A transfer's evaluations of the finished trials' final checkpoints (``evals`` by trial key): (jobs to
    evaluate, records of those finished before)."""
    jobs, records = [], []
    evaluation = _evaluation(spec, episode_steps, transfer.eval)
    for trial in spec.trials:
        if trial.condition not in transfer.conditions or trial.key not in evals:
            continue
        run_dir = (out / trial.relative_dir).resolve()
        sha = evals[trial.key]["checkpoint_sha256"]
        fingerprint = spec.transfer_fingerprint(transfer, episode_steps, sha)
        point = {"key": trial.key, "condition": trial.condition, "seed": trial.seed, "transfer": transfer.name}
        _add_point(jobs, records, point, transfer_point_file(run_dir, transfer.name), fingerprint, sha, evaluation)
    return jobs, records


def _job(spec: SweepSpec, trial, out: Path, episode_steps: int) -> dict:
    return {
        "key": trial.key,
        "condition": trial.condition,
        "seed": trial.seed,
        "run_dir": str((out / trial.relative_dir).resolve()),
        "config": spec.config,
        "overrides": list(trial.overrides),
        "fingerprint": spec.fingerprint(trial),
        "eval": _evaluation(spec, episode_steps),
    }


def _evaluation(spec: SweepSpec, episode_steps: int, evaluation: EvalSpec | None = None) -> dict:
    """What a trial's final evaluation and every curve point run (``trial.evaluate_checkpoint``), or with a
    transfer's ``evaluation`` what its evaluations and references run."""
    evaluation = evaluation or spec.eval
    return {
        "world": evaluation.world,
        "task": evaluation.task,
        "maze_seeds": evaluation.maze_seeds,
        "episode_steps": episode_steps,
    }


def write_results(
    spec: SweepSpec,
    out: Path,
    records: dict[str, dict],
    failed: list[dict],
    extra: dict,
    references: dict[str, dict] | None = None,
    curve_records: list[dict] | None = None,
    transfers: dict[str, dict] | None = None,
) -> dict:
    """results.json and results.csv from the finished trials' eval records (``records`` by trial key), the
    finished references' (``references`` by reference name; listed in the spec's order), for a spec
    with a ``curve`` the curve points' records (``curve_records``: status, key, step, eval or error) and for
    one with ``transfer`` entries, by name, their episode length, evaluations' records and references' evals."""
    finished = [
        {"condition": t.condition, "seed": t.seed, "eval": records[t.key]} for t in spec.trials if t.key in records
    ]
    references = references or {}
    evaluated = {name: references[name]["result"] for name in spec.reference_names if name in references}
    aggregated = aggregate(spec.conditions, spec.baseline, spec.eval.task, finished, evaluated)
    for row in aggregated["trials"]:
        trial = next(t for t in spec.trials if t.condition == row["condition"] and t.seed == row["seed"])
        row["dir"] = trial.relative_dir
        row["checkpoint_step"] = records[trial.key].get("checkpoint_step")
    curve = _curve_results(spec, records, curve_records or [])
    points = [r["eval"] for r in curve_records or [] if r["status"] != "failed"]
    transfer = _transfer_results(spec, records, transfers or {})
    for entry in (transfers or {}).values():
        points += [r["eval"] for r in entry["records"] if r["status"] != "failed"]
        points += list(entry["references"].values())
    stamped = [*records.values(), *(references[name] for name in evaluated), *points]
    measured = sorted({(r.get("commit", "unknown"), bool(r.get("dirty"))) for r in stamped})
    dates = sorted(r.get("date", "") for r in stamped)
    results = {
        "sweep": spec.name,
        "description": spec.description,
        "spec_path": spec.path,
        "spec": spec.raw,
        **git_stamp(),
        "date": utc_now(),
        "measured_commits": [{"commit": c, "dirty": d} for c, d in measured],
        "measured_from": dates[0] if dates else None,
        "measured_to": dates[-1] if dates else None,
        "conditions": list(spec.conditions),
        "baseline": spec.baseline,
        "seeds": list(spec.seeds),
        "n_trials": len(spec.trials),
        "n_finished": len(finished),
        "n_references": len(spec.references),
        "n_references_finished": len(evaluated),
        "failed": failed,
        **extra,
        **aggregated,
        "curve": curve,
        "transfer": transfer,
    }
    write_json_atomic(out / "results.json", results)
    write_text_atomic(out / "results.csv", results_csv(aggregated, curve, transfer))
    return results


def _transfer_results(spec: SweepSpec, records: dict[str, dict], transfers: dict[str, dict]) -> dict:
    """Per transfer (by name, in spec order): its evaluation, what was done, the failures, and :func:`aggregate`
    over its finished evaluations and references (paired against the spec's baseline when it is among the
    transfer's conditions, else its first condition)."""
    results = {}
    for transfer in spec.transfer:
        entry = transfers.get(transfer.name, {"episode_steps": None, "records": [], "references": {}})
        ordered = sorted(entry["records"], key=lambda r: r["key"])
        finished = [
            {"condition": r["condition"], "seed": r["seed"], "eval": r["eval"]}
            for r in ordered
            if r["status"] != "failed"
        ]
        baseline = spec.baseline if spec.baseline in transfer.conditions else transfer.conditions[0]
        references = {
            n.name: entry["references"][n.name]["result"] for n in transfer.references if n.name in entry["references"]
        }
        requested = [t for t in spec.trials if t.condition in transfer.conditions and t.key in records]
        results[transfer.name] = {
            "eval": {
                **transfer.eval.as_dict(),
                "maze_seeds": transfer.eval.maze_seeds,
                "episode_steps_used": entry["episode_steps"],
            },
            "conditions": list(transfer.conditions),
            "baseline": baseline,
            "n_trials": len(requested),  # the finished trials of its conditions
            "n_finished": len(finished),
            "n_references": len(transfer.references),
            "n_references_finished": len(references),
            "failed": [
                {"trial": r["key"], "missing": bool(r.get("missing")), "error": r["error"]}
                for r in ordered
                if r["status"] == "failed"
            ],
            "actions": {r["key"]: r.get("action", "failed") for r in ordered},
            "reference_actions": entry.get("reference_actions", {}),
            **aggregate(transfer.conditions, baseline, transfer.eval.task, finished, references),
        }
    return results


def _curve_results(spec: SweepSpec, records: dict[str, dict], curve_records: list[dict]) -> dict | None:
    """The learning curve of results.json: each curve condition's finished trials at every kept step evaluated
    (``curve/step_<N>.json``) and at the step they ended on (eval.json), aggregated per step; the points
    that failed; what was done with each point. None for a spec without ``curve``."""
    if spec.curve is None:
        return None
    points = []
    for trial in spec.trials:
        if trial.condition in spec.curve.conditions and trial.key in records:
            final = records[trial.key]
            step = final.get("checkpoint_step")
            if step is not None:
                point = {"condition": trial.condition, "seed": trial.seed, "step": step, "final": True}
                points.append({**point, "result": final["result"]})
    ordered = sorted(curve_records, key=lambda r: (r["key"], r["step"]))
    for record in ordered:
        if record["status"] != "failed":
            points.append(
                {
                    "condition": record["condition"],
                    "seed": record["seed"],
                    "step": record["step"],
                    "final": False,
                    "result": record["eval"]["result"],
                }
            )
    finished_trials = [t for t in spec.trials if t.condition in spec.curve.conditions and t.key in records]
    requested = sum(
        1 for t in finished_trials for step in spec.curve.steps if step != records[t.key].get("checkpoint_step")
    )
    return {
        "steps": list(spec.curve.steps),
        "requested_conditions": list(spec.curve.conditions),
        "n_points": requested,  # kept checkpoints asked for, the final evaluations aside
        "n_points_finished": sum(1 for r in curve_records if r["status"] != "failed"),
        "failed": [
            {"trial": r["key"], "step": r["step"], "missing": bool(r.get("missing")), "error": r["error"]}
            for r in ordered
            if r["status"] == "failed"
        ],
        "actions": {f"{r['key']}@{r['step']}": r.get("action", "failed") for r in ordered},
        **curve_summary(spec.curve.conditions, spec.baseline, spec.eval.task, points),
    }


def run(args: argparse.Namespace) -> int:
    _checked_args(args)
    spec = load_spec(args.spec)
    out = Path(args.out or Path("runs") / "sweeps" / spec.name)
    start = time.time()
    finished = _check_folders(spec, out)
    pending = [t for t in spec.trials if t.key not in finished]
    table = ProgressTable(spec, out)
    for key in finished:
        table.set(key, "skipped")
    references = f" (and {len(spec.references)} reference policies)" if spec.references else ""
    print(
        f"sweep {spec.name}: {len(spec.conditions)} conditions x {len(spec.seeds)} seeds = {len(spec.trials)} trials "
        f"in {out}; {len(finished)} finished before, {len(pending)} to run{references}",
        file=sys.stderr,
        flush=True,
    )
    ray_info = {"address": args.address or "local", "cpus_per_trial": args.cpus_per_trial}
    ray_info.update(gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent)
    records = []
    if args.collect:
        if not finished:
            raise UsageError(f"--collect: no trial of {spec.name} has finished in {out}; nothing to aggregate")
        print(f"--collect: aggregating {len(finished)} finished trial(s); {len(pending)} not run", file=sys.stderr)
        pending = []
    ray, started = None, False
    try:
        if pending:
            ray = _import_ray()  # a missing Ray or an unreachable cluster fails before the episode length is measured
            started = _start_ray(ray, args)
            ray_info["version"] = ray.__version__
            _check_resources(ray, args)
        episode_steps = _episode_steps(spec, out)
        if pending:
            jobs = [_job(spec, t, out, episode_steps) for t in pending]
            table.draw()
            records = _run_on_ray(ray, jobs, args, table)
        table.draw(final=True)
        evals = dict(finished)
        failed = []
        for record in records:
            key = f"{record['condition']}/seed_{record['seed']}"
            if record["status"] == "failed":
                failed.append({"trial": key, "error": record.get("error")})
            else:
                evals[key] = record["eval"]
        point_jobs, point_records = _curve_jobs(spec, out, evals, episode_steps)  # of the finished trials only
        if spec.curve is not None:
            missing = [r for r in point_records if r["status"] == "failed"]
            print(
                f"curve: {len(point_records) - len(missing)} point(s) finished before, {len(missing)} without their "
                f"checkpoint, {len(point_jobs)} " + ("not evaluated (--collect)" if args.collect else "to evaluate"),
                file=sys.stderr,
                flush=True,
            )
            for record in missing:
                _print_point(record)
        if point_jobs and not args.collect:
            if ray is None:
                ray = _import_ray()
                started = _start_ray(ray, args)
                ray_info["version"] = ray.__version__
            point_records += _run_points_on_ray(ray, point_jobs, args)
        transfer_steps, transfer_records, transfer_jobs = {}, [], []
        for transfer in spec.transfer:  # of the finished trials only
            transfer_steps[transfer.name] = _episode_steps(spec, out / transfer.relative_dir, transfer.eval)
            jobs, done = _transfer_jobs(spec, transfer, out, evals, transfer_steps[transfer.name])
            print(
                f"transfer {transfer.name} ({transfer.eval.world}): {len(done)} evaluation(s) finished before, "
                f"{len(jobs)} " + ("not evaluated (--collect)" if args.collect else "to evaluate"),
                file=sys.stderr,
                flush=True,
            )
            transfer_records += done
            transfer_jobs += jobs
        if transfer_jobs and not args.collect:
            if ray is None:
                ray = _import_ray()
                started = _start_ray(ray, args)
                ray_info["version"] = ray.__version__
            transfer_records += _run_points_on_ray(ray, transfer_jobs, args, run_transfer_point)
    finally:
        if started:
            ray.shutdown()
    reference_records = _run_references(spec, out, episode_steps, collect=args.collect)  # after Ray: workers gone
    reference_evals = {}
    by_name = {reference.name: reference for reference in spec.references}
    for record in reference_records:  # one per reference (with --collect: the finished ones only)
        if record["status"] == "failed":
            failed.append({"trial": by_name[record["reference"]].relative_dir, "error": record.get("error")})
        else:
            reference_evals[record["reference"]] = record["eval"]
    transfers = {}
    for transfer in spec.transfer:
        steps = transfer_steps[transfer.name]
        refs = _run_references(spec, out, steps, collect=args.collect, transfer=transfer)
        by_name = {reference.name: reference for reference in transfer.references}
        for record in refs:
            if record["status"] == "failed":
                where = f"{transfer.relative_dir}/{by_name[record['reference']].relative_dir}"
                failed.append({"trial": where, "error": record.get("error")})
        transfers[transfer.name] = {
            "episode_steps": steps,
            "records": [r for r in transfer_records if r["transfer"] == transfer.name],
            "references": {r["reference"]: r["eval"] for r in refs if r["status"] != "failed"},
            "reference_actions": {r["reference"]: r.get("action", "failed") for r in refs},
        }
    extra = {
        "eval": {**spec.eval.as_dict(), "maze_seeds": spec.eval.maze_seeds, "episode_steps_used": episode_steps},
        "ray": ray_info,
        "wall_s": round(time.time() - start, 3),
        "trial_actions": {
            **{key: "finished before" for key in finished},
            **{f"{r['condition']}/seed_{r['seed']}": r.get("action") for r in records},
        },
        "reference_actions": {r["reference"]: r.get("action", "failed") for r in reference_records},
    }
    results = write_results(spec, out, evals, failed, extra, reference_evals, point_records, transfers)
    metric = "food_per_1000" if "food_per_1000" in results["metrics"] else results["metrics"][0]  # the task's figure
    for condition, entry in results["summary"].items():
        ci = entry["metrics"][metric]
        if ci:
            print(f"  {condition:<30} {metric} {ci['mean']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]  (n={ci['n']})")
    for name, entry in results["reference_summary"].items():
        ci = entry["metrics"][metric]
        print(f"  {name:<30} {metric} {ci['mean']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]  (n={ci['n']}, reference)")
    curve = results["curve"]
    for condition, points in (curve or {}).get("curve", {}).items():
        figures = []
        for point in points:
            ci = point["metrics"][metric]
            figures.append(
                f"{point['step']}{'*' if point['final'] else ''}: {ci['mean']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"
            )
        print(f"  curve {condition:<24} {metric} " + "; ".join(figures) + "  (* final)")
    for name, entry in results["transfer"].items():
        for condition, summary in [*entry["summary"].items(), *entry["reference_summary"].items()]:
            ci = summary["metrics"][metric]
            if ci:
                what = "reference" if condition in entry["reference_summary"] else f"{ci['n']} seed x maze cells"
                print(
                    f"  {name}: {condition:<24} {metric} {ci['mean']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]  ({what})"
                )
    print(f"results: {out / 'results.json'}, {out / 'results.csv'} ({results['n_finished']}/{len(spec.trials)} trials)")
    crashed = [f for f in (curve or {}).get("failed", []) if not f["missing"]]  # a missing checkpoint stays missing
    unmoved = [f for entry in results["transfer"].values() for f in entry["failed"]]
    if unmoved and not failed and not crashed:
        raise SweepIncomplete(
            f"{len(unmoved)} transfer evaluation(s) failed (first: {unmoved[0]['error']}); the others are in "
            f"{out / 'results.json'}; re-run the same command to retry"
        )
    if crashed and not failed:
        raise SweepIncomplete(
            f"{len(crashed)} of {curve['n_points']} curve points failed (first: {crashed[0]['error']}); the others "
            f"are in {out / 'results.json'}; re-run the same command to retry"
        )
    if failed:
        total = len(spec.trials) + len(spec.references)
        what = "trials and references" if spec.references else "trials"
        raise SweepIncomplete(
            f"{len(failed)} of {total} {what} failed (first: {failed[0]['trial']}: {failed[0]['error']}); "
            f"the others are in {out / 'results.json'}; re-run the same command to retry"
        )
    return 0
