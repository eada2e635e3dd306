"""The perception part on its own: a real env's observations through a tiny world model and the
intrinsic rewards; its state round-trips exactly, including the rewards' running scales."""

import io

import gymnasium as gym
import numpy as np
import pytest
import torch

import embodied  # noqa: F401  (registers the env id)
from embodied import ENV_ID
from embodied.brain.perception.config import PerceptionConfig
from embodied.brain.perception.part import Perception

torch.set_num_threads(1)

TINY_WM = {
    "image_size": 16,
    "cnn_depth": 4,
    "vision_embed": 32,
    "vector_embed": 8,
    "mlp_units": 32,
    "mlp_layers": 1,
    "deter": 32,
    "stoch_groups": 4,
    "stoch_classes": 4,
    "hidden": 32,
    "batch_size": 2,
    "seq_len": 6,
}
TINY_IR = {"ensemble_units": 16, "coherence_units": 16, "episodic_capacity": 64, "lag_updates": 2}


@pytest.fixture(scope="module")
def rollout():
    """Six steps of a real env under random actions: ``(obs list, action_prev list)``."""
    env = gym.make(ENV_ID, world="procedural:9x9", task="explore", vision_size=16)
    obs, _ = env.reset(seed=5)
    rng = np.random.default_rng(0)
    observations, actions = [obs], [np.zeros(3, np.float32)]
    for _ in range(5):
        action = rng.uniform(-1, 1, 3).astype(np.float32)
        obs, *_ = env.step(action)
        observations.append(obs), actions.append(action)
    yield env, observations, actions
    env.close()


def perception(env, intrinsic=True, seed=0):
    cfg = PerceptionConfig(world_model_overrides=TINY_WM, intrinsic=intrinsic, intrinsic_overrides=TINY_IR)
    return Perception(cfg, env.observation_space, env.action_space, num_envs=1, seed=seed, device="cpu")


def run(part, observations, actions, learn=True, predict=False):
    out = []
    for t, (obs, action) in enumerate(zip(observations, actions)):
        torch.manual_seed(t)  # the latent is sampled: the same draw for every part compared
        batch = {k: np.asarray(v)[None] for k, v in obs.items()}
        out.append(part.step(batch, action[None], np.array([t == 0]), learn=learn, predict=predict))
    return out


def replay_batch(observations, actions):
    """The rollout as a world-model replay batch ``[B=2, T=6]`` (both rows the same episode)."""
    batch = {k: np.stack([np.asarray(o[k]) for o in observations])[None].repeat(2, 0) for k in observations[0]}
    batch["action_prev"] = np.stack(actions)[None].repeat(2, 0)
    batch["is_first"] = np.eye(len(actions), dtype=bool)[0][None].repeat(2, 0)
    return batch


def saved(state: dict) -> dict:
    """``state`` through a checkpoint file: plain data that loads with ``weights_only``."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_a_state_dict_round_trip_reproduces_the_next_steps_exactly(rollout):
    env, observations, actions = rollout
    trained = perception(env)
    run(trained, observations, actions)  # moves the intrinsic rewards' running scales
    losses = trained.learn(replay_batch(observations, actions))
    assert {"world_model", "world_model_kl", "world_model_next", "intrinsic"} <= set(losses)
    assert trained.intrinsic.updates_seen == 1 and trained.nan_skips == 0
    clone = perception(env, seed=1)  # other initial weights: everything must come from the state
    clone.load_state_dict(saved(trained.state_dict()))
    assert clone.intrinsic.updates_seen == 1
    assert clone.intrinsic.scales["novelty"].weight == trained.intrinsic.scales["novelty"].weight > 0
    trained.reset(1), clone.reset(1)
    for a, b in zip(run(trained, observations, actions), run(clone, observations, actions)):
        assert np.array_equal(a.features, b.features)
        assert a.intrinsic.keys() == b.intrinsic.keys() == {"prediction_success", "novelty", "coherence"}
        assert all(np.array_equal(a.intrinsic[c], b.intrinsic[c]) for c in a.intrinsic)
    fresh = perception(env, seed=1)  # the check can fail: without the state the steps differ
    fresh_steps = run(fresh, observations, actions)
    assert not np.array_equal(fresh_steps[-1].features, run(trained, observations, actions)[-1].features)


def test_the_predicted_frame_comes_from_the_second_step_and_intrinsic_off_gives_no_rewards(rollout):
    env, observations, actions = rollout
    part = perception(env, intrinsic=False)
    steps = run(part, observations[:3], actions[:3], predict=True)
    assert steps[0].predicted_vision is None  # nothing perceived yet to predict from
    frame = steps[1].predicted_vision[0]
    assert frame.shape == observations[1]["vision"].shape and frame.dtype == np.uint8
    assert all(s.intrinsic == {} for s in steps) and part.intrinsic is None
    assert steps[2].features.shape == (1, part.feature_dim)
    assert "intrinsic" not in part.learn(replay_batch(observations, actions))
