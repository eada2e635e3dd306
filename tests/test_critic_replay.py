"""The opt-in critic-training path (replayed λ-returns, return normalisation, senses and memory traces)
in real short training runs: it trains, it is saved and resumed exactly, and it stays off by default."""

import csv

import numpy as np
import pytest
import torch
from test_train import TINY as TRAIN_TINY  # the tiny real training setup the training tests use

from embodied.train.checkpoint import load_checkpoint
from embodied.train.config import ConfigError, TrainConfig, load_config
from embodied.train.loop import train

torch.set_num_threads(1)

TINY = dict(TRAIN_TINY, world="conditioning_box", task="conditioning", total_steps=128, checkpoint_every=64)
REPLAY = dict(
    critic_replay_updates=4,
    critic_replay_seq=16,
    critic_replay_batch=4,
    critic_replay_capacity=96,
    critic_return_norm=True,
    critic_senses=True,
    critic_sense_traces=[2, 8],
)


def rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_replayed_critic_updates_train_and_resume_exactly(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(load_config(None, dict(TINY, **REPLAY)), whole, progress=False)
    replayed = [float(r["losses/critic_replay"]) for r in rows(whole) if r.get("losses/critic_replay")]
    assert len(replayed) >= 2 and all(np.isfinite(replayed)) and replayed[0] != replayed[-1]
    ckpt = load_checkpoint(whole / "checkpoints" / "latest.pt")["agent"]["dopamine"]
    assert ckpt["critic_replay"]["size"] == 96  # the memory filled and wrapped (128 steps > 96)
    assert torch.all(ckpt["critics"]["return_var"] >= 0)
    # critic input: 2 x 2 x ... latent features + (48 pooled pixels + 4 scent) x (now + 2 traces)
    first_weight = next(k for k in ckpt["critics"] if k.endswith("weight") and not k.startswith("slow"))
    assert ckpt["critics"][first_weight].shape[1] == ckpt["critic_replay"]["features"].shape[-1]
    train(load_config(None, dict(TINY, **REPLAY, total_steps=64)), split, progress=False)
    train(load_config(None, dict(TINY, **REPLAY)), split, resume=True, progress=False)
    strip = lambda rs: [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rs]  # noqa: E731
    assert strip(rows(whole)) == strip(rows(split))
    b = load_checkpoint(split / "checkpoints" / "latest.pt")["agent"]["dopamine"]
    assert all(torch.equal(ckpt["critics"][k], b["critics"][k]) for k in ckpt["critics"])


def test_the_default_run_has_no_replayed_critic_path(tmp_path):
    cfg = TrainConfig()
    dop = cfg.brain.dopamine
    assert (dop.critic_replay_updates, dop.critic_return_norm, dop.critic_senses, dop.critic_sense_traces) == (
        0,
        False,
        False,
        [],
    )
    assert dop.critic_sense_delays == [] and cfg.env.task_options == {}
    train(load_config(None, dict(TINY, total_steps=64)), tmp_path / "run", progress=False)
    assert "losses/critic_replay" not in rows(tmp_path / "run")[-1]
    agent = load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["agent"]["dopamine"]
    assert "critic_replay" not in agent and "return_var" not in agent["critics"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("critic_replay_updates=-1", "critic_replay_updates=-1 must be >= 0"),
        ("critic_replay_capacity=10", "must exceed critic_replay_seq"),
        ("critic_sense_traces=[4]", "needs critic_senses=true"),
        ("critic_slow_rate=0", "critic_slow_rate=0.0 must lie in"),
        ("critic_sense_delays=[5]", "needs critic_senses=true"),
        ("critic_sense_delays=[0]", "whole steps in"),
        ("critic_latent=false", "critic_latent=false needs critic_senses=true"),
    ],
)
def test_bad_critic_training_keys_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])
    with pytest.raises(ConfigError, match="time constants"):
        load_config(None, ["critic_senses=true", "critic_sense_traces=[0.5]"])


def test_the_sense_delay_line_holds_the_senses_of_d_steps_ago():
    """critic_sense_delays: the critic input ends with s_{t-d} for each d, filled with s_0 at an episode start —
    so "the light came on d steps ago" is a feature; checked against the rat's own pooled senses step by step."""
    from embodied.brain.agent import Agent
    from embodied.train.collector import make_single_env

    cfg = load_config(None, dict(TINY, critic_senses=True, critic_sense_traces=[4], critic_sense_delays=[1, 3]))
    env = make_single_env(cfg)
    try:
        agent = Agent(
            cfg.brain, env.observation_space, env.action_space, num_envs=1, seed=cfg.run.seed, device=cfg.run.device
        )
        obs, _ = env.reset(seed=0)
        rng = np.random.default_rng(0)
        senses, inputs = [], []
        for t in range(8):
            batch = {k: np.asarray(v)[None] for k, v in obs.items()}
            # a bright flash on some steps, so consecutive senses differ clearly
            batch["vision"] = (batch["vision"] * 0 + rng.integers(0, 255)).astype(batch["vision"].dtype)
            senses.append(agent.dopamine.critic_input.senses(batch)[0])
            inputs.append(
                agent.dopamine.critic_input.step(
                    np.zeros((1, agent.perception.feature_dim), np.float32), batch, np.array([t == 0])
                )[0]
            )
            obs, *_ = env.step(env.action_space.sample())
    finally:
        env.close()
    D = agent.dopamine.critic_input.sense_dim
    assert inputs[0].shape[0] == agent.dopamine.critic_input.dim == agent.perception.feature_dim + D * 4
    for t, x in enumerate(inputs):
        assert np.allclose(x[-2 * D : -D], senses[max(t - 1, 0)]) and np.allclose(x[-D:], senses[max(t - 3, 0)])
    assert not np.allclose(senses[4], senses[1])  # the check can fail: the delays carry different senses


def test_critics_without_the_latent_read_only_the_senses_and_learn(tmp_path):
    """critic_latent=false: the critic input is the senses, traces and delay line alone (the latent
    never reaches it), and a short real training run learns and resumes with that narrower input."""
    from embodied.brain.agent import Agent
    from embodied.train.collector import make_single_env

    cfg = load_config(
        None, dict(TINY, critic_senses=True, critic_sense_traces=[4], critic_sense_delays=[2], critic_latent=False)
    )
    env = make_single_env(cfg)
    try:
        agent = Agent(
            cfg.brain, env.observation_space, env.action_space, num_envs=1, seed=cfg.run.seed, device=cfg.run.device
        )
        obs, _ = env.reset(seed=0)
        batch = {k: np.asarray(v)[None] for k, v in obs.items()}
        latent = np.full((1, agent.perception.feature_dim), 7.0, np.float32)  # a value no sense takes
        x = agent.dopamine.critic_input.step(latent, batch, np.array([True]))[0]
    finally:
        env.close()
    critic_input = agent.dopamine.critic_input
    assert critic_input.dim == critic_input.sense_dim * 3 == x.shape[0]
    assert not np.any(x == 7.0) and np.allclose(x[: critic_input.sense_dim], critic_input.senses(batch)[0])
    train(
        load_config(
            None,
            dict(
                TINY,
                total_steps=64,
                critic_senses=True,
                critic_sense_delays=[2],
                critic_latent=False,
                critic_replay_updates=2,
                critic_replay_seq=8,
            ),
        ),
        tmp_path / "run",
        progress=False,
    )
    row = rows(tmp_path / "run")[-1]
    assert np.isfinite(float(row["losses/critic"])) and np.isfinite(float(row["losses/critic_replay"]))
    critics = load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["agent"]["dopamine"]["critics"]
    first = next(v for k, v in critics.items() if k.startswith("net.") and v.dim() == 2)
    assert first.shape[1] == critic_input.sense_dim * 2  # senses + one delayed copy, no latent
