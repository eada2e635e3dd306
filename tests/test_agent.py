"""The agent: tonic dopamine sets vigour, the Policy interface and its extras, the NaN guard."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from tiny import TINY_INTRINSIC, TINY_WORLD_MODEL

import embodied  # noqa: F401
from embodied import ENV_ID
from embodied.brain.agent import Agent, AgentPolicy
from embodied.train.config import load_config

torch.set_num_threads(1)


def tiny(**overrides):
    base = dict(
        num_envs=1,
        vision_size=16,
        world_model_overrides=TINY_WORLD_MODEL,
        device="cpu",
        critic_units=32,
        actor_units=16,
        intrinsic_overrides=TINY_INTRINSIC,
    )
    return load_config(None, {**base, **overrides})


@pytest.fixture(scope="module")
def env_and_obs():
    env = gym.make(ENV_ID, world="procedural:9x9", task="explore", vision_size=16)
    obs, _ = env.reset(seed=3)
    yield env, obs
    env.close()


def batch(obs):
    return {k: np.asarray(v)[None] for k, v in obs.items()}


def test_tonic_rises_with_reward_rate_and_raises_top_speed(env_and_obs):
    env, obs = env_and_obs
    cfg = tiny(intrinsic=False, initial_modules=["forward"], plasticity=False, tonic_rate=0.05, effort_scale=0.0)
    rich, poor = (Agent(cfg.brain, env.observation_space, env.action_space, device="cpu") for _ in range(2))
    forward = {"rich": [], "poor": []}
    for t in range(120):
        for label, agent, food in (("rich", rich, 1.0), ("poor", poor, 0.0)):
            actions, info = agent.step(batch(obs), [food], [t == 0])
            forward[label].append(actions[0, 0])
    assert rich.dopamine.tonic.level[0] > 0.5 > abs(poor.dopamine.tonic.level[0])
    assert rich.dopamine.tonic.vigour()[0] > poor.dopamine.tonic.vigour()[0]
    assert np.mean(forward["rich"][-20:]) > np.mean(forward["poor"][-20:]) * 1.2
    assert rich.dopamine.tonic.temperature()[0] < poor.dopamine.tonic.temperature()[0]  # a rich world is exploited


def test_fixed_tonic_stays_put(env_and_obs):
    env, obs = env_and_obs
    agent = Agent(tiny(intrinsic=False, fixed_tonic=True).brain, env.observation_space, env.action_space, device="cpu")
    for t in range(30):
        agent.step(batch(obs), [1.0], [t == 0])
    assert agent.dopamine.tonic.level[0] == 0.0


def test_policy_interface_and_extras(env_and_obs):
    env, obs = env_and_obs
    policy = AgentPolicy(Agent(tiny().brain, env.observation_space, env.action_space, device="cpu"))
    policy.reset()
    for t in range(3):
        action, extras = policy.act(obs)
        obs, *_ = env.step(action)
    assert action.shape == (3,) and np.all(np.abs(action) <= 1)
    assert set(extras["rpe"]) == {"prediction_success", "novelty", "coherence", "food", "effort"}
    assert set(extras["rewards"]) == set(extras["rpe"])
    assert isinstance(extras["tonic"], float) and isinstance(extras["module"], str)
    pred = extras["predicted_vision"]
    assert pred.shape == obs["vision"].shape and pred.dtype == np.uint8
    with pytest.raises(ValueError, match="one env"):
        policy.reset(num_envs=2)


def test_scalar_dopamine_has_one_channel(env_and_obs):
    env, obs = env_and_obs
    agent = Agent(
        tiny(scalar_dopamine=True, intrinsic=False).brain, env.observation_space, env.action_space, device="cpu"
    )
    for t in range(3):
        _, info = agent.step(batch(obs), [0.0], [t == 0])
    assert list(info["rpe"]) == ["total"]
    assert set(info["rewards"]) == {"prediction_success", "novelty", "coherence", "food", "effort"}


def test_nan_loss_is_caught_and_weights_unchanged(env_and_obs):
    env, obs = env_and_obs
    agent = Agent(tiny(intrinsic=False).brain, env.observation_space, env.action_space, device="cpu")
    records = [agent.step(batch(obs), [0.0], [t == 0])[1]["record"] for t in range(6)]
    records[3]["reward"] = records[3]["reward"] * np.nan
    before = {k: v.clone() for k, v in agent.dopamine.critics.state_dict().items()}
    actors_before = {
        n: [p.detach().clone() for p in m.actor.parameters()]
        for n, m in agent.basal_ganglia.population.actors().items()
    }
    out = agent.learn(records)
    assert out["nan_skips"] >= 1 and agent.nan_skips >= 1
    after = agent.dopamine.critics.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    for name, params in actors_before.items():
        for p0, p1 in zip(params, agent.basal_ganglia.population.modules[name].actor.parameters()):
            assert torch.isfinite(p1).all()
    # a clean rollout trains again
    clean = [agent.step(batch(obs), [0.0], [t == 0])[1]["record"] for t in range(6)]
    skips = agent.nan_skips
    agent.learn(clean)
    assert agent.nan_skips == skips
    assert any(not torch.equal(before[k], agent.dopamine.critics.state_dict()[k]) for k in before)
