"""Sequence replay: memory cost and bound, ring overwrite, contiguous windows, episode flags."""

import gymnasium
import numpy as np
import pytest

from embodied.brain.replay import SequenceReplay


def spaces(vision=(64, 64, 3)):
    obs = gymnasium.spaces.Dict(
        {
            "vision": gymnasium.spaces.Box(0, 255, vision, np.uint8),
            "touch": gymnasium.spaces.Box(0, 1, (20,), np.float32),
            "proprio": gymnasium.spaces.Box(-np.inf, np.inf, (10,), np.float32),
            "scent": gymnasium.spaces.Box(0, 1, (4,), np.float32),
        }
    )
    return obs, gymnasium.spaces.Box(-1, 1, (3,), np.float32)


def fill(replay, steps, start=0, episode_len=7):
    for t in range(start, start + steps):
        n = replay.num_envs
        obs = {
            "vision": np.full((n, *replay.fields["vision"].shape), t % 256, np.uint8),
            "touch": np.zeros((n, 20), np.float32),
            "proprio": np.zeros((n, 10), np.float32),
            "scent": np.zeros((n, 4), np.float32),
        }
        obs["touch"][:, 0] = np.arange(n)  # which env
        replay.add(obs, np.zeros((n, 3), np.float32), np.full(n, t % episode_len == 0), reward=np.full(n, float(t)))


def test_bytes_per_step_is_the_documented_sum_and_vision_stays_uint8():
    replay = SequenceReplay(*spaces(), capacity_steps=100)
    # 64*64*3 uint8 + (20 + 10 + 4) float32 + action 3 float32 + is_first + reward float32 + is_terminal
    assert replay.bytes_per_step == 12288 + 34 * 4 + 12 + 1 + 4 + 1 == 12442
    assert replay.data["vision"].dtype == np.uint8
    assert replay.nbytes == replay.capacity * replay.bytes_per_step == 100 * 12442


def test_byte_bound_caps_the_allocation_and_the_smaller_bound_wins():
    replay = SequenceReplay(*spaces(), capacity_bytes=10 * 2**20)
    assert replay.nbytes <= 10 * 2**20 and replay.capacity == 10 * 2**20 // 12442
    both = SequenceReplay(*spaces(), capacity_bytes=10 * 2**20, capacity_steps=50)
    assert both.capacity == 50
    fill(replay, replay.capacity + 300)  # overfill: memory does not grow
    assert replay.nbytes <= 10 * 2**20 and len(replay) == replay.capacity


def test_shapes_come_from_the_space():
    replay = SequenceReplay(*spaces((32, 48, 4)), capacity_steps=64)
    fill(replay, 40)
    batch = replay.sample(5, 8, np.random.default_rng(0))
    assert batch["vision"].shape == (5, 8, 32, 48, 4) and batch["touch"].shape == (5, 8, 20)
    assert batch["is_first"].dtype == bool and batch["action_prev"].shape == (5, 8, 3)


def test_ring_overwrites_oldest_and_windows_never_cross_the_write_head():
    replay = SequenceReplay(*spaces((8, 8, 3)), capacity_steps=50)
    fill(replay, 137)  # wraps around 2.7 times; the newest 50 steps are 87..136
    batch = replay.sample(400, 10, np.random.default_rng(1))
    steps = batch["reward"]
    assert steps.min() >= 87 and steps.max() <= 136
    assert np.all(np.diff(steps, axis=1) == 1)  # consecutive, chronological
    assert np.array_equal(batch["is_first"], steps.astype(int) % 7 == 0)  # episode flags travel with their step
    assert {int(s) for s in steps[:, 0]} == set(range(87, 128))  # every valid start is drawn


def test_parallel_envs_are_separate_streams():
    replay = SequenceReplay(*spaces((8, 8, 3)), capacity_steps=3 * 40, num_envs=3)
    fill(replay, 60)
    batch = replay.sample(200, 6, np.random.default_rng(2))
    env = batch["touch"][..., 0]
    assert np.all(env == env[:, :1]) and set(np.unique(env)) == {0, 1, 2}
    assert len(replay) == 120 and replay.latest(4)["reward"].shape == (3, 4)


def test_bad_configuration_names_the_problem():
    with pytest.raises(ValueError, match="capacity_steps or capacity_bytes"):
        SequenceReplay(*spaces())
    with pytest.raises(ValueError, match="too small"):
        SequenceReplay(*spaces(), capacity_bytes=1000)
    replay = SequenceReplay(*spaces(), capacity_steps=10)
    with pytest.raises(ValueError, match="seq_len"):
        replay.sample(1, 4, np.random.default_rng(0))
    with pytest.raises(KeyError, match="scent"):
        replay.add(
            {"vision": np.zeros((1, 64, 64, 3), np.uint8), "touch": np.zeros((1, 20)), "proprio": np.zeros((1, 10))},
            np.zeros((1, 3)),
            np.array([True]),
        )
