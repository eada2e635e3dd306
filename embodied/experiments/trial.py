"""One trial of a sweep: train into an ordinary run folder, then evaluate its last checkpoint on held-out mazes;
and one reference of a sweep: an untrained policy evaluated on the same mazes.

The trial folder ``OUT/trials/<condition>/seed_<n>/`` is a run folder like any other (``embodied
eval``, ``embodied plot`` and ``embodied train --resume`` accept it) plus three small files:

    trial.json   who the trial is (condition, seed, overrides, the spec's fingerprint); written first
    train.json   written when training returned: its summary, wall-clock, the step it resumed from
    eval.json    written last: the evaluation of ``checkpoints/latest.pt`` and that file's SHA-256
                 (its held-out mazes side by side, up to 8 at once as ``embodied eval`` runs them)

A trial is *finished* when eval.json parses, carries this trial's fingerprint and names the SHA-256
of the checkpoint that is there now (:func:`finished_record`). A re-run skips finished trials,
evaluates trained ones (train.json present) and resumes the rest with ``train(resume=True)`` from
their newest checkpoint (``embodied.train.loop.train`` picks latest.pt, else the newest step_<N>.pt).

:func:`run_trial` takes and returns plain dicts so that a Ray task can run it on any node; it never
raises for a failed trial: the record says ``failed`` with the one-line reason (and ``error.txt``
holds the traceback of anything that is not a user error).

A reference (``random``, ``wander``, ``reflex:<name>``; ``grid.Reference``) has a folder
``OUT/references/<name, ':' as '-'>/`` holding only ``eval.json`` (and ``error.txt`` after a crash):
its figures on the held-out mazes, the fingerprint of what it was evaluated with (name, evaluation,
episode length, env settings), the commit and date. :func:`run_reference` skips a reference whose
eval.json parses and carries that fingerprint (:func:`finished_reference`); otherwise it evaluates
it again, which takes seconds to minutes: no training, and the policy's step costs next to nothing.

A curve point (the spec's ``curve``; ``grid.CurveSpec``) is one kept checkpoint of a finished trial,
``checkpoints/step_<N>.pt``, evaluated exactly as the trial's final evaluation is (:func:`evaluate_checkpoint`:
the same mazes, episode length and batching) into ``curve/step_<N>.json`` in the trial folder. Its
fingerprint is the evaluation, the step and the checkpoint's SHA-256 (read from ``step_<N>.pt.sha256``,
which the checkpoint loader checks the file against before evaluating): :func:`run_curve_point` skips a
point whose file carries it. A checkpoint that is not there (not kept, or the run ended earlier) is a
one-line failure naming the trial and the file (:func:`missing_checkpoint_line`), never a traceback.

A transfer evaluation (the spec's ``transfer``; ``grid.TransferSpec``) is a finished trial's final checkpoint,
``checkpoints/latest.pt``, evaluated without further training in another world into
``transfer/<name>.json`` in the trial folder (:func:`run_transfer_point`), with the same batching; its
fingerprint is the transfer's evaluation and the checkpoint's SHA-256 from the trial's eval.json, and a
checkpoint that no longer has that digest (retrained since) is a one-line failure.
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
import traceback
from pathlib import Path

from embodied.errors import UserError

from .files import git_stamp, read_json_or_none, utc_now, write_json_atomic, write_text_atomic

TRIAL_FILE, TRAIN_FILE, EVAL_FILE, ERROR_FILE = "trial.json", "train.json", "eval.json", "error.txt"
CURVE_DIR = "curve"  # in a trial folder: one step_<N>.json per learning-curve point
TRANSFER_DIR = "transfer"  # in a trial folder: one <name>.json per transfer evaluation


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def kept_steps(run_dir) -> list[int]:
    """The steps N of the ``checkpoints/step_<N>.pt`` in a run folder, ascending."""
    return sorted(
        int(m.group(1))
        for p in Path(run_dir, "checkpoints").glob("step_*.pt")
        if (m := re.fullmatch(r"step_(\d+)\.pt", p.name))
    )


def checkpoint_step(run_dir) -> int | None:
    """The step of the newest ``checkpoints/step_<N>.pt`` (what a resumed run continues from), else None."""
    steps = kept_steps(run_dir)
    return steps[-1] if steps else None


def checkpoint_sha256(path) -> str:
    """A checkpoint's SHA-256: the one digest recorded beside it (``X.pt.sha256``, which loading checks the
    file against), else the file hashed (no digest file, or a write was cut between old and new digests)."""
    from embodied.train.checkpoint import CheckpointError, recorded_digests

    try:
        digests = recorded_digests(path)
    except CheckpointError:
        digests = []
    return digests[0] if len(digests) == 1 else file_sha256(path)


def last_logged_step(run_dir) -> int | None:
    """The ``step`` of metrics.csv's last row (the progress table's figure), else None."""
    try:
        with open(Path(run_dir, "metrics.csv"), "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return None
    if len(lines) < 2:
        return None
    try:
        return int(float(lines[-1].split(",", 1)[0]))
    except ValueError:
        return None


def finished_record(run_dir, fingerprint: str) -> dict | None:
    """eval.json's content when the trial is finished and verified, else None."""
    run_dir = Path(run_dir)
    record = read_json_or_none(run_dir / EVAL_FILE)
    if record is None or record.get("fingerprint") != fingerprint or not isinstance(record.get("result"), dict):
        return None
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    if not checkpoint.is_file() or record.get("checkpoint_sha256") != file_sha256(checkpoint):
        return None
    return record


def recorded_fingerprint(run_dir) -> str | None:
    """The fingerprint a trial folder was started with (trial.json), None for a folder no sweep started."""
    record = read_json_or_none(Path(run_dir) / TRIAL_FILE)
    return record.get("fingerprint") if record else None


def _has_run(run_dir: Path) -> bool:
    return any((run_dir / name).exists() for name in ("metrics.csv", "checkpoints", "config.json"))


def _train(job: dict, run_dir: Path) -> dict:
    """Train (or resume) unless train.json says training returned for this fingerprint."""
    done = read_json_or_none(run_dir / TRAIN_FILE)
    if done and done.get("fingerprint") == job["fingerprint"] and (run_dir / "checkpoints" / "latest.pt").is_file():
        return {"action": "trained before", **done}
    from embodied.train.config import load_config
    from embodied.train.loop import train

    cfg = load_config(job["config"], overrides=list(job["overrides"]))
    resume = _has_run(run_dir)
    resumed_from = checkpoint_step(run_dir) if resume else None
    start = time.time()
    summary = train(cfg, run_dir, resume=resume, progress=False)
    record = {
        "fingerprint": job["fingerprint"],
        "resumed_from_step": resumed_from,
        "wall_s": round(time.time() - start, 3),
        "date": utc_now(),
        "summary": {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool))},
    }
    write_json_atomic(run_dir / TRAIN_FILE, record)
    return {"action": f"resumed from step {resumed_from}" if resume else "trained", **record}


def evaluate_checkpoint(checkpoint: Path, evaluation: dict, device: str = "cpu") -> dict:
    """``evaluate_policy``'s result for one trained checkpoint on the sweep's held-out mazes: what a trial's
    final evaluation and every curve point run, so the two are measured alike. ``evaluation``: world,
    task, maze_seeds, episode_steps (a number: ``auto`` resolved by the command)."""
    from embodied.train.evaluate import DEFAULT_BATCH, evaluate_policy, limit_threads, policy_factory

    limit_threads(1)  # embodied eval's default: one thread is fastest for per-step forward passes
    make, env_kwargs = policy_factory(str(checkpoint), device)  # env settings from the run's config.json
    return evaluate_policy(
        make,
        evaluation["world"],
        evaluation["task"],
        evaluation["maze_seeds"],
        int(evaluation["episode_steps"]),
        env_kwargs=env_kwargs,
        batch=DEFAULT_BATCH,  # the mazes side by side: one agent step for all of them (docs/benchmarks.md)
    )


def _evaluate(job: dict, run_dir: Path) -> dict:
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    sha = file_sha256(checkpoint)  # before evaluating: the figures belong to this file
    result = evaluate_checkpoint(checkpoint, job["eval"], job.get("device", "cpu"))
    record = {
        "fingerprint": job["fingerprint"],
        "condition": job["condition"],
        "seed": job["seed"],
        "checkpoint": "checkpoints/latest.pt",
        "checkpoint_sha256": sha,
        "checkpoint_step": checkpoint_step(run_dir),
        "date": utc_now(),
        **git_stamp(),  # the code that measured it (a resumed sweep may mix commits; results.json lists them)
        "result": result,
    }
    write_json_atomic(run_dir / EVAL_FILE, record)
    return record


def failure_line(err: Exception, folder: Path) -> str:
    """One line for a trial's or reference's failure: a user error's own lines joined; any other
    exception is a bug, so its traceback is kept in ``folder/error.txt`` and the line points there."""
    if isinstance(err, UserError):
        message = " | ".join(line.strip() for line in str(err).strip().splitlines() if line.strip())
        return message or type(err).__name__
    write_text_atomic(folder / ERROR_FILE, traceback.format_exc())
    return f"{type(err).__name__}: {err} (traceback in {folder / ERROR_FILE})"


def run_trial(job: dict) -> dict:
    """Train and evaluate one trial described by ``job`` (plain data, see ``sweep.py``); returns its record.

    ``job``: condition, seed, run_dir (absolute), config (base config path or None), overrides,
    fingerprint, eval {world, task, maze_seeds, episode_steps}."""
    run_dir = Path(job["run_dir"])
    record = {"condition": job["condition"], "seed": job["seed"], "status": "failed", "error": None}
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ERROR_FILE).unlink(missing_ok=True)
        done = finished_record(run_dir, job["fingerprint"])
        if done is not None:
            return {**record, "status": "skipped", "action": "finished before", "eval": done}
        identity = {k: job[k] for k in ("condition", "seed", "overrides", "config", "fingerprint")}
        # rewritten at every start: its mtime tells the progress table the trial left Ray's queue
        write_json_atomic(run_dir / TRIAL_FILE, {**identity, "started": utc_now(), "host": socket.gethostname()})
        trained = _train(job, run_dir)
        evaluated = _evaluate(job, run_dir)
        return {**record, "status": "done", "action": trained["action"], "train": trained, "eval": evaluated}
    except Exception as err:
        return {**record, "error": failure_line(err, run_dir)}


def finished_reference(ref_dir, fingerprint: str) -> dict | None:
    """A reference's eval.json content when it parses and carries ``fingerprint``, else None."""
    record = read_json_or_none(Path(ref_dir) / EVAL_FILE)
    if record is None or record.get("fingerprint") != fingerprint or not isinstance(record.get("result"), dict):
        return None
    return record


def run_reference(job: dict) -> dict:
    """Evaluate the reference policy ``job["reference"]`` on the sweep's held-out mazes unless its eval.json is
    finished; returns its record (status ``skipped``, ``done`` or ``failed`` with a one-line ``error``).

    ``job``: reference (a name of ``embodied.brain.policies.REFERENCE_POLICIES`` or an oracle of
    ``embodied.train.evaluate.ORACLES``), run_dir (absolute),
    fingerprint, env_kwargs, eval {world, task, maze_seeds, episode_steps}. Each maze gets a fresh policy
    seeded by the maze seed and up to 8 mazes run side by side (``policy_factory``, ``evaluate_policy``)."""
    ref_dir = Path(job["run_dir"])
    record = {"reference": job["reference"], "status": "failed", "error": None}
    try:
        ref_dir.mkdir(parents=True, exist_ok=True)
        (ref_dir / ERROR_FILE).unlink(missing_ok=True)
        done = finished_reference(ref_dir, job["fingerprint"])
        if done is not None:
            return {**record, "status": "skipped", "action": "finished before", "eval": done}
        from embodied.train.evaluate import DEFAULT_BATCH, evaluate_policy, policy_factory

        evaluation = job["eval"]
        make, _ = policy_factory(job["reference"])
        start = time.time()
        result = evaluate_policy(
            make,
            evaluation["world"],
            evaluation["task"],
            evaluation["maze_seeds"],
            int(evaluation["episode_steps"]),
            env_kwargs=dict(job["env_kwargs"]),
            batch=DEFAULT_BATCH,
        )
        evaluated = {
            "fingerprint": job["fingerprint"],
            "reference": job["reference"],
            "env_kwargs": job["env_kwargs"],
            "date": utc_now(),
            **git_stamp(),
            "result": result,
        }
        write_json_atomic(ref_dir / EVAL_FILE, evaluated)
        return {**record, "status": "done", "action": f"evaluated in {time.time() - start:.1f} s", "eval": evaluated}
    except Exception as err:
        return {**record, "error": failure_line(err, ref_dir)}


def curve_point_file(run_dir, step: int) -> Path:
    return Path(run_dir) / CURVE_DIR / f"step_{int(step)}.json"


def missing_checkpoint_line(key: str, run_dir, step: int) -> str:
    """Why a curve point cannot be evaluated: its checkpoint is not in the trial folder; says what is."""
    kept = kept_steps(run_dir)
    last = kept[-1] if kept else None
    if last is not None and step > last:
        why = f"the run ended at step {last}"
    else:
        kept_now = ", ".join(f"step_{n}.pt" for n in kept) or "none"
        why = f"not kept: see keep_checkpoints and checkpoint_every; kept: {kept_now}"
    return f"trial {key}: no checkpoints/step_{int(step)}.pt for the curve point at step {int(step)} ({why})"


def finished_point(path, fingerprint: str) -> dict | None:
    """A curve point's or transfer evaluation's record when it parses and carries ``fingerprint``, else None."""
    record = read_json_or_none(path)
    if record is None or record.get("fingerprint") != fingerprint or not isinstance(record.get("result"), dict):
        return None
    return record


def run_curve_point(job: dict) -> dict:
    """Evaluate one kept checkpoint of a finished trial (``job["step"]``) unless its point file is finished;
    returns the record (status ``skipped``, ``done`` or ``failed`` with a one-line ``error``).

    ``job``: key (``condition/seed_<n>``), condition, seed, step, run_dir (absolute), fingerprint
    (``SweepSpec.curve_fingerprint``), eval {world, task, maze_seeds, episode_steps}."""
    run_dir, step = Path(job["run_dir"]), int(job["step"])

    def missing() -> str | None:
        if (run_dir / "checkpoints" / f"step_{step}.pt").is_file():
            return None
        return missing_checkpoint_line(job["key"], run_dir, step)

    return _run_point(
        job,
        f"checkpoints/step_{step}.pt",
        curve_point_file(run_dir, step),
        {"step": step},
        f"curve point at step {step}",
        missing,
    )


def transfer_point_file(run_dir, name: str) -> Path:
    return Path(run_dir) / TRANSFER_DIR / f"{name}.json"


def run_transfer_point(job: dict) -> dict:
    """Evaluate a finished trial's final checkpoint (``checkpoints/latest.pt``) in a transfer's world unless its
    ``transfer/<name>.json`` is finished; returns the record (status ``skipped``, ``done`` or ``failed``).

    ``job``: key, condition, seed, transfer (its name), run_dir (absolute), fingerprint
    (``SweepSpec.transfer_fingerprint``), checkpoint_sha256 (the trial's eval.json's), eval {world, task,
    maze_seeds, episode_steps}."""
    run_dir, name = Path(job["run_dir"]), job["transfer"]

    def missing() -> str | None:
        checkpoint = run_dir / "checkpoints" / "latest.pt"
        if checkpoint.is_file() and file_sha256(checkpoint) == job["checkpoint_sha256"]:
            return None
        return (
            f"trial {job['key']}: checkpoints/latest.pt is not the checkpoint its eval.json evaluated "
            f"(missing, or trained again since); re-run the sweep to evaluate the trial again"
        )

    return _run_point(
        job,
        "checkpoints/latest.pt",
        transfer_point_file(run_dir, name),
        {"transfer": name},
        f"transfer {name}",
        missing,
    )


def _run_point(job: dict, checkpoint: str, path: Path, identity: dict, label: str, missing) -> dict:
    """Evaluate ``run_dir/checkpoint`` with ``job["eval"]`` into ``path`` (a curve point or a transfer
    evaluation) unless ``path`` carries ``job["fingerprint"]``; ``missing()`` says why the checkpoint cannot
    be evaluated (None: it can)."""
    run_dir = Path(job["run_dir"])
    record = {"key": job["key"], "condition": job["condition"], "seed": job["seed"], **identity}
    record.update(status="failed", error=None)
    try:
        done = finished_point(path, job["fingerprint"])
        if done is not None:
            return {**record, "status": "skipped", "action": "finished before", "eval": done}
        why = missing()
        if why is not None:
            return {**record, "error": why, "missing": True}
        start = time.time()
        result = evaluate_checkpoint(run_dir / checkpoint, job["eval"], job.get("device", "cpu"))
        evaluated = {
            "fingerprint": job["fingerprint"],
            "condition": job["condition"],
            "seed": job["seed"],
            **identity,
            "checkpoint": checkpoint,
            "checkpoint_sha256": job["checkpoint_sha256"],
            "date": utc_now(),
            **git_stamp(),
            "result": result,
        }
        write_json_atomic(path, evaluated)
        return {**record, "status": "done", "action": f"evaluated in {time.time() - start:.1f} s", "eval": evaluated}
    except Exception as err:
        where = path.parent  # a traceback beside the points, not over the trial's own error.txt
        return {**record, "error": f"trial {job['key']}, {label}: " + failure_line(err, where)}
