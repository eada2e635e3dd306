"""The PPO peers of scripts/ppo_baseline.py: the RND bonus on the real env's senses, a real (tiny) SB3 PPO+RND
run evaluated on held-out mazes, and the command's one-line errors."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ppo_baseline.py"


@pytest.fixture(scope="module")
def ppo_baseline():
    spec = importlib.util.spec_from_file_location("ppo_baseline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _observations(make_env, ppo_baseline, maze: int, steps: int):
    """The RND inputs (vision, touch ‖ proprio) of ``steps`` random-action steps on a 7x7 maze with this seed."""
    env = make_env(world="procedural:7x7", task="explore", vision_size=16, max_episode_steps=steps + 1)
    obs, _ = env.reset(seed=maze)
    rng, seen = np.random.default_rng(maze), []
    for _ in range(steps):
        obs, *_ = env.step(rng.uniform(-1, 1, 3).astype(np.float32))
        seen.append(obs)
    batch = {key: np.stack([o[key] for o in seen]) for key in seen[0]}
    return ppo_baseline.senses_for_rnd(batch, 16)


def test_rnd_bonus_is_larger_on_unseen_observations_than_on_trained_ones(make_env, ppo_baseline):
    """Training the predictor on one maze's observations shrinks their bonus and leaves a never-seen maze's large:
    the novelty signal RND is. Both sets shape the observation statistics, so only the predictor's training tells
    them apart (before it the unseen maze's bonus was 1.6-2.2x the other's; after, 8-10x over 3 network seeds).
    Fails if the predictor does not learn, or learns something other than the target."""
    trained = _observations(make_env, ppo_baseline, maze=1, steps=64)
    unseen = _observations(make_env, ppo_baseline, maze=2, steps=64)
    rnd = ppo_baseline.RandomNetworkDistillation(trained[0].shape[1:], trained[1].shape[1], seed=0)
    rnd.update_normalisation(np.concatenate([trained[0], unseen[0]]), np.concatenate([trained[1], unseen[1]]))
    before = rnd.prediction_error(*trained).mean()
    rnd.train_predictor(*trained, epochs=40, batch_size=16, rng=np.random.default_rng(0))
    after, novel = rnd.prediction_error(*trained).mean(), rnd.prediction_error(*unseen).mean()
    assert after < 0.3 * before, (before, after)
    assert novel > 4 * after, (after, novel)


def test_tiny_ppo_with_rnd_trains_and_writes_one_eval_json_per_training_seed(tmp_path, ppo_baseline, capsys):
    out = tmp_path / "ppo_rnd"
    argv = ["--quick", "--bonus", "rnd", "--task", "explore", "--world", "procedural:5x5:loops=0.3"]
    argv += ["--vision-size", "16", "--seeds", "0", "1", "--out", str(out)]
    assert ppo_baseline.main(argv) == 0
    for seed in (0, 1):
        record = json.loads((out / f"seed_{seed}" / "eval.json").read_text())
        assert record["policy"] == "ppo+rnd" and record["training_seed"] == seed
        assert record["seeds"] == [10_000, 10_001] and record["task"] == "explore" and record["episode_steps"] == 200
        for key in ("coverage", "food_per_1000", "steps_to_50", "steps_to_90", "episodes"):
            assert len(record[key]) == 2, key
        assert all(0 < c <= 1 for c in record["coverage"])
        rollouts = record["train"]["rnd"]["per_rollout"]
        assert record["train"]["steps"] == 64 and len(rollouts["intrinsic_reward"]) == 1  # one 64-step rollout
        # explore has no extrinsic reward: every reward PPO learned from is β·r_i, and r_i > 0
        assert rollouts["intrinsic_reward"][0] > 0
        assert rollouts["reward_mean"][0] == pytest.approx(rollouts["intrinsic_reward"][0], rel=1e-4)
        assert (out / f"seed_{seed}" / "ppo_final.zip").is_file()
    # a rerun with the same spec skips the finished seeds instead of training them again
    assert ppo_baseline.main(argv) == 0
    assert capsys.readouterr().out.count("already holds this spec; skipped") == 2
    # a saved model evaluated with actions sampled as in training
    model = str(out / "seed_0" / "ppo_final.zip")
    argv = ["--model", model, "--sample-actions", "--task", "explore", "--world", "procedural:5x5:loops=0.3"]
    assert (
        ppo_baseline.main([*argv, "--vision-size", "16", "--eval-seeds", "1", "--eval-steps", "30", "--out", str(out)])
        == 0
    )
    record = json.loads((out / "eval.json").read_text())
    assert record["eval_actions"] == "sampled" and record["seeds"] == [10_000] and record["episode_steps"] == 30


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--bonus", "bogus"], "--bonus 'bogus'"),
        (["--task", "swim"], "--task 'swim'"),
        (["--beta", "-1"], "--beta"),
        (["--seeds", "0", "0"], "--seeds"),
        (["--steps", "many"], "--steps"),
        (["--world", "nowhere", "--steps", "8"], "nowhere"),
    ],
)
def test_bad_arguments_are_one_line_errors(ppo_baseline, capsys, tmp_path, argv, named):
    assert ppo_baseline.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err, err
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written
