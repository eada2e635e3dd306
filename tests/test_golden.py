"""A refactor changes nothing: short fixed-seed training runs reproduce their recorded figures.

The full proof is ``scripts/golden_run.py`` (1,024-step explore and forage runs and an eval,
bit-identical on one machine). This test keeps a short version for every later change: 256
env steps of explore and of forage from the built-in defaults with ``train_ratio=2`` (16 world-model
updates instead of 64, for the suite's time budget; world-model updates, critic and actor updates,
selection, plasticity and the intrinsic rewards all run), every metric and population figure
compared with the reference in ``tests/golden/``.

Tolerance, measured rather than guessed: CPUs of this kind take different floating-point paths
(the fresh-machine failure of issue 16). Re-running the reference with ``torch_threads=2`` (other
reduction orders: the same kind of perturbation) moved the figures by at most 0.21 % (explore)
and 0.072 % (forage) when the reference was regenerated with ``train_ratio=2`` (the 64-update
reference had moved by 0.64 % and 1.4 %: learning progress, which subtracts two close errors,
and the tonic level near zero), with text fields (module names) unchanged; the assertion allows
5 % (abs 1e-4), over 3.5× the largest of those, while a behaviour change moves a run's module
choices and every figure after them. Regenerate the reference only for an intended behaviour change,
and say so in the commit: ``python3 tests/test_golden.py --update`` (``--perturb`` re-measures
the figures above).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parent / "golden" / "short_runs.json"
RUNS = {"explore": ["task=explore"], "forage": ["task=forage"]}
SHORT = [
    "total_steps=256",
    "train_ratio=2",  # 16 world-model updates, not 64: every path still runs, in a quarter of the update time
    "learning_starts=64",
    "log_every=64",
    "checkpoint_every=256",
    "video_every=0",
    "seed=0",
    'device="cpu"',
    "tensorboard=false",
]
REL, ABS = 5e-2, 1e-4


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if not k.startswith("time/")} for row in csv.DictReader(f)]


def short_run(run_dir: Path, name: str, extra: tuple[str, ...] = ()) -> dict[str, list[dict[str, str]]]:
    """The metrics and population rows of one short run (wall-clock columns dropped)."""
    from embodied.train.config import load_config
    from embodied.train.loop import train

    cfg = load_config(None, [*RUNS[name], *SHORT, *extra])
    train(cfg, run_dir, progress=False, overwrite=True)
    return {"metrics": _rows(run_dir / "metrics.csv"), "population": _rows(run_dir / "population.csv")}


def differences(expected: dict, got: dict) -> list[str]:
    """Every figure that differs beyond the tolerance (numbers) or at all (text), with where."""
    out = []
    for table in expected:
        if len(expected[table]) != len(got[table]):
            out.append(f"{table}: {len(got[table])} rows, expected {len(expected[table])}")
            continue
        for i, (want, have) in enumerate(zip(expected[table], got[table])):
            if set(want) != set(have):
                out.append(f"{table} row {i}: columns {sorted(set(want) ^ set(have))} differ")
                continue
            for key, a in want.items():
                b = have[key]
                try:
                    x, y = float(a), float(b)
                except ValueError:
                    if a != b:
                        out.append(f"{table} row {i} {key}: {b!r} != {a!r}")
                    continue
                if not (math.isclose(x, y, rel_tol=REL, abs_tol=ABS) or (math.isnan(x) and math.isnan(y))):
                    out.append(f"{table} row {i} {key}: {y!r} != {x!r}")
    return out


def largest_relative_difference(expected: dict, got: dict) -> float:
    worst = 0.0
    for table in expected:
        for want, have in zip(expected[table], got[table]):
            for key, a in want.items():
                try:
                    x, y = float(a), float(have.get(key, "nan"))
                except ValueError:
                    continue
                if math.isfinite(x) and math.isfinite(y) and x != y:
                    worst = max(worst, abs(x - y) / max(abs(x), abs(y), ABS))
    return worst


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_short_run_reproduces_its_reference(tmp_path, name):
    expected = json.loads(REFERENCE.read_text())[name]
    got = short_run(tmp_path / name, name)
    diffs = differences(expected, got)
    assert not diffs, f"{len(diffs)} figures differ from tests/golden/short_runs.json, first: {diffs[:5]}"


def test_the_comparison_can_fail():
    """A changed figure, a missing row and a changed module name are each reported."""
    base = {"metrics": [{"step": "64", "losses/critic": "1.0"}], "population": [{"module": "wander", "x": "2"}]}
    assert differences(base, json.loads(json.dumps(base))) == []
    assert differences(base, {**base, "metrics": [{"step": "64", "losses/critic": "1.06"}]})  # 6 % > 5 %
    assert differences(base, {**base, "metrics": []})
    assert differences(base, {**base, "population": [{"module": "turn", "x": "2"}]})


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        if sys.argv[1:] == ["--update"]:
            runs = {name: short_run(Path(tmp) / name, name) for name in RUNS}
            REFERENCE.parent.mkdir(exist_ok=True)
            REFERENCE.write_text(json.dumps(runs, indent=0) + "\n")
            print(f"wrote {REFERENCE}")
        elif sys.argv[1:] == ["--perturb"]:  # measures the tolerance quoted in the docstring
            expected = json.loads(REFERENCE.read_text())
            for name in RUNS:
                got = short_run(Path(tmp) / name, name, ("torch_threads=2",))
                print(
                    f"{name}: largest relative difference {largest_relative_difference(expected[name], got):.2g}, "
                    f"{len(differences(expected[name], got))} beyond tolerance"
                )
        else:
            sys.exit("usage: python3 tests/test_golden.py --update | --perturb")
