"""The dopamine part on its own: hand-made rewards give the TD errors the formulas say, the critics
learn from a rollout and hand on an advantage, and its state (tonic level, replay memory) round-trips."""

import io

import gymnasium as gym
import numpy as np
import pytest
import torch

from embodied.brain.dopamine.config import DopamineConfig
from embodied.brain.dopamine.part import Dopamine

torch.set_num_threads(1)
FEATURES = 6
SPACE = gym.spaces.Dict(
    {
        "vision": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8),
        "scent": gym.spaces.Box(-10, 10, (2,), np.float32),
    }
)
NO_INTRINSIC: dict = {}


def dopamine(num_envs=2, **overrides):
    cfg = DopamineConfig(critic_units=8, critic_taus=[0.3, 0.7], **overrides)
    part = Dopamine(cfg, FEATURES, SPACE, num_envs, seed=0, device=torch.device("cpu"))
    with torch.no_grad():  # a critic that already predicts something (its last layer starts at zero)
        torch.manual_seed(0)
        part.critics.net[-1].weight.normal_(0.0, 0.5)
    return part


def step(part, t, features, food, action_prev, action_prev2, obs=None):
    B = len(features)
    is_first = np.full(B, t == 0)
    feats = np.asarray(features, np.float32)
    obs = obs or {"vision": np.zeros((B, 8, 8, 3), np.uint8), "scent": np.zeros((B, 2), np.float32)}
    return part.step(
        torch.as_tensor(feats), feats, obs, is_first, NO_INTRINSIC, np.asarray(food), action_prev, action_prev2
    )


def test_td_errors_follow_the_formula_for_food_and_effort():
    part = dopamine()
    rng = np.random.default_rng(0)
    f0, f1 = rng.normal(size=(2, FEATURES)), rng.normal(size=(2, FEATURES))
    still = np.zeros((2, 3), np.float32)
    first = step(part, 0, f0, [5.0, 5.0], still, still)
    assert all(np.all(first.rpe[c] == 0) for c in part.channels)  # nothing to predict at an episode start
    assert np.all(first.rewards["food"] == 0)
    moved = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.0]], np.float32)  # a_{t−1}; a_{t−2} was rest
    out = step(part, 1, f1, [1.0, 0.0], moved, still)
    v0, s0 = part.critics.evaluate(torch.as_tensor(f0, dtype=torch.float32))
    v1, _ = part.critics.evaluate(torch.as_tensor(f1, dtype=torch.float32))
    food, effort = part.channels.index("food"), part.channels.index("effort")
    gamma, eps = part.cfg.gamma, part.cfg.precision_eps
    assert np.allclose(out.rewards["effort"], [-1.0, -0.25])  # −k |a_{t−1} − a_{t−2}|², k = 1
    assert np.allclose(out.rpe_raw["food"], [1.0, 0.0] + gamma * v1[:, food] - v0[:, food], atol=1e-6)
    assert np.allclose(out.rpe_raw["effort"], [-1.0, -0.25] + gamma * v1[:, effort] - v0[:, effort], atol=1e-6)
    assert np.allclose(out.rpe["food"], out.rpe_raw["food"] / np.sqrt(s0[:, food] + eps), atol=1e-6)
    assert np.allclose(part.value_estimate("food"), v1[:, food])
    with pytest.raises(KeyError, match="no critic for channel 'total'"):
        part.value_estimate("total")


def test_the_tonic_level_follows_the_weighted_reward_and_vigour_rises_with_it():
    part = dopamine(num_envs=1, tonic_rate=0.5)
    still = np.zeros((1, 3), np.float32)
    signals = [step(part, t, np.zeros((1, FEATURES)), [1.0], still, still) for t in range(3)]
    w_food = part.weights["food"]
    assert signals[0].tonic[0] == 0.0  # an episode start leaves the level alone
    assert signals[1].tonic[0] == pytest.approx(0.5 * w_food) and signals[2].tonic[0] == pytest.approx(0.75 * w_food)
    assert signals[2].vigour[0] > signals[0].vigour[0] and signals[2].temperature[0] < signals[0].temperature[0]
    part.reset(3)  # more envs: each starts at the mean level
    assert np.allclose(part.tonic.level, 0.75 * w_food)


def rollout(part, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    records, still = [], np.zeros((2, 3), np.float32)
    for t in range(steps):
        feats = rng.normal(size=(2, FEATURES)).astype(np.float32)
        obs = {"vision": rng.integers(0, 255, (2, 8, 8, 3)).astype(np.uint8), "scent": rng.normal(size=(2, 2))}
        out = step(part, t, feats, rng.uniform(0, 1, 2), still, still, obs)
        record = {"features": feats, "reward": out.critic_reward, "is_first": np.full(2, t == 0)}
        if out.critic_input is not None:
            record["critic_input"] = out.critic_input
        records.append(record)
    return records


def test_learn_trains_the_critics_and_hands_on_an_advantage():
    part = dopamine()
    records = rollout(part)
    before = [p.detach().clone() for p in part.critics.net.parameters()]
    losses, advantage, mask = part.learn(records, records)
    assert set(losses) == {"critic"} and np.isfinite(losses["critic"])
    assert advantage.shape == (5, 2, len(part.channels)) and mask.shape == (5, 2) and mask.all()
    assert np.abs(advantage).sum() > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, part.critics.net.parameters()))


def saved(state: dict) -> dict:
    """``state`` through a checkpoint file: plain data that loads with ``weights_only``."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_the_state_round_trips_with_the_replay_memory_and_its_sampler():
    opt_in = dict(
        critic_replay_updates=2,
        critic_replay_seq=3,
        critic_replay_batch=2,
        critic_replay_capacity=16,
        critic_senses=True,
    )
    part = dopamine(**opt_in)
    records = rollout(part)
    losses, _, _ = part.learn(records, records)
    assert np.isfinite(losses["critic_replay"]) and records[0]["critic_input"].shape == (2, part.critic_input.dim)
    clone = dopamine(**opt_in)
    clone.load_state_dict(saved(part.state_dict()))
    assert np.array_equal(clone.tonic.level, part.tonic.level)
    more = rollout(part, seed=1)
    a, b = part.learn(more, more), clone.learn(more, more)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])  # same critics, same memory, same replayed windows
