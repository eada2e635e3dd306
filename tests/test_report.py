"""`embodied report`: a sweep's results.json -> a marked, stamped, deterministic section of a Markdown page.

The results folder is built without Ray or training: two reference policies (random, wander)
stand in for two trained conditions, evaluated for real on the same held-out mazes by
``evaluate_policy`` and aggregated by the sweep's own ``write_results``, beside two of the sweep's
references (single innate reflexes) evaluated as ``embodied sweep`` evaluates them.
"""

import json
import re

import pytest

from embodied.brain.policies import make_reference_policy
from embodied.cli import main
from embodied.experiments.grid import load_spec
from embodied.experiments.report import END, LABELS, START
from embodied.experiments.sweep import write_results
from embodied.train.evaluate import evaluate_policy, policy_factory

MAZES, STEPS = [10000, 10001], 40
REFERENCES = ["reflex:wall_follow_left", "reflex:turn_left"]
STAMP = {"commit": "abc1234def5678", "dirty": False, "date": "2026-01-02T03:04:05Z"}


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    spec_path = folder / "policies.json"
    spec_path.write_text(
        json.dumps(
            {
                "name": "policies",
                "conditions": {"random": [], "wander": []},
                "seeds": [0, 1],
                "eval": {"mazes": len(MAZES), "episode_steps": STEPS},
                "references": REFERENCES,
            }
        )
    )
    spec = load_spec(spec_path)
    records = {}
    for trial in spec.trials:

        def make(env, maze, name=trial.condition, seed=trial.seed):
            return make_reference_policy(name, env.action_space, 1000 * seed + maze)

        result = evaluate_policy(make, spec.eval.world, spec.eval.task, MAZES, STEPS)
        records[trial.key] = {"result": result, "checkpoint_step": 0, **STAMP}
    references = {
        name: {
            "result": evaluate_policy(policy_factory(name)[0], spec.eval.world, spec.eval.task, MAZES, STEPS),
            **STAMP,
        }
        for name in REFERENCES
    }
    out = folder / "out"
    extra = {"eval": {**spec.eval.as_dict(), "episode_steps_used": STEPS}}
    write_results(spec, out, records, [], extra, references)
    return out


def report(results_dir, page, capsys):
    rc = main(["report", "--results", str(results_dir), "--out", str(page)])
    capsys.readouterr()
    return rc


def test_the_report_writes_stamped_tables_and_figures_between_markers(results_dir, tmp_path, capsys):
    page = tmp_path / "docs" / "results.md"
    assert report(results_dir, page, capsys) == 0
    text = page.read_text()
    assert text.startswith("# Results\n") and text.count(START) == 1 and text.count(END) == 1
    section = text.split(START)[1].split(END)[0]
    assert f"`embodied report --results {results_dir.as_posix()} --out {page.as_posix()}`" in section
    assert "measured at commit `abc1234def`" in section.lower() and "on 2026-01-02" in section
    assert "Fewer than 5 training seeds" in section  # the project's floor, said where it is not met
    data = json.loads((results_dir / "results.json").read_text())
    for metric in data["metrics"]:
        ci = data["summary"]["wander"]["metrics"][metric]
        digits = {"coverage": 3}.get(metric, 0)
        row = f"| `wander` | 2 | 2 | {ci['mean']:.{digits}f} [{ci['low']:.{digits}f}, {ci['high']:.{digits}f}] | "
        assert row in section, (metric, row)
        diff = data["paired"]["wander"]["metrics"][metric]
        assert f"{diff['mean']:+.{digits}f} [" in section
        figure = page.parent / "figures" / f"sweep-policies-{metric}.png"
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"(figures/{figure.name})" in section
    assert "| `random` | 2 | 2 |" in section and "| baseline |" in section


def test_the_report_lists_references_after_the_conditions_and_each_condition_minus_each_reference(
    results_dir, tmp_path, capsys
):
    page = tmp_path / "results.md"
    assert report(results_dir, page, capsys) == 0
    section = page.read_text().split(START)[1].split(END)[0]
    data = json.loads((results_dir / "results.json").read_text())
    assert "References (untrained policies, marked *ref.*: `reflex:wall_follow_left`, `reflex:turn_left`)" in section
    assert "Fewer than 5 training seeds" in section  # a reference's single run does not count as seeds
    for metric in data["metrics"]:
        digits = {"coverage": 3}.get(metric, 0)
        table = section.split(f"**{LABELS[metric]}**")[1].split("![")[0]
        rows = [line for line in table.splitlines() if line.startswith("| `")]
        assert [row.split("`")[1] for row in rows[:4]] == ["random", "wander", *REFERENCES]  # references last
        for name in REFERENCES:
            ci = data["reference_summary"][name]["metrics"][metric]
            mean = f"{ci['mean']:.{digits}f} [{ci['low']:.{digits}f}, {ci['high']:.{digits}f}]"
            assert f"| `{name}` (ref.) | — | 2 | {mean} | — |" in rows
        header = "| condition | − `reflex:wall_follow_left` | − `reflex:turn_left` |"
        differences = table.split(header)[1]  # the second table: each condition minus each reference
        for condition in ("random", "wander"):
            row = next(line for line in differences.splitlines() if line.startswith(f"| `{condition}` | "))
            cells = row.split("|")[2:-1]
            assert len(cells) == len(REFERENCES), row
            for name, cell in zip(REFERENCES, cells):
                entry = data["paired_references"][condition][name]
                assert entry["n_pairs"] == 4
                shown = [float(x) for x in re.findall(r"[-+]?\d+(?:\.\d+)?", cell)]
                expected = [entry["metrics"][metric][k] for k in ("mean", "low", "high")]
                assert shown == pytest.approx(expected, abs=0.51 * 10**-digits), (condition, name, cell)
        ratios = table.split("| condition | ÷ `reflex:wall_follow_left` | ÷ `reflex:turn_left` |")
        assert len(ratios) == 2, "the third table: each condition as a multiple of each reference"
        for condition in ("random", "wander"):
            row = next(line for line in ratios[1].splitlines() if line.startswith(f"| `{condition}` | "))
            for name, cell in zip(REFERENCES, row.split("|")[2:-1]):
                ci = data["paired_references"][condition][name]["ratio"][metric]
                if ci is None:  # the reference's mean is 0 on these mazes: no scale
                    assert cell.strip() == "–"
                    continue
                shown = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", cell)]
                assert shown == pytest.approx([ci[k] for k in ("mean", "low", "high")], abs=0.0051), (condition, cell)


def test_the_report_is_byte_identical_on_a_second_run_and_keeps_the_rest_of_the_page(results_dir, tmp_path, capsys):
    page = tmp_path / "results.md"
    page.write_text("# Results\n\nHand-written introduction.\n\n" + START + "\nstale\n" + END + "\n\n## Notes\nkept\n")
    assert report(results_dir, page, capsys) == 0
    first = page.read_bytes()
    assert "| `reflex:turn_left` (ref.) | — |" in first.decode()  # the references are in what must not change
    assert "| condition | − `reflex:wall_follow_left` | − `reflex:turn_left` |" in first.decode()
    figures = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "figures").glob("*.png")}
    assert report(results_dir, page, capsys) == 0
    assert page.read_bytes() == first
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "figures").glob("*.png")} == figures
    text = first.decode()
    assert text.startswith("# Results\n\nHand-written introduction.\n\n" + START) and "stale" not in text
    assert text.endswith(END + "\n\n## Notes\nkept\n")


def test_a_page_without_markers_gets_the_section_appended(results_dir, tmp_path, capsys):
    page = tmp_path / "results.md"
    page.write_text("# Results\n\nEverything typed so far.\n")
    assert report(results_dir, page, capsys) == 0
    text = page.read_text()
    assert text.startswith("# Results\n\nEverything typed so far.\n\n" + START) and text.endswith(END + "\n")


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda tmp: ["--results", str(tmp)], "no results.json there"),
        (lambda tmp: ["--results", str((tmp / "results.json").write_text("{}") and tmp)], "is not a results.json"),
        (lambda tmp: ["--out", str(tmp)], "is a folder"),
    ],
    ids=["empty folder", "foreign json", "out is a folder"],
)
def test_bad_report_arguments_fail_in_one_line(results_dir, tmp_path, capsys, make_args, message):
    args = make_args(tmp_path)
    if "--results" not in args:
        args = ["--results", str(results_dir), *args]
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("embodied report: ") and "\n" not in err and message in err, err


def test_a_page_with_one_marker_is_refused_untouched(results_dir, tmp_path, capsys):
    page = tmp_path / "results.md"
    page.write_text("intro\n" + START + "\nno end marker\n")
    before = page.read_bytes()
    assert main(["report", "--results", str(results_dir), "--out", str(page)]) == 2
    assert "only one of the markers" in capsys.readouterr().err and page.read_bytes() == before
