"""Deep critics: per-channel return normalisation and the replayed-critic memory (opt-in aids for rare rewards)."""

import numpy as np
import pytest
import torch

from embodied.brain.dopamine.critics import ChannelCritics, CriticReplay

torch.set_num_threads(1)


def _ring_critic(return_norm: bool, updates: int = 200, seed: int = 0) -> np.ndarray:
    """Walk a ring of 10 one-hot states. Channel 'dense' pays 30 ± 20 every step; channel 'rare' pays 1
    on entering state 9. Returns the rare channel's V over the 10 states after training."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n, T, B = 10, 40, 4
    critic = ChannelCritics(n, ["dense", "rare"], [0.5], units=32, lr=1e-3, gamma=0.9, lam=0.9, return_norm=return_norm)
    eye = torch.eye(n)
    for _ in range(updates):
        states = (rng.integers(0, n, B)[None] + np.arange(T + 1)[:, None]) % n
        rewards = np.stack([30.0 + 20.0 * rng.standard_normal((T, B)), (states[1:] == n - 1)], -1)
        mask = torch.ones(T, B)
        loss, _, _ = critic.loss(
            eye[torch.as_tensor(states)], torch.as_tensor(rewards, dtype=torch.float32), 0.9 * mask, mask
        )
        assert critic.update(loss)
    return critic.evaluate(eye)[0][:, 1]


def test_return_normalisation_lets_a_rare_small_reward_shape_its_critic():
    """The failure seen in the conditioning box, in miniature: next to a large noisy dense return, the
    rare channel's critic learns only its mean (flat V); with per-channel normalisation it learns where
    the reward comes from (V rises towards the rewarded state, drops after it)."""
    plain, normed = _ring_critic(False), _ring_critic(True)
    assert np.ptp(plain) < 0.05  # flat: reward minus a constant
    assert normed[8] - normed[3] > 0.4  # just before the reward vs far from it
    assert normed[8] > normed[9] + 0.4  # the reward was just collected: value drops
    assert np.all(np.diff(normed[:9]) > 0)  # discounting: V grows as the reward nears


def test_return_norm_state_is_saved_with_the_weights():
    critic = ChannelCritics(4, ["a", "b"], [0.5], units=8, return_norm=True)
    assert "return_var" in critic.state_dict() and torch.all(critic.return_var < 0)  # unseen
    feats, mask = torch.randn(9, 2, 4), torch.ones(8, 2)
    critic.loss(feats, torch.stack([torch.full((8, 2), 5.0), torch.randn(8, 2)], -1), 0.9 * mask, mask)
    assert torch.all(critic.return_var >= 0)
    assert "return_var" not in ChannelCritics(4, ["a"], [0.5], units=8).state_dict()  # default: unchanged layout


def test_critic_replay_windows_are_contiguous_and_masked_at_episode_starts():
    memory = CriticReplay(capacity=20, num_envs=2, feature_dim=1, num_channels=1)
    for t in range(33):  # wraps the ring; the feature is the step index, episodes start every 10 steps
        memory.add(
            [
                {
                    "features": np.full((2, 1), t, np.float32),
                    "reward": np.full((2, 1), t, np.float32),
                    "is_first": np.full(2, t % 10 == 0),
                }
            ]
        )
    assert len(memory) == 20
    feats, rewards, mask = memory.sample(64, 5, np.random.default_rng(0))
    assert feats.shape == (6, 64, 1) and rewards.shape == (5, 64, 1) and mask.shape == (5, 64)
    steps = feats[..., 0]
    assert steps.min() >= 13 and steps.max() <= 32  # only the 20 newest steps
    assert np.all(np.diff(steps, axis=0) == 1)  # never across the write head
    np.testing.assert_array_equal(rewards[..., 0], steps[1:])  # row t+1's reward: transition t -> t+1
    np.testing.assert_array_equal(mask, (steps[1:] % 10 != 0).astype(np.float32))
    with pytest.raises(ValueError, match="a window needs"):
        CriticReplay(8, 1, 1, 1).sample(1, 4, np.random.default_rng(0))
