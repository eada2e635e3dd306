"""embodied eval and the comparison scripts' smoke runs (the parts that need no trainer)."""

import importlib.util
import json
from pathlib import Path

import pytest

from embodied.cli import main as cli_main
from embodied.train.evaluate import (
    HELD_OUT_START,
    check_seeds,
    evaluate_policy,
    held_out_seeds,
    policy_factory,
    training_overlap,
)

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eval_random_on_two_held_out_seeds_prints_figures(capsys):
    rc = cli_main(["eval", "--policy", "random", "--task", "forage", "--seeds", "2", "--episode-steps", "150"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "seeds 10000..10001" in out
    assert "coverage        mean" in out and "95% CI [" in out
    assert "food per 1000   mean" in out


def test_evaluator_refuses_training_seeds(capsys):
    with pytest.raises(ValueError, match="10000"):
        check_seeds([9_999, 10_000])
    with pytest.raises(ValueError):
        held_out_seeds(3, start=0)
    with pytest.raises(ValueError, match="training"):
        evaluate_policy(policy_factory("random")[0], "procedural:7x7", "explore", [5], 10)
    assert check_seeds([3], allow_training_seeds=True) == [3]
    assert cli_main(["eval", "--policy", "random", "--seed-start", "0", "--seeds", "2"]) == 2
    assert "below 10000" in capsys.readouterr().err
    assert min(held_out_seeds(5)) == HELD_OUT_START


def test_default_training_run_never_sees_a_held_out_maze():
    """The trainer's reset seeds (and maze geometries) for the default config miss the held-out mazes."""
    config = json.loads((Path(__file__).resolve().parents[1] / "configs" / "default.json").read_text())
    overlap = training_overlap(config, held_out_seeds(20))
    assert overlap["training_episodes"] > 0
    assert overlap["shared_seeds"] == [] and overlap["same_maze_geometry"] == []
    # and the check can fail: evaluating on a training seed is caught
    first = training_overlap(dict(config, total_steps=1), [0])["train_seed_min"]
    assert training_overlap(dict(config, total_steps=1), [first])["shared_seeds"] == [first]


def test_evaluate_policy_same_seed_same_maze():
    make = policy_factory("forage-oracle")[0]
    a = evaluate_policy(make, "procedural:7x7", "forage", [10_000, 10_001], 200, env_kwargs={"vision_size": 16})
    b = evaluate_policy(make, "procedural:7x7", "forage", [10_000, 10_001], 200, env_kwargs={"vision_size": 16})
    assert a["food_per_1000"] == b["food_per_1000"]
    assert a["food_per_1000_ci"]["low"] <= a["food_per_1000_ci"]["mean"] <= a["food_per_1000_ci"]["high"]
    assert sum(a["food_per_1000"]) > 0


def test_eval_exploration_quick(tmp_path, capsys):
    rc = _script("eval_exploration").main(["--quick", "--no-train", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "DFS oracle" in out and "random" in out
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["dfs"]["cell_moves"] == [60, 60]  # 31 free cells in a perfect 9x9 maze
    assert set(report["results"]) == {"random", "wander"}


def test_eval_foraging_quick(tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    rc = _script("eval_foraging").main(["--quick", "--no-train", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "forage_oracle" in out and "ppo" in out
    report = json.loads((tmp_path / "results.json").read_text())
    oracle, random = report["results"]["forage_oracle"], report["results"]["random"]
    assert oracle["food_per_1000_ci"]["mean"] > random["food_per_1000_ci"]["mean"]


def test_ppo_missing_gives_a_clear_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("stable_baselines3"):
            raise ImportError("no sb3")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(SystemExit, match="pip install"):
        _script("ppo_baseline").require_sb3()


def _side_contacts(make_env, policy_name, steps=300, maze=10_000):
    """Steps on which the left whiskers touch more than the right ones, and the other way round, over a
    run of the named reference policy (made as `embodied eval` makes it) on a looped 7x7 maze."""
    env = make_env(world="procedural:7x7:loops=0.3", vision_size=16, max_episode_steps=steps)
    policy = policy_factory(policy_name)[0](env, maze)
    obs, _ = env.reset(seed=maze)
    policy.reset()
    left = right = 0
    for _ in range(steps):
        action, _ = policy.act(obs)
        obs, _, terminated, truncated, info = env.step(action)
        nearest_left, nearest_right = obs["touch"][:8].max(), obs["touch"][8:16].max()
        left, right = left + int(nearest_left > nearest_right), right + int(nearest_right > nearest_left)
        if terminated or truncated:
            break
    return left, right, info["coverage"]


def test_a_single_reflex_alone_keeps_its_wall_on_its_side(make_env):
    """reflex:wall_follow_left hugs the wall on its left (measured 289 left-heavy steps to 11 right-heavy over
    300 steps); reflex:wall_follow_right mirrors it on the same maze, and reflex:forward (the wanderer's program,
    turning away from either side) has no side (128 to 167)."""
    left, right, _ = _side_contacts(make_env, "reflex:wall_follow_left")
    assert left >= 4 * right and left > 150, (left, right)
    left, right, _ = _side_contacts(make_env, "reflex:wall_follow_right")
    assert right >= 4 * left and right > 150, (left, right)
    forward, wander = _side_contacts(make_env, "reflex:forward"), _side_contacts(make_env, "wander")
    assert forward == wander  # the same program, preset and generator under two names
    assert max(forward[:2]) < 2 * min(forward[:2]), forward


def test_eval_takes_a_reflex_policy_and_refuses_an_unknown_one_in_one_line(capsys):
    argv = ["eval", "--policy", "reflex:wall_follow_left", "--seeds", "2", "--episode-steps", "20", "--no-progress"]
    assert cli_main(argv) == 0
    assert "evaluating reflex:wall_follow_left" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:  # argparse's own error: usage, then one line, exit 2
        cli_main(["eval", "--policy", "reflex:nope", "--seeds", "1"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--policy" in err and "'reflex:nope'" in err and "reflex:wall_follow_left" in err, err
    with pytest.raises(ValueError, match=r"unknown reflex policy 'reflex:nope'; allowed: reflex:forward"):
        policy_factory("reflex:nope")


def test_reflex_costs_charges_chemotaxis_far_more_effort_than_wall_following():
    """scripts/reflex_costs.py, the diagnostic behind docs/training.md's foraging limit: chemotaxis steers
    bang-bang (jerk |Δa|² per step 0.99-1.74 on mazes 10000-10004 x 300 steps), wall-following smoothly
    (0.030-0.056): ratios 27-37 measured; asserted > 8. Bad input exits 2 in one line."""
    costs = _script("reflex_costs")
    chemotaxis = costs.costs("reflex:chemotaxis", "procedural:9x9", [10001], 300)
    wall = costs.costs("reflex:wall_follow_left", "procedural:9x9", [10001], 300)
    assert chemotaxis["steps"] == wall["steps"] == 300
    assert chemotaxis["jerk"] > 8 * wall["jerk"] > 0
    assert costs.main(["--policies", "reflex:nope"]) == 2
    assert costs.main(["--steps", "1"]) == 2
