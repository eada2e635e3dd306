"""Lab protocols: each published criterion over seeds x learning rates, plus the API."""

import argparse

import numpy as np
import pytest

from embodied.lab import DopamineSubject
from embodied.lab.protocols import PROTOCOLS

SEEDS = (0, 1, 2)
ALPHAS = (0.05, 0.1, 0.2)


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_protocol_criterion_holds_over_seeds_and_learning_rates(name):
    failures = []
    for seed in SEEDS:
        for alpha in ALPHAS:
            result = PROTOCOLS[name].run(seed=seed, alpha=alpha)
            if not result.passed:
                failures.append((seed, alpha, [c for c, ok in result.checks.items() if not ok]))
    assert not failures, f"{name} failed at (seed, alpha, checks): {failures}"


def test_blocking_numbers_are_not_trivially_zero():
    r = PROTOCOLS["blocking"].run(seed=0, alpha=0.1)
    assert r.metrics["cue_rpe_A"] > 0.6 and r.metrics["cue_rpe_B"] > 0.2  # B gains value in BY+


def test_subject_api_step_probe_and_choice():
    da = DopamineSubject(seed=0, alpha=0.2)
    out = da.step({"light": 1.0}, reward=0.0)
    assert {"rpe", "value", "tonic", "channels"} <= set(vars(out))
    first = da.step({}, reward=1.0).rpe
    da.end_trial()
    assert first == pytest.approx(1.0)
    da.step({"light": 1.0})
    da.step({}, reward=1.0)
    da.end_trial()
    w = da.dopamine.w.copy()
    probe = da.step({"light": 1.0}, learn=False)
    assert probe.rpe > 0 and np.array_equal(w, da.dopamine.w)  # probing does not learn
    da.end_trial(learn=False)
    picks = []
    for _ in range(200):
        c = da.choose(["A", "B"])
        da.step({"A": 1.0, "B": 1.0}, reward=float(c == "A"), action=c)
        da.end_trial()
        picks.append(c)
    assert picks[-50:].count("A") > picks[:50].count("A")
    assert da.choice_probabilities(["A", "B"])[0] > 0.7


def test_subject_rejects_bad_config_and_stimuli():
    with pytest.raises(ValueError, match="alfa.*allowed: .*alpha"):
        DopamineSubject(alfa=0.1)
    with pytest.raises(ValueError, match="allowed: csc, microstimuli, presence"):
        DopamineSubject(representation=("tapped",))
    with pytest.raises(TypeError, match="light"):
        DopamineSubject().step({"light": "on"})


def test_cli_writes_figure_trace_and_summary(tmp_path):
    from embodied.lab import cli

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--protocols", "blocking"])
    assert cli.run(args) == 0
    for f in ("blocking.png", "blocking.csv", "blocking.json", "summary.json", "summary.md"):
        assert (tmp_path / f).stat().st_size > 0
    header = (tmp_path / "blocking.csv").read_text().splitlines()[0]
    assert header.startswith("phase,trial,step,stimuli,reward,rpe,value,tonic")
