"""The acting path's shortcuts (issue 13's throughput) compute what the long way computes.

* prediction success and episodic novelty reuse the prior and posterior logits ``observe`` already
  computed (``LatentState.logits``) instead of running the GRU, the prior and the posterior heads
  again: the rewards must equal the long way's exactly;
* ``prediction_every = k`` (opt-in) decodes every k-th step and holds the value in between: the
  decoded steps must equal the every-step rewards, the held ones the last decoded value, and an
  episode start must not inherit the previous episode's value.

A real env's observations through a tiny world model whose next-step heads are moved off
copy-last (their output layers start at zero, which would make every prior predict the same
frame and the comparison unable to fail) and whose lagged copy differs from it.
"""

from __future__ import annotations

import copy
import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

import embodied  # noqa: F401  (registers the env id)
from embodied import ENV_ID
from embodied.brain.perception.intrinsic import IntrinsicConfig, IntrinsicRewards
from embodied.brain.perception.world_model import WorldModel, WorldModelConfig
from tests.tiny import TINY_INTRINSIC, TINY_WORLD_MODEL

torch.set_num_threads(1)
STEPS, ENVS = 7, 2


@pytest.fixture(scope="module")
def stream():
    """Seven steps of two real envs under random actions: ``(env, [(obs, action_prev, is_first)])``;
    env 1 starts a new episode at step 4."""
    envs = [gym.make(ENV_ID, world="procedural:9x9", task="explore", vision_size=16) for _ in range(ENVS)]
    obs = [env.reset(seed=3 + i)[0] for i, env in enumerate(envs)]
    rng = np.random.default_rng(0)
    rows, action_prev = [], np.zeros((ENVS, 3), np.float32)
    for t in range(STEPS):
        first = np.array([t == 0, t in (0, 4)])
        if first[1] and t > 0:
            obs[1] = envs[1].reset(seed=9)[0]
        action_prev = np.where(first[:, None], 0.0, action_prev).astype(np.float32)
        rows.append(({k: np.stack([o[k] for o in obs]) for k in obs[0]}, action_prev, first))
        action_prev = rng.uniform(-1, 1, (ENVS, 3)).astype(np.float32)
        obs = [env.step(a)[0] for env, a in zip(envs, action_prev)]
    yield envs[0], rows
    for env in envs:
        env.close()


def models(env, prediction_every: int = 1) -> tuple[WorldModel, IntrinsicRewards]:
    config = WorldModelConfig(**{**TINY_WORLD_MODEL, "device": "cpu", "seed": 0})
    wm = WorldModel(env.observation_space, env.action_space, config)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for head in wm.next_decoders.values():  # off copy-last: the prior now matters to the prediction
            for p in head.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=generator))
        wm.copy_error.fill_(0.01)
        rewards = IntrinsicRewards(wm, IntrinsicConfig(**TINY_INTRINSIC, prediction_every=prediction_every), ENVS)
        for p in wm.parameters():  # the lagged copy is the model before this step
            p.add_(0.02 * torch.randn(p.shape, generator=generator))
    return wm, rewards


def test_reused_logits_give_exactly_what_running_the_heads_again_gives(stream):
    env, rows = stream
    wm, rewards = models(env)
    before = lagged_before = None
    for t, (obs, action, first) in enumerate(rows):
        torch.manual_seed(t)
        after, _ = wm.observe(obs, action, before, first)
        lagged_after, _ = rewards.lagged.observe(obs, action, lagged_before, first, after.percept)
        if before is not None:
            a = torch.as_tensor(action)
            short = rewards.prediction_success(before, lagged_before, a, after.percept, after, lagged_after)
            long = rewards.prediction_success(before, lagged_before, a, after.percept)
            going_on = ~torch.as_tensor(first)  # where an episode starts the caller zeroes it
            assert torch.equal(short[going_on], long[going_on])
            assert short[going_on].abs().min() > 0  # a real difference of two real errors
            stripped = dataclasses.replace(after, logits=None)
            assert torch.equal(
                rewards._posterior_probs(after, after.embeds), rewards._posterior_probs(stripped, after.embeds)
            )
        before, lagged_before = after, lagged_after


def run(wm, rewards, rows) -> list[dict[str, np.ndarray]]:
    out, before = [], None
    for t, (obs, action, first) in enumerate(rows):
        torch.manual_seed(t)  # the latent is sampled: the same draws for every run compared
        after, _ = wm.observe(obs, action, before, first)
        out.append(rewards.step(obs, action, first, before, after, update_scale=False))  # raw values (scale 1)
        before = after
    return out


def test_prediction_every_k_decodes_every_kth_step_and_holds_the_value_between(stream):
    env, rows = stream
    wm, every = models(env, prediction_every=1)
    sparse = copy.deepcopy(every)
    sparse.config = dataclasses.replace(every.config, prediction_every=3)
    sparse.wm = every.wm  # the same model, not a copy (it is held in a list, outside the module)
    full, held = run(wm, every, rows), run(wm, sparse, rows)
    ps = np.stack([r["prediction_success"] for r in full])  # (T, B)
    got = np.stack([r["prediction_success"] for r in held])
    np.testing.assert_array_equal(got[[0, 3, 6]], ps[[0, 3, 6]])  # decoded steps: the every-step value
    assert np.all(ps[3] != 0)
    np.testing.assert_array_equal(got[1:3], 0.0)  # episode start (step 0): nothing decoded yet
    np.testing.assert_array_equal(got[4:6, 0], [ps[3, 0], ps[3, 0]])  # env 0 holds step 3's value
    np.testing.assert_array_equal(got[4:6, 1], 0.0)  # env 1 restarted at step 4: not the last episode's
    assert not np.array_equal(got[4:6, 0], ps[4:6, 0])  # the held value is not what decoding would give
    for channel in ("novelty", "coherence"):  # the other channels are untouched
        np.testing.assert_array_equal(np.stack([r[channel] for r in held]), np.stack([r[channel] for r in full]))


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_prediction_every_must_be_a_whole_number_of_steps(bad):
    with pytest.raises(ValueError, match="prediction_every"):
        IntrinsicConfig(prediction_every=bad).validated()
