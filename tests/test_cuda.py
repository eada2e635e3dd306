"""The GPU path: world-model training, acting and a short real training run on CUDA.

Skipped where torch sees no CUDA device (CI); run on a GPU machine with
``python3 -m pytest -q tests/test_cuda.py``. Every test uses the real env (PyBullet DIRECT).
"""

import numpy as np
import pytest
import torch

from embodied.brain.perception.world_model import WorldModel, WorldModelConfig
from embodied.brain.replay import SequenceReplay
from embodied.train.checkpoint import load_checkpoint
from embodied.train.config import load_config
from embodied.train.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

SMALL = dict(
    image_size=16,
    cnn_depth=8,
    vision_embed=64,
    vector_embed=16,
    mlp_units=64,
    deter=64,
    stoch_groups=8,
    stoch_classes=8,
    hidden=64,
    batch_size=8,
    seq_len=16,
)


def collect(env, steps, seed=0):
    """Random-action steps from a real env into a replay."""
    replay = SequenceReplay(env.observation_space, env.action_space, capacity_steps=steps)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    action_prev, first = np.zeros(env.action_space.shape, np.float32), True
    for _ in range(steps):
        replay.add({k: v[None] for k, v in obs.items()}, action_prev[None], np.array([first]))
        action_prev = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        obs, _, terminated, truncated, _ = env.step(action_prev)
        first = terminated or truncated
        if first:
            obs, _ = env.reset()
    return replay


def test_world_model_trains_on_cuda_and_matches_the_cpu_copy(make_env):
    env = make_env(world="procedural:5x5", task="forage", vision_size=32)
    replay = collect(env, 400)
    wm = WorldModel(env.observation_space, env.action_space, WorldModelConfig(device="cuda", **SMALL))
    assert all(p.device.type == "cuda" for p in wm.parameters())
    rng = np.random.default_rng(0)
    batch = replay.sample(8, 16, rng)
    first = wm.train_step(batch)
    for _ in range(60):
        last = wm.train_step(replay.sample(8, 16, rng))
    assert last["skipped"] == 0 and np.isfinite(last["total"])
    assert wm.train_step(batch)["total"] < first["total"]  # it learned on the GPU

    cpu = WorldModel(env.observation_space, env.action_space, WorldModelConfig(device="cpu", **SMALL))
    cpu.load_state_dict({k: v.cpu() for k, v in wm.state_dict().items()})
    obs = {k: batch[k][:, 0] for k in wm.keys}
    action = batch["action_prev"][:, 0]
    state_gpu, feat_gpu = wm.observe(obs, action, None, np.ones(8, bool))
    state_cpu, feat_cpu = cpu.observe(obs, action, None, np.ones(8, bool))
    assert feat_gpu.device.type == "cuda"
    # the posterior samples a categorical latent: compare the deterministic part and a mode prediction
    torch.testing.assert_close(state_gpu.deter.cpu(), state_cpu.deter, atol=1e-3, rtol=1e-3)


def test_a_short_training_run_on_cuda_leaves_a_checkpoint_that_loads_on_the_cpu(tmp_path):
    tiny = dict(
        num_envs=2,
        vision_size=16,
        total_steps=256,
        episode_steps=64,
        rollout_steps=32,
        learning_starts=32,
        world_model_overrides=dict(SMALL, batch_size=4, seq_len=8),
        critic_units=32,
        actor_units=16,
        log_every=64,
        checkpoint_every=128,
        video_every=0,
        tensorboard=False,
        min_age=16,
        device="cuda",
    )
    summary = train(load_config(None, tiny), tmp_path / "run", progress=False)
    assert summary["total_steps"] == 256
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt", device="cpu")

    def tensors(x):
        if isinstance(x, torch.Tensor):
            yield x
        elif isinstance(x, dict):
            for v in x.values():
                yield from tensors(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                yield from tensors(v)

    found = [t for t in tensors(ckpt) if t.is_floating_point()]
    assert len(found) > 50 and all(t.device.type == "cpu" for t in found)
