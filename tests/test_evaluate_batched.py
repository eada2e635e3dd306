"""Batched held-out evaluation: several mazes stepped together, one policy call for all of them.

What must hold, and is tested here with real envs and a real tiny checkpoint:

* a policy whose rows keep their own state and generator (reference policies, oracles, in a
  PolicyStack) gives exactly the sequential figures, maze by maze;
* a maze that its env ends early is never stepped again and changes no other maze's figures
  (exactly, for such a policy); the agent keeps running the others to their full length;
* the batched agent gets the same inputs as the one-env agent (a batch of one acts identically);
* a checkpoint's batched evaluation has the sequential one's keys, seeds and step counts, and
  acting changes no weight.

What need not hold: a stochastic agent's batched figures equal to its sequential ones (the batch
shares one random stream), so no test asks for that.
"""

import importlib.util
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from tiny import TINY_INTRINSIC, TINY_WORLD_MODEL

from embodied.brain.policies import PolicyStack, WanderPolicy
from embodied.cli import main as cli_main
from embodied.driver import Driver
from embodied.train.checkpoint import load_policy
from embodied.train.config import load_config
from embodied.train.evaluate import (
    evaluate_policy,
    make_eval_env,
    policy_factory,
    run_episode,
    run_episodes_batched,
)
from embodied.train.loop import train

torch.set_num_threads(1)
WORLD = "procedural:7x7:loops=0.3"
SMALL = {"vision_size": 16}
SEEDS = [10_000, 10_001, 10_002]
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A real checkpoint of the tiny agent after 64 steps of real training (a few seconds)."""
    run = tmp_path_factory.mktemp("run")
    cfg = dict(
        num_envs=1,
        vision_size=16,
        total_steps=64,
        episode_steps=32,
        rollout_steps=32,
        learning_starts=16,
        world_model_overrides=TINY_WORLD_MODEL,
        intrinsic_overrides=TINY_INTRINSIC,
        critic_units=32,
        actor_units=16,
        log_every=64,
        checkpoint_every=64,
        video_every=0,
        tensorboard=False,
        min_age=16,
        device="cpu",
    )
    train(load_config(None, cfg), run, progress=False)
    return run / "checkpoints" / "latest.pt"


class CountSteps(gym.Wrapper):
    """A real env that counts the ``step`` calls it receives."""

    def __init__(self, env):
        super().__init__(env)
        self.steps = 0

    def step(self, action):
        self.steps += 1
        return self.env.step(action)


def test_reference_policies_and_oracles_give_the_sequential_figures_batched():
    for name in ("wander", "dfs-oracle"):
        make = policy_factory(name)[0]
        one_by_one = evaluate_policy(make, WORLD, "explore", SEEDS, 60, env_kwargs=SMALL)
        for batch in (3, 2):  # all at once, and a batch of two then a batch of one
            batched = evaluate_policy(make, WORLD, "explore", SEEDS, 60, env_kwargs=SMALL, batch=batch)
            assert batched["batch"] == batch and one_by_one["batch"] == 1
            assert batched["episodes"] == one_by_one["episodes"], (name, batch)
            assert batched["coverage_ci"] == one_by_one["coverage_ci"]
    assert max(one_by_one["coverage"]) > min(one_by_one["coverage"])  # the mazes differ: rows cannot be swapped


def test_a_maze_its_env_ends_early_is_not_stepped_again_and_changes_no_other_maze():
    lengths = [60, 25, 60]  # the middle maze's time limit ends it at step 25
    envs = [CountSteps(make_eval_env(WORLD, "explore", n, SMALL)) for n in lengths]
    stack = PolicyStack([WanderPolicy(seed) for seed in SEEDS])
    batched = run_episodes_batched(envs, stack, SEEDS, 60)
    assert [e["steps"] for e in batched] == lengths
    assert [env.steps for env in envs] == lengths
    alone = [run_episode(env, WanderPolicy(seed), seed, 60) for env, seed in zip(envs, SEEDS)]
    assert batched == alone  # exactly each maze's figures alone: the early end changed nothing for the others
    assert alone[1]["steps"] == 25 and alone[0]["steps"] == alone[2]["steps"] == 60
    for env in envs:
        env.close()


def test_the_agent_runs_the_others_on_when_one_maze_ends(checkpoint):
    lengths = [40, 15, 40]
    envs = [CountSteps(make_eval_env(WORLD, "explore", n, SMALL)) for n in lengths]
    policy = load_policy(checkpoint, env=envs[0], num_envs=3, predict=False)
    episodes = run_episodes_batched(envs, policy, SEEDS, 40)
    assert [e["steps"] for e in episodes] == lengths and [env.steps for env in envs] == lengths
    assert [e["seed"] for e in episodes] == SEEDS
    assert all(0 < e["coverage"] <= 1 and e["steps_to_90"] <= e["steps"] for e in episodes)
    for env in envs:
        env.close()


def test_a_batch_of_one_agent_acts_exactly_as_the_one_env_agent(checkpoint):
    """The batched wrapper hands the agent the same observation, reward and episode-start flags."""
    env = make_eval_env(WORLD, "forage", 30, SMALL)
    one = load_policy(checkpoint, env=env)
    batched = load_policy(checkpoint, env=env, num_envs=1)
    obs, _ = env.reset(seed=SEEDS[0])
    torch.manual_seed(5)
    one.reset()
    a1 = [one.act(obs)]
    one.observe_reward(1.0)  # as if it had eaten: the food channel must carry it to the next step
    a1.append(one.act(obs))
    torch.manual_seed(5)
    batched.reset()
    b1 = [batched.act({k: v[None] for k, v in obs.items()})]
    batched.observe_reward(np.array([1.0]))
    b1.append(batched.act({k: v[None] for k, v in obs.items()}))
    for (action, extras), (actions, batch_extras) in zip(a1, b1):
        assert np.array_equal(actions[0], action)
        assert {c: v[0] for c, v in batch_extras["rewards"].items()} == extras["rewards"]
        assert {c: v[0] for c, v in batch_extras["rpe"].items()} == extras["rpe"]
        assert batch_extras["module"] == [extras["module"]]
        assert ("predicted_vision" in batch_extras) == ("predicted_vision" in extras)
    assert np.array_equal(b1[1][1]["predicted_vision"][0], a1[1][1]["predicted_vision"])
    assert a1[1][1]["rewards"]["food"] == 1.0
    # and a whole episode through the batched runner equals the one-env driver's
    torch.manual_seed(6)
    alone = run_episode(env, load_policy(checkpoint, env=env, predict=False), SEEDS[1], 30)
    torch.manual_seed(6)
    together = run_episodes_batched([env], load_policy(checkpoint, env=env, num_envs=1, predict=False), SEEDS[1:2], 30)
    assert together == [alone]
    with pytest.raises(ValueError, match="'vision' of shape"):
        batched.act(obs)  # one unbatched observation to a batched policy
    env.close()


def test_a_checkpoint_evaluates_batched_with_the_sequential_keys_seeds_and_steps_and_learns_nothing(checkpoint):
    make, env_kwargs = policy_factory(str(checkpoint))
    assert env_kwargs["vision_size"] == 16
    seeds = SEEDS[:2]
    one_by_one = evaluate_policy(make, WORLD, "explore", seeds, 20, env_kwargs=env_kwargs)
    batched = evaluate_policy(make, WORLD, "explore", seeds, 20, env_kwargs=env_kwargs, batch=8)
    assert batched["batch"] == 2 and one_by_one["batch"] == 1  # at most the number of mazes
    assert set(batched) == set(one_by_one) and batched["seeds"] == one_by_one["seeds"] == seeds
    assert [e["seed"] for e in batched["episodes"]] == seeds
    assert [set(e) for e in batched["episodes"]] == [set(e) for e in one_by_one["episodes"]]
    assert all(e["steps"] == 20 and 0 < e["coverage"] <= 1 for e in batched["episodes"])
    envs = [make_eval_env(WORLD, "explore", 20, env_kwargs) for _ in seeds]
    policy = make.batched(envs, seeds)
    before = {k: v.clone() for k, v in _tensors(policy.agent.state_dict())}
    run_episodes_batched(envs, policy, seeds, 20)
    after = dict(_tensors(policy.agent.state_dict()))
    assert before.keys() == after.keys() and len(before) > 10
    for key in before:  # acting does not learn: every weight as loaded (the tonic level is state, not a weight)
        if not key.endswith("/tonic"):
            torch.testing.assert_close(after[key], before[key], rtol=0, atol=0, equal_nan=True, msg=key)
    assert not torch.equal(after["/dopamine/tonic"], before["/dopamine/tonic"])  # and the comparison can differ
    for env in envs:
        env.close()


def _tensors(tree, prefix=""):
    if isinstance(tree, torch.Tensor):
        yield prefix, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from _tensors(value, f"{prefix}/{key}")
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from _tensors(value, f"{prefix}/{i}")


def test_the_batched_agent_restarts_the_envs_a_vector_env_restarts(checkpoint):
    """Under the driver and a vector env (same-step autoreset) an env's first step has no RPE."""
    envs = gym.vector.SyncVectorEnv(
        [lambda: make_eval_env(WORLD, "explore", 3, SMALL) for _ in range(2)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    policy = load_policy(checkpoint, env=envs, num_envs=2, predict=False)
    steps = []
    driver = Driver(envs, policy, on_step=[steps.append])
    driver.reset(seed=SEEDS[:2])
    driver.run(steps=5)
    rpe = [np.abs(np.stack(list(s.extras["rpe"].values()))).sum(0) for s in steps]
    assert [bool(s.first.all()) for s in steps] == [True, False, False, True, False]
    assert np.all(rpe[0] == 0) and np.all(rpe[3] == 0)  # episode starts: nothing to predict an error from
    assert np.all(rpe[1] > 0) and np.all(rpe[4] > 0)
    envs.close()


@pytest.mark.parametrize("value", ["0", "65", "-3"])
def test_a_batch_out_of_range_is_one_line_and_exit_2(capsys, value):
    rc = cli_main(["eval", "--policy", "random", "--seeds", "2", "--episode-steps", "5", "--batch", value])
    assert rc == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"embodied eval: --batch {value}: allowed 1..64"]


def test_a_batch_that_is_no_number_is_argparses_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["eval", "--policy", "random", "--batch", "two"])
    assert exit_.value.code == 2 and "--batch: invalid int value: 'two'" in capsys.readouterr().err


def test_eval_batches_a_checkpoints_mazes_by_default(checkpoint, tmp_path, capsys):
    out = tmp_path / "eval.json"
    argv = ["eval", str(checkpoint), "--world", WORLD, "--seeds", "2", "--episode-steps", "12", "--no-progress"]
    assert cli_main(argv + ["--json", str(out)]) == 0
    assert "2 at once" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["batch"] == 2 and [e["steps"] for e in result["episodes"]] == [12, 12]
    assert cli_main(argv + ["--batch", "1", "--json", str(out)]) == 0
    assert "1 at once" in capsys.readouterr().out and json.loads(out.read_text())["batch"] == 1


def test_the_benchmark_script_runs_and_prints_the_ratio(checkpoint, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_eval", SCRIPTS / "bench_eval.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    argv = [str(checkpoint), "--world", WORLD, "--mazes", "2", "--episode-steps", "6", "--with-predicted-frame"]
    assert bench.main(argv + ["--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "batched" in printed and "sequential, predicted frame" in printed and "paired over the mazes" in printed
    rows = json.loads(out.read_text())["runs"][0]["rows"]
    assert rows["batched"]["batch"] == 2 and rows["sequential"]["batch"] == 1 and rows["sequential"]["speedup"] == 1
