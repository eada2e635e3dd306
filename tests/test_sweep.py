"""`embodied sweep`: a real 2 x 2 grid of tiny trainings on a real local Ray instance, resumed after damage,
with two reference policies (random actions, one innate reflex alone) evaluated on the same held-out mazes,
and a learning curve added to the finished sweep (its trials keep step_32.pt beside the final step_64.pt).

One Ray instance for the module (started by the command's own starter), one sweep shared by the
tests; each test that changes folders works on a copy (``shutil.copytree`` keeps mtimes).
"""

import argparse
import ast
import csv
import json
import pathlib
import re
import shutil
import sys

import pytest
import ray
from tiny import TINY_INTRINSIC, TINY_WORLD_MODEL

from embodied.cli import main
from embodied.experiments import sweep as sweep_command

TINY_SET = [
    "num_envs=1",
    "vision_size=16",
    "total_steps=64",
    "episode_steps=32",
    "rollout_steps=32",
    "learning_starts=16",
    "log_every=32",
    "checkpoint_every=32",
    "keep_checkpoints=4",
    "video_every=0",
    "tensorboard=false",
    "min_age=16",
    "device=cpu",
    "critic_units=32",
    "actor_units=16",
    "world_model_overrides=" + json.dumps(TINY_WORLD_MODEL),
    "intrinsic_overrides=" + json.dumps(TINY_INTRINSIC),
]

SPEC = {
    "name": "tiny",
    "description": "two conditions, two seeds, two held-out mazes",
    "set": TINY_SET,
    "conditions": [{"name": "full", "set": []}, {"name": "no_intrinsic", "set": ["intrinsic=false"]}],
    "seeds": [0, 1],
    "eval": {"world": "procedural:9x9", "task": "explore", "mazes": 2, "episode_steps": 32},
    "references": ["random", "reflex:wall_follow_left"],
}
TRIALS = ["full/seed_0", "full/seed_1", "no_intrinsic/seed_0", "no_intrinsic/seed_1"]
REFERENCES = {"random": "references/random", "reflex:wall_follow_left": "references/reflex-wall_follow_left"}


CURVE = {"steps": [32, 64, 96]}  # 32 kept, 64 the final evaluation, 96 beyond the run's end
#: the full condition's final checkpoints in a smaller world, beside random actions there
TRANSFER = [
    {"world": "procedural:7x7", "mazes": 2, "episode_steps": 32, "conditions": ["full"], "references": ["random"]}
]


def run_logged(args: list[str], capture: pathlib.Path) -> str:
    """``embodied ARGS`` with stderr written to ``capture``; it must exit 0 (a missing checkpoint is a line, not a
    failed sweep); returns what it wrote."""
    with open(capture, "w") as stream:
        saved, sys.stderr = sys.stderr, stream
        try:
            rc = main(args)
        finally:
            sys.stderr = saved
    assert rc == 0, capture.read_text()
    return capture.read_text()


def write_spec(folder: pathlib.Path, spec: dict, name: str = "spec.json") -> pathlib.Path:
    path = folder / name
    path.write_text(json.dumps(spec, indent=2))
    return path


@pytest.fixture(scope="module")
def local_ray():
    """The command's own local start (no dashboard, a small object store, the machine's cores), once per module."""
    assert sweep_command._start_ray(ray, argparse.Namespace(address=None))
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def swept(local_ray, tmp_path_factory):
    """The sweep of SPEC, run once through `embodied sweep`; returns (spec path, out folder, stderr)."""
    folder = tmp_path_factory.mktemp("sweep")
    spec = write_spec(folder, SPEC)
    out = folder / "out"
    capture = tmp_path_factory.mktemp("log") / "stderr.txt"
    log = run_logged(["sweep", str(spec), "--out", str(out), "--max-concurrent", "2"], capture)
    return spec, out, log


def copy_of(swept, tmp_path) -> tuple[pathlib.Path, pathlib.Path]:
    spec, out, _ = swept
    copy = tmp_path / "out"
    shutil.copytree(out, copy)  # copy2: mtimes kept, so "untouched" can be checked on the copy
    return spec, copy


@pytest.fixture(scope="module")
def curved(swept, tmp_path_factory):
    """A copy of the finished sweep re-run with CURVE added; returns (curve spec, out, stderr, trial mtimes before)."""
    folder = tmp_path_factory.mktemp("curved")
    spec, out = copy_of(swept, folder)
    before = mtimes(out / "trials")
    curve_spec = write_spec(folder, dict(SPEC, curve=CURVE), "curve.json")
    capture = folder / "stderr.txt"
    log = run_logged(["sweep", str(curve_spec), "--out", str(out)], capture)
    return curve_spec, out, log, before


@pytest.fixture(scope="module")
def transferred(swept, tmp_path_factory):
    """A copy of the finished sweep re-run with TRANSFER added; returns (spec, out, stderr, mtimes before)."""
    folder = tmp_path_factory.mktemp("transferred")
    spec, out = copy_of(swept, folder)
    before = mtimes(out)
    transfer_spec = write_spec(folder, dict(SPEC, transfer=TRANSFER), "transfer.json")
    capture = folder / "stderr.txt"
    log = run_logged(["sweep", str(transfer_spec), "--out", str(out)], capture)
    return transfer_spec, out, log, before


def mtimes(folder: pathlib.Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def config_leaf(config: dict, name: str):
    """A config.json value by leaf name, flat or nested (the config may become a tree)."""
    if name in config:
        return config[name]
    found = [config_leaf(v, name) for v in config.values() if isinstance(v, dict)]
    found = [f for f in found if f is not None]
    return found[0] if found else None


def test_a_sweep_leaves_run_folders_and_aggregated_results_with_cis(swept, capsys):
    spec, out, log = swept
    results = json.loads((out / "results.json").read_text())
    assert results["n_trials"] == results["n_finished"] == 4 and results["failed"] == []
    assert [f"{t['condition']}/seed_{t['seed']}" for t in results["trials"]] == TRIALS
    assert results["spec"] == SPEC and results["commit"] and results["date"].endswith("Z")
    assert results["eval"]["maze_seeds"] == [10000, 10001] and results["eval"]["episode_steps_used"] == 32
    for condition in ("full", "no_intrinsic"):
        entry = results["summary"][condition]
        assert entry["n_seeds"] == 2 and entry["n_mazes"] == 2
        for metric in ("coverage", "steps_to_50", "steps_to_90"):
            ci = entry["metrics"][metric]
            assert ci["n"] == 4 and ci["low"] <= ci["mean"] <= ci["high"], (condition, metric, ci)
    assert "food_per_1000" not in results["metrics"]  # explore has no food
    paired = results["paired"]["no_intrinsic"]
    assert paired["vs"] == "full" and paired["n_pairs"] == 4
    coverage = {(t["condition"], t["seed"]): t["coverage_per_maze"] for t in results["trials"]}
    diffs = [a - b for s in (0, 1) for a, b in zip(coverage[("no_intrinsic", s)], coverage[("full", s)])]
    assert paired["metrics"]["coverage"]["mean"] == pytest.approx(sum(diffs) / 4)  # paired by seed x maze
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["kind"] for r in rows} == {"trial", "condition", "reference", "paired", "ratio"}
    ratios = sum(  # one per condition x reference x metric whose reference mean is not 0
        1
        for against in results["paired_references"].values()
        for e in against.values()
        for ci in e["ratio"].values()
        if ci
    )
    assert ratios >= 2 * 2  # coverage at least: every reference covers something in 32 steps
    assert len(rows) == 4 * 3 + 2 * 3 + 2 * 3 + (1 + 2 * 2) * 3 + ratios  # trials, conditions, references, paired
    assert {(r["condition"], r["vs"]) for r in rows if r["kind"] == "paired"} == {
        ("no_intrinsic", "full"),
        *((c, ref) for c in ("full", "no_intrinsic") for ref in REFERENCES),
    }

    for key in TRIALS:  # each trial is an ordinary run folder, trained with its condition and seed
        run = out / "trials" / key
        assert (run / "checkpoints" / "latest.pt").is_file() and (run / "metrics.csv").is_file()
        config = json.loads((run / "config.json").read_text())
        assert config_leaf(config, "seed") == int(key[-1])
        assert config_leaf(config, "intrinsic") is (not key.startswith("no_intrinsic"))
        assert json.loads((run / "eval.json").read_text())["result"]["seeds"] == [10000, 10001]
    assert all(f"{key}" in log and "done" in log for key in TRIALS)  # the progress lines
    capsys.readouterr()
    assert main(["eval", str(out / "trials/full/seed_0"), "--seeds", "1", "--episode-steps", "8", "--no-progress"]) == 0
    assert "coverage" in capsys.readouterr().out


def test_a_sweep_evaluates_its_references_once_on_the_same_mazes_and_pairs_every_condition_with_them(swept):
    from embodied.train.evaluate import evaluate_policy, policy_factory

    _, out, log = swept
    results = json.loads((out / "results.json").read_text())
    assert results["references"] == list(REFERENCES) and set(results["reference_actions"]) == set(REFERENCES)
    assert all(action.startswith("evaluated in") for action in results["reference_actions"].values())
    coverage = {(t["condition"], t["seed"]): t["coverage_per_maze"] for t in results["trials"]}
    for name, folder in REFERENCES.items():
        record = json.loads((out / folder / "eval.json").read_text())
        assert record["reference"] == name and record["commit"] and record["env_kwargs"]["vision_size"] == 16
        result = record["result"]
        assert result["seeds"] == [10000, 10001] and result["episode_steps"] == 32
        # the figures `embodied eval --policy NAME` gives on these mazes with the baseline's body: seeded per maze
        alone = evaluate_policy(
            policy_factory(name)[0], "procedural:9x9", "explore", [10000, 10001], 32, env_kwargs={"vision_size": 16}
        )
        assert result["coverage"] == alone["coverage"] and result["steps_to_50"] == alone["steps_to_50"]
        entry = results["reference_summary"][name]
        assert entry["n_mazes"] == 2 and entry["coverage_per_maze"] == result["coverage"]
        assert entry["metrics"]["coverage"]["n"] == 2
        for condition in ("full", "no_intrinsic"):
            paired = results["paired_references"][condition][name]
            assert paired["vs"] == name and paired["n_pairs"] == 4 and paired["n_seeds"] == 2
            diffs = [c - r for s in (0, 1) for c, r in zip(coverage[(condition, s)], result["coverage"])]
            assert paired["metrics"]["coverage"]["mean"] == pytest.approx(sum(diffs) / 4)  # seed x maze vs maze
            ratio = paired["ratio"]["coverage"]  # the same pairs as a multiple: sum over sum
            assert ratio["mean"] == pytest.approx(
                sum(sum(coverage[(condition, s)]) for s in (0, 1)) / (2 * sum(result["coverage"]))
            )
            assert ratio["low"] <= ratio["mean"] <= ratio["high"] and ratio["n"] == 4
        assert f"reference {name}" in log
    assert "full" not in results["reference_summary"] and "random" not in results["summary"]


def test_a_rerun_skips_finished_trials_and_resumes_unfinished_ones(swept, tmp_path, capsys):
    spec, out = copy_of(swept, tmp_path)
    untouched = mtimes(out / "trials/full/seed_0")
    trained = out / "trials/full/seed_1"  # killed while evaluating: training returned, no eval.json
    (trained / "eval.json").unlink()
    killed = out / "trials/no_intrinsic/seed_1"  # killed after its checkpoint at step 32
    for name in ("latest.pt", "latest.pt.sha256", "step_64.pt", "step_64.pt.sha256"):
        (killed / "checkpoints" / name).unlink()
    for name in ("eval.json", "train.json"):
        (killed / name).unlink()
    first_rows = (killed / "metrics.csv").read_text().splitlines()[:2]  # the header and step 32: the checkpoint's
    tampered = out / "trials/no_intrinsic/seed_0"  # an eval.json that does not belong to this checkpoint
    record = json.loads((tampered / "eval.json").read_text())
    (tampered / "eval.json").write_text(json.dumps({**record, "checkpoint_sha256": "0" * 64}))

    curve = {"steps": [32], "conditions": ["no_intrinsic"]}  # its points follow the trials finished in this run
    assert main(["sweep", str(write_spec(tmp_path, dict(SPEC, curve=curve))), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["curve"]["actions"]) == ["no_intrinsic/seed_0@32", "no_intrinsic/seed_1@32"]
    assert all(action.startswith("evaluated in") for action in results["curve"]["actions"].values())
    assert results["trial_actions"] == {
        "full/seed_0": "finished before",
        "full/seed_1": "trained before",
        "no_intrinsic/seed_0": "trained before",
        "no_intrinsic/seed_1": "resumed from step 32",
    }
    assert mtimes(out / "trials/full/seed_0") == untouched
    assert results["reference_actions"] == {name: "finished before" for name in REFERENCES}
    steps = [int(line.split(",")[0]) for line in (killed / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == [32, 64] and (killed / "metrics.csv").read_text().splitlines()[:2] == first_rows
    assert (killed / "checkpoints/latest.pt").is_file() and (killed / "eval.json").is_file()
    assert results["n_finished"] == 4 and results["paired"]["no_intrinsic"]["n_pairs"] == 4
    assert "1 finished before, 3 to run" in capsys.readouterr().err


def test_a_finished_sweep_reruns_without_ray_and_a_different_spec_is_refused(swept, tmp_path, capsys, monkeypatch):
    spec, out = copy_of(swept, tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: nothing left to run needs it
    assert main(["sweep", str(spec), "--out", str(out)]) == 0
    assert "4 finished before, 0 to run" in capsys.readouterr().err
    (out / "trials/full/seed_1/eval.json").unlink()
    assert main(["sweep", str(spec), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == "embodied sweep: needs Ray, an optional extra: pip install -e '.[ray]' (or bash scripts/install.sh)"
    monkeypatch.undo()

    changed = write_spec(
        tmp_path, dict(SPEC, conditions=[{"name": "full", "set": ["plasticity=false"]}, SPEC["conditions"][1]])
    )
    assert main(["sweep", str(changed), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "trial full/seed_0" in err and "different spec" in err, err


def test_adding_a_reference_evaluates_only_it_without_ray_and_keeps_every_trial(swept, tmp_path, capsys, monkeypatch):
    spec, out = copy_of(swept, tmp_path)
    trials, random_ref = mtimes(out / "trials"), mtimes(out / "references/random")
    tampered = out / "references/reflex-wall_follow_left/eval.json"  # another evaluation's record: done again
    tampered.write_text(json.dumps({**json.loads(tampered.read_text()), "fingerprint": "0" * 16}))
    monkeypatch.setitem(sys.modules, "ray", None)  # every trial is finished: references alone need no Ray
    added = write_spec(tmp_path, dict(SPEC, references=["random", "reflex:wall_follow_left", "wander"]), "added.json")
    assert main(["sweep", str(added), "--out", str(out)]) == 0
    assert "4 finished before, 0 to run" in capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert set(results["trial_actions"].values()) == {"finished before"} and mtimes(out / "trials") == trials
    assert results["reference_actions"]["random"] == "finished before"
    assert mtimes(out / "references/random") == random_ref
    assert results["reference_actions"]["wander"].startswith("evaluated")
    assert results["reference_actions"]["reflex:wall_follow_left"].startswith("evaluated")
    assert results["references"] == ["random", "reflex:wall_follow_left", "wander"]
    assert results["paired_references"]["no_intrinsic"]["wander"]["n_pairs"] == 4

    removed = write_spec(tmp_path, dict(SPEC, references=["wander"]), "removed.json")  # and removing one
    assert main(["sweep", str(removed), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["references"] == ["wander"] and results["reference_actions"] == {"wander": "finished before"}
    assert set(results["trial_actions"].values()) == {"finished before"} and mtimes(out / "trials") == trials


def test_collect_aggregates_what_finished_runs_nothing_and_a_rerun_finishes_the_rest(
    swept, tmp_path, capsys, monkeypatch
):
    """A stopped sweep's partial results: --collect writes results.json from the finished trials and
    references alone (n_finished says how many), needs no Ray, trains and evaluates nothing."""
    spec, out = copy_of(swept, tmp_path)
    (out / "trials/no_intrinsic/seed_1/eval.json").unlink()  # stopped before this trial's evaluation
    (out / "references/reflex-wall_follow_left/eval.json").unlink()
    unchanged = lambda folder: {k: v for k, v in mtimes(folder).items() if "results." not in k}  # noqa: E731
    before = unchanged(out)
    monkeypatch.setitem(sys.modules, "ray", None)  # nothing is run, so nothing needs Ray
    assert main(["sweep", str(spec), "--out", str(out), "--collect"]) == 0
    assert "--collect: aggregating 3 finished trial(s); 1 not run" in capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["n_finished"] == 3 and results["n_trials"] == 4
    assert results["summary"]["no_intrinsic"]["metrics"]["coverage"]["n"] == 2  # one seed x two mazes
    assert list(results["reference_summary"]) == ["random"]  # the unfinished reference is left out, not run
    assert not (out / "trials/no_intrinsic/seed_1/eval.json").exists()
    assert not (out / "references/reflex-wall_follow_left/eval.json").exists()
    assert unchanged(out) == before  # only results.json and results.csv are written
    empty = tmp_path / "empty"
    assert main(["sweep", str(spec), "--out", str(empty), "--collect"]) == 2
    assert "nothing to aggregate" in capsys.readouterr().err


def test_adding_a_curve_to_a_finished_sweep_evaluates_only_its_points_on_the_kept_checkpoints(curved):
    from embodied.experiments.trial import file_sha256

    _, out, log, before = curved
    after = mtimes(out / "trials")
    assert {k: v for k, v in after.items() if "/curve/" not in k} == before  # nothing trained, nothing re-evaluated
    assert sorted(set(after) - set(before)) == [f"{key}/curve/step_32.json" for key in TRIALS]
    assert "4 finished before, 0 to run" in log and "curve: 0 point(s) finished before, 4 without" in log
    results = json.loads((out / "results.json").read_text())
    assert set(results["trial_actions"].values()) == {"finished before"}
    curve = results["curve"]
    assert curve["steps"] == [32, 64, 96] and curve["n_points"] == 8 and curve["n_points_finished"] == 4
    assert [(f["trial"], f["step"], f["missing"]) for f in curve["failed"]] == [(k, 96, True) for k in TRIALS]
    for key, failure in zip(TRIALS, curve["failed"]):  # one line naming the trial and the file, also on stderr
        assert failure["error"] == f"trial {key}: no checkpoints/step_96.pt for the curve point at step 96 " + (
            "(the run ended at step 64)"
        )
        assert failure["error"] in log
    coverage = {}  # (condition, seed) -> per-maze coverage at step 32, read from the point files
    for key in TRIALS:
        run = out / "trials" / key
        record = json.loads((run / "curve/step_32.json").read_text())
        assert record["step"] == 32 and record["checkpoint"] == "checkpoints/step_32.pt"
        assert record["checkpoint_sha256"] == file_sha256(run / "checkpoints/step_32.pt") and record["commit"]
        assert record["result"]["seeds"] == [10000, 10001] and record["result"]["episode_steps"] == 32
        coverage[(record["condition"], record["seed"])] = record["result"]["coverage"]
    for condition in ("full", "no_intrinsic"):
        first, last = curve["curve"][condition]
        assert (first["step"], first["final"], last["step"], last["final"]) == (32, False, 64, True)
        assert last["metrics"] == results["summary"][condition]["metrics"]  # the final evaluation is the last point
        cells = [v for s in (0, 1) for v in coverage[(condition, s)]]
        assert first["n_seeds"] == 2 and first["metrics"]["coverage"]["mean"] == pytest.approx(sum(cells) / 4)
    paired = curve["curve"]["no_intrinsic"][0]["paired"]
    diffs = [a - b for s in (0, 1) for a, b in zip(coverage[("no_intrinsic", s)], coverage[("full", s)])]
    assert paired["vs"] == "full" and paired["metrics"]["coverage"]["mean"] == pytest.approx(sum(diffs) / 4)
    with open(out / "results.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["kind"].startswith("curve")]
    assert {(r["kind"], r["condition"], r["step"]) for r in rows if r["metric"] == "coverage"} == {
        *(
            (kind, c, step)
            for kind in ("curve", "curve_trial")
            for c in ("full", "no_intrinsic")
            for step in ("32", "64")
        ),
        ("curve_paired", "no_intrinsic", "32"),
        ("curve_paired", "no_intrinsic", "64"),
    }


def test_a_curve_point_is_measured_as_the_trials_final_evaluation(curved):
    """The point's evaluation of the final checkpoint reproduces eval.json: same function, mazes, steps, body."""
    from embodied.experiments.trial import checkpoint_sha256, run_curve_point

    _, out, _, _ = curved
    run = out / "trials/no_intrinsic/seed_1"
    final = json.loads((run / "eval.json").read_text())
    results = json.loads((out / "results.json").read_text())
    evaluation = {k: results["eval"][k] for k in ("world", "task", "maze_seeds")}
    job = {"key": "no_intrinsic/seed_1", "condition": "no_intrinsic", "seed": 1, "step": 64, "run_dir": str(run)}
    job.update(fingerprint="f" * 16, checkpoint_sha256=checkpoint_sha256(run / "checkpoints/step_64.pt"))
    record = run_curve_point({**job, "eval": {**evaluation, "episode_steps": results["eval"]["episode_steps_used"]}})
    assert record["status"] == "done", record
    assert record["eval"]["checkpoint_sha256"] == final["checkpoint_sha256"]  # step_64.pt is latest.pt
    for metric in ("coverage", "steps_to_50", "steps_to_90"):
        assert record["eval"]["result"][metric] == final["result"][metric], metric


def test_a_rerun_keeps_finished_points_collect_aggregates_them_and_removing_the_curve_keeps_everything(
    curved, tmp_path, capsys, monkeypatch
):
    curve_spec, source, _, _ = curved
    out = tmp_path / "out"
    shutil.copytree(source, out)
    point = out / "trials/full/seed_1/curve/step_32.json"  # another evaluation's record: evaluated again
    point.write_text(json.dumps({**json.loads(point.read_text()), "fingerprint": "0" * 16}))
    kept = {k: v for k, v in mtimes(out / "trials").items() if not k.startswith("full/seed_1/curve/")}
    assert main(["sweep", str(curve_spec), "--out", str(out)]) == 0
    assert "curve: 3 point(s) finished before, 4 without their checkpoint, 1 to evaluate" in capsys.readouterr().err
    assert {k: v for k, v in mtimes(out / "trials").items() if not k.startswith("full/seed_1/curve/")} == kept
    actions = json.loads((out / "results.json").read_text())["curve"]["actions"]
    assert actions["full/seed_1@32"].startswith("evaluated in") and actions["full/seed_0@32"] == "finished before"

    monkeypatch.setitem(sys.modules, "ray", None)  # --collect runs nothing, so nothing needs Ray
    (out / "trials/no_intrinsic/seed_0/curve/step_32.json").unlink()
    assert main(["sweep", str(curve_spec), "--out", str(out), "--collect"]) == 0
    assert "1 not evaluated (--collect)" in capsys.readouterr().err
    curve = json.loads((out / "results.json").read_text())["curve"]
    assert curve["n_points_finished"] == 3 and curve["curve"]["no_intrinsic"][0]["n_seeds"] == 1
    assert not (out / "trials/no_intrinsic/seed_0/curve/step_32.json").exists()

    trials = mtimes(out / "trials")
    assert main(["sweep", str(write_spec(tmp_path, SPEC)), "--out", str(out)]) == 0  # the curve removed
    results = json.loads((out / "results.json").read_text())
    assert results["curve"] is None and set(results["trial_actions"].values()) == {"finished before"}
    assert mtimes(out / "trials") == trials


def test_the_report_draws_each_conditions_learning_curve_with_the_references(curved, tmp_path, capsys):
    _, out, _, _ = curved
    page = tmp_path / "docs" / "results.md"
    assert main(["report", "--results", str(out), "--out", str(page)]) == 0
    text = page.read_text()
    assert "![tiny: coverage against env steps](figures/sweep-tiny-curve-coverage.png)" in text
    assert (tmp_path / "docs/figures/sweep-tiny-curve-coverage.png").stat().st_size > 1000
    assert not list((tmp_path / "docs/figures").glob("*curve-food*"))  # explore: no food curve
    results = json.loads((out / "results.json").read_text())
    table = text.split("**Learning curve", 1)[1]
    assert "| condition | 32 | 64 (final) |" in table
    for condition in ("full", "no_intrinsic"):
        cells = [f"{p['metrics']['coverage']['mean']:.3f}" for p in results["curve"]["curve"][condition]]
        assert re.search(rf"\| `{condition}` \| {cells[0]} \[[^]]+\] \| {cells[1]} \[", table), condition
    assert "no checkpoints/step_96.pt" in table  # the missing points are said, not hidden
    figures = {p.name: p.read_bytes() for p in (tmp_path / "docs/figures").iterdir()}
    assert main(["report", "--results", str(out), "--out", str(page)]) == 0  # deterministic
    assert {p.name: p.read_bytes() for p in (tmp_path / "docs/figures").iterdir()} == figures
    capsys.readouterr()


def test_adding_a_transfer_evaluates_the_final_checkpoints_in_another_world_beside_its_references(
    transferred, tmp_path, capsys
):
    """Issue 14's claim 4 as a sweep: nothing is trained or re-evaluated at home; each finished trial of the
    transfer's conditions has its latest.pt evaluated in the other world; the transfer's own references run
    there; results.json, results.csv and the report carry the transfer's CIs and paired differences."""
    spec, out, log, before = transferred
    after = mtimes(out)
    home = {k: v for k, v in after.items() if not k.startswith("transfer/") and "/transfer/" not in k}
    assert {k: v for k, v in home.items() if not k.startswith("results.")} == {
        k: v for k, v in before.items() if not k.startswith("results.")
    }
    added = sorted(set(after) - set(before))
    assert added == [
        "transfer/procedural-7x7/references/random/eval.json",
        *[f"trials/full/seed_{s}/transfer/procedural-7x7.json" for s in (0, 1)],
    ]
    assert "transfer procedural-7x7 (procedural:7x7): 0 evaluation(s) finished before, 2 to evaluate" in log
    results = json.loads((out / "results.json").read_text())
    entry = results["transfer"]["procedural-7x7"]
    assert entry["eval"]["world"] == "procedural:7x7" and entry["eval"]["episode_steps_used"] == 32
    assert entry["conditions"] == ["full"] and entry["n_trials"] == entry["n_finished"] == 2 and not entry["failed"]
    cells = []
    for seed in (0, 1):
        run = out / f"trials/full/seed_{seed}"
        record = json.loads((run / "transfer/procedural-7x7.json").read_text())
        final = json.loads((run / "eval.json").read_text())
        assert record["checkpoint"] == "checkpoints/latest.pt"
        assert record["checkpoint_sha256"] == final["checkpoint_sha256"]
        assert record["result"]["seeds"] == [10000, 10001] and record["result"]["episode_steps"] == 32
        cells += record["result"]["coverage"]
    assert entry["summary"]["full"]["metrics"]["coverage"]["mean"] == pytest.approx(sum(cells) / 4)
    random = json.loads((out / "transfer/procedural-7x7/references/random/eval.json").read_text())["result"]
    assert entry["reference_summary"]["random"]["coverage_per_maze"] == random["coverage"]
    diffs = [c - r for c, r in zip(cells, random["coverage"] * 2)]
    paired = entry["paired_references"]["full"]["random"]
    assert paired["n_pairs"] == 4 and paired["metrics"]["coverage"]["mean"] == pytest.approx(sum(diffs) / 4)
    assert results["summary"]["full"] == json.loads(json.dumps(results["summary"]["full"]))  # home figures intact
    with open(out / "results.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["transfer"] == "procedural-7x7" and r["metric"] == "coverage"]
    assert {(r["kind"], r["condition"], r["vs"]) for r in rows} == {
        ("transfer_trial", "full", ""),
        ("transfer_condition", "full", ""),
        ("transfer_reference", "random", ""),
        ("transfer_paired", "full", "random"),
        ("transfer_ratio", "full", "random"),
    }

    page = tmp_path / "results.md"
    assert main(["report", "--results", str(out), "--out", str(page)]) == 0
    text = page.read_text().split("**Transfer to `procedural:7x7`**", 1)[1]
    mean = entry["summary"]["full"]["metrics"]["coverage"]["mean"]
    assert re.search(rf"\| `full` \| 2 \| 2 \| {mean:.3f} \[", text) and "| `random` (ref.) | — | 2 |" in text
    assert (tmp_path / "figures/sweep-tiny-transfer-procedural-7x7-coverage.png").stat().st_size > 1000

    again = tmp_path / "again"
    shutil.copytree(out, again)
    kept = mtimes(again)
    assert main(["sweep", str(spec), "--out", str(again)]) == 0  # finished: nothing evaluated again
    assert "2 evaluation(s) finished before, 0 to evaluate" in capsys.readouterr().err
    assert {k: v for k, v in mtimes(again).items() if not k.startswith("results.")} == {
        k: v for k, v in kept.items() if not k.startswith("results.")
    }


BAD_SPECS = [
    ({"seeds": []}, "key 'seeds' is empty"),
    ({"seeds": "0,1"}, "key 'seeds' must be a list"),
    ({"seeds": [0, -1]}, "key 'seeds[1]' = -1"),
    ({"seed": [0]}, "key 'seed' is unknown"),
    ({"conditions": [{"name": "a", "set": []}, {"name": "b", "set": ["intrinsc=false"]}]}, "conditions[1]"),
    ({"conditions": [{"name": "a", "set": "intrinsic=false"}]}, "key 'conditions[0].set' must be a list"),
    ({"conditions": [{"name": "a/b", "set": []}]}, "key 'conditions[0].name' = 'a/b' must be a folder-safe name"),
    ({"conditions": {"a": ["seed=3"]}}, "key 'conditions.a[0]' sets the seed"),
    ({"baseline": "nope"}, "key 'baseline' = 'nope' is not a condition"),
    ({"eval": {"mazes": 0}}, "key 'eval.mazes' = 0"),
    ({"eval": {"maze_start": 5}}, "key 'eval.maze_start' = 5"),
    ({"eval": {"task": "dance"}}, "key 'eval.task' = 'dance'"),
    ({"eval": {"steps": 5}}, "key 'eval.steps' is unknown"),
    ({"eval": {"world": "no_such_maze"}}, "key 'eval.world'"),
    ({"set": ["total_steps=-5"]}, "total_steps"),
    ({"config": "missing.json"}, "key 'config' = 'missing.json': no such file"),
    ({"references": ["random", "reflex:nope"]}, "key 'references[1]' = 'reflex:nope' is not a reference policy"),
    ({"references": "random"}, "key 'references' must be a list of policy names"),
    ({"references": ["wander", "wander"]}, "key 'references[1]' = 'wander' is listed twice"),
    ({"references": ["oracle"]}, "key 'references[0]' = 'oracle' is not a reference policy"),
    (
        {"conditions": {"random": [], "b": []}, "references": ["random"]},
        "key 'references[0]' = 'random' is also a condition's name",
    ),
    ({"curve": [32]}, "key 'curve' must be a mapping"),
    ({"curve": {"steps": []}}, "key 'curve.steps' must be a non-empty list"),
    ({"curve": {"steps": [32, 0]}}, "key 'curve.steps[1]' = 0"),
    ({"curve": {"steps": [32, 32.5]}}, "key 'curve.steps[1]' = 32.5"),
    ({"curve": {"steps": [64, 32, 64]}}, "key 'curve.steps' repeats a step"),
    ({"curve": {"steps": [32], "conditions": ["full", "nope"]}}, "key 'curve.conditions[1]' = 'nope' is not a"),
    ({"curve": {"steps": [32], "conditions": ["full", "full"]}}, "key 'curve.conditions[1]' = 'full' is listed twice"),
    ({"curve": {"steps": [32], "every": 4096}}, "key 'curve.every' is unknown"),
    ({"transfer": {"world": "hampton_court"}}, "key 'transfer' must be a list"),
    ({"transfer": [{"mazes": 2}]}, "key 'transfer[0].world' is missing"),
    ({"transfer": [{"world": "nowhere_maze"}]}, "key 'transfer[0].world'"),
    ({"transfer": [{"world": "hampton_court", "steps": 5}]}, "key 'transfer[0].steps' is unknown"),
    ({"transfer": [{"world": "hampton_court", "conditions": ["nope"]}]}, "key 'transfer[0].conditions[0]' = 'nope'"),
    ({"transfer": [{"world": "hampton_court", "references": ["dfs"]}]}, "key 'transfer[0].references[0]' = 'dfs'"),
    ({"transfer": [{"world": "open_field"}, {"world": "open_field"}]}, "key 'transfer[1].name' = 'open_field' is used"),
]


@pytest.mark.parametrize("change, message", BAD_SPECS, ids=[m for _, m in BAD_SPECS])
def test_a_bad_spec_fails_in_one_line_naming_file_and_key_before_anything_runs(tmp_path, capsys, change, message):
    spec = write_spec(tmp_path, {**SPEC, **change})
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"embodied sweep: {spec}") and message in err, err
    assert not out.exists()  # validated before any folder, and before Ray


def test_unknown_override_key_in_the_last_condition_is_named(tmp_path, capsys):
    conditions = [{"name": "a", "set": []}, {"name": "b", "set": []}, {"name": "c", "set": ["intrinsc=false"]}]
    spec = write_spec(tmp_path, dict(SPEC, conditions=conditions))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "key 'conditions[2]' (condition 'c')" in err and "intrinsc" in err, err


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"seeds": [0,]}', "spec.json:1:14: not valid JSON"),
        ("seeds = 2\nname = \n", "spec.toml:2:8: not valid TOML: Invalid value"),
        ("seeds = [0\n", "spec.toml: at its end: not valid TOML: Unclosed array"),
    ],
)
def test_a_spec_with_a_syntax_error_names_line_and_column(tmp_path, capsys, text, message):
    spec = tmp_path / ("spec.toml" if "TOML" in message else "spec.json")
    spec.write_text(text)
    assert main(["sweep", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err


def test_a_toml_spec_with_a_conditions_table_and_a_grid_loads(tmp_path):
    from embodied.experiments.grid import load_spec

    spec = tmp_path / "grid.toml"
    spec.write_text(
        'seeds = 2\nset = ["total_steps=64", "episode_steps=32", "learning_starts=16"]\n'
        '[conditions]\nfull = []\nno_intrinsic = ["intrinsic=false"]\n[grid]\ntrain_ratio = [4, 8]\n'
    )
    loaded = load_spec(spec)
    assert loaded.conditions == (
        "full,train_ratio=4",
        "full,train_ratio=8",
        "no_intrinsic,train_ratio=4",
        "no_intrinsic,train_ratio=8",
    )
    assert loaded.baseline == "full,train_ratio=4" and loaded.seeds == (0, 1) and len(loaded.trials) == 8
    assert loaded.trials[-1].overrides[-2:] == ("train_ratio=8", "seed=1")


def test_ray_is_imported_only_inside_the_sweep_command_and_the_ray_collector():
    """Static: every `import ray` under embodied/ is in experiments/sweep.py or train/ray_collector.py,
    inside a function."""
    package = pathlib.Path(sweep_command.__file__).parents[1]
    found = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        inside = {id(node) for f in functions for node in ast.walk(f)}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            if any(n == "ray" or n.startswith("ray.") for n in names):
                found.append((path.relative_to(package).as_posix(), id(node) in inside))
    assert sorted(found) == [("experiments/sweep.py", True), ("train/ray_collector.py", True)], found


@pytest.mark.parametrize("path", sorted((pathlib.Path(__file__).parents[1] / "configs" / "sweeps").glob("*.*")))
def test_the_shipped_sweep_specs_load(path):
    from embodied.experiments.grid import load_spec

    spec = load_spec(path)
    assert spec.trials and spec.baseline == spec.conditions[0]
