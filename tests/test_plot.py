"""`embodied plot` on real run folders: written by `embodied rollout`, or by a real env loop here."""

import csv

import gymnasium as gym
import matplotlib.image
import numpy as np
import pytest

from embodied import ENV_ID
from embodied.brain.basal_ganglia.selection import OpponentSelector
from embodied.brain.dopamine.rules import TonicDopamine, td_error
from embodied.brain.policies import WanderPolicy
from embodied.cli import main
from embodied.train.metrics import MetricsWriter
from embodied.viz.plot import RunFolderError, read_metrics, read_population


def assert_real_png(path, min_std=0.02):
    assert path.is_file() and path.stat().st_size > 5_000, path
    pixels = matplotlib.image.imread(path)
    assert pixels.std() > min_std, f"{path} looks blank"


def test_plot_a_rollout_run_folder(tmp_path, capsys):
    run = tmp_path / "rollout"
    assert main(["rollout", "--out", str(run), "--world", "t_maze", "--steps", "300", "--episode-steps", "100"]) == 0
    metrics = read_metrics(run / "metrics.csv")
    assert metrics["charts/coverage"][1].max() > 0  # the real env moved the rat
    capsys.readouterr()
    assert main(["plot", str(run)]) == 0
    out = capsys.readouterr().out
    assert_real_png(run / "plots" / "learning_curves.png")
    assert_real_png(run / "plots" / "rewards.png")
    assert "skipped dopamine.png" in out and "skipped losses.png" in out
    assert not (run / "plots" / "dopamine.png").exists()


def write_brain_run(run, steps=240, log_every=10):
    """A run folder from a real env loop: novelty = new cells, RPE by TD on a tonic baseline,
    and a two-module population chosen by the real Go/NoGo selector (wander vs. standing still)."""
    env = gym.make(ENV_ID, world="t_maze")
    wander, tonic, selector = WanderPolicy(seed=0), TonicDopamine(rate=0.05), OpponentSelector(seed=0, beta=3.0)
    modules = ["wander", "still"]
    population = [(0, "birth", m, "", 0.0) for m in modules]
    for m in modules:
        selector.add_option(m)
    obs, info = env.reset(seed=0)
    module, coverage, block_novelty = "wander", info["coverage"], 0.0
    with MetricsWriter(run) as metrics:
        for step in range(1, steps + 1):
            if step % 20 == 1:  # a new block: learn from the last one, pick a module
                if step > 1:
                    selector.update(module, reward=block_novelty)
                    go_minus_nogo = selector.go[(None, module)] - selector.nogo[(None, module)]
                    population.append((step, "select", module, "", go_minus_nogo))
                module, block_novelty = selector.choose(modules), 0.0
            action = wander.act(obs)[0] if module != "still" else np.zeros(3, np.float32)
            obs, _, _, _, info = env.step(action)
            novelty = 100 * (info["coverage"] - coverage)
            coverage, block_novelty = info["coverage"], block_novelty + novelty
            rpe = td_error(novelty, tonic.level, tonic.level, 0.99)
            tonic.update(novelty)
            if step % log_every == 0:
                metrics.log(
                    step,
                    {
                        "charts/coverage": coverage,
                        "rewards/novelty": novelty,
                        "dopamine/rpe_novelty": rpe,
                        "dopamine/tonic": tonic.level,
                        "losses/effort": float(np.abs(action).sum()) + 1e-3,
                    },
                )
            if step == steps // 2:  # prune the weaker module, bud a copy of the stronger
                strength = {m: selector.go[(None, m)] - selector.nogo[(None, m)] for m in modules}
                weak, strong = sorted(modules, key=strength.get)
                selector.remove_option(weak)
                selector.add_option(f"{strong}_2", go=selector.go[(None, strong)], nogo=selector.nogo[(None, strong)])
                modules = [strong, f"{strong}_2"]
                population += [(step, "prune", weak, "", strength[weak]), (step, "birth", modules[1], strong, 0.0)]
    env.close()
    with open(run / "population.csv", "w", newline="") as f:
        csv.writer(f).writerows([("step", "event", "module", "parent", "strength"), *population])


def test_plot_dopamine_losses_and_population(tmp_path, capsys):
    run = tmp_path / "brain"
    run.mkdir()
    write_brain_run(run)
    assert main(["plot", str(run), "--out", str(tmp_path / "figs")]) == 0
    for name in ("learning_curves", "rewards", "losses", "dopamine", "population"):
        assert_real_png(tmp_path / "figs" / f"{name}.png")
    events = read_population(run / "population.csv")
    assert {e["event"] for e in events} == {"birth", "prune", "select"}


def test_plot_tolerates_missing_cells_and_says_what_is_wrong(tmp_path, capsys):
    run = tmp_path / "sparse"
    run.mkdir()
    (run / "metrics.csv").write_text("step,charts/coverage,losses/model\n1,0.1,\n2,,0.5\n3,0.3,nan\n")
    metrics = read_metrics(run / "metrics.csv")
    assert metrics["charts/coverage"][0].tolist() == [1.0, 3.0]
    assert metrics["losses/model"][1].tolist() == [0.5]
    (run / "population.csv").write_text("step,module\n1,a\n")
    with pytest.raises(RunFolderError, match="missing columns"):
        read_population(run / "population.csv")
    assert main(["plot", str(tmp_path / "no_such_run")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["plot", str(tmp_path / "empty")]) == 2
    assert "not a run folder" in capsys.readouterr().err
