"""The env as gymnasium sees it: API conformance, seeding, vectorisation, resource hygiene."""
import warnings

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.passive_env_checker import env_render_passive_checker

from embodied import ENV_ID
from embodied.env import RodentMazeEnv


def test_check_env_passes_without_warnings():
    """The full checker; its tour of render modes is done here for rgb_array and, for "human"
    (a GUI window), by tests/test_gui.py under a virtual X server."""
    env = gym.make(ENV_ID, world="procedural:9x9", task="forage", render_mode="rgb_array").unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
        env_render_passive_checker(env)
    env.close()


def test_observation_keys_and_spaces(make_env):
    env = make_env(world="t_maze", task="explore")
    obs, info = env.reset(seed=0)
    assert set(obs) == {"vision", "touch", "proprio", "scent"}
    for key, value in obs.items():
        assert env.observation_space[key].contains(value), key
    assert obs["vision"].shape == (64, 64, 3)
    for key in ("position", "heading", "cell", "coverage"):
        assert key in info


def test_same_seed_same_maze_and_first_observations(make_env):
    a, b = make_env(world="procedural:9x9"), make_env(world="procedural:9x9")
    obs_a, info_a = a.reset(seed=42)
    obs_b, info_b = b.reset(seed=42)
    assert (info_a["layout"].grid == info_b["layout"].grid).all()
    for key in obs_a:
        np.testing.assert_array_equal(obs_a[key], obs_b[key])
    for _ in range(5):
        action = np.array([1.0, 0.2, -0.3], np.float32)
        step_a, step_b = a.step(action)[0], b.step(action)[0]
    for key in obs_a:
        np.testing.assert_array_equal(step_a[key], step_b[key])
    _, info_c = a.reset(seed=43)
    assert not (info_c["layout"].grid == info_a["layout"].grid).all()


def test_runs_in_async_vector_env():
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(ENV_ID, world="procedural:7x7", vision_size=32)] * 2)
    try:
        obs, infos = envs.reset(seed=[0, 1])
        assert obs["vision"].shape == (2, 32, 32, 3)
        for _ in range(3):
            obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert obs["touch"].shape == (2, 20) and rewards.shape == (2,)
    finally:
        envs.close()


def test_reset_options_place_the_rat(make_env):
    env = make_env(world="t_maze")
    _, info = env.reset(seed=0, options={"start": (5, 1), "heading": np.pi})
    assert tuple(info["cell"]) == (5, 1)
    assert abs(np.cos(info["heading"]) + 1) < 1e-6
    with pytest.raises(ValueError, match="not a free cell"):
        env.reset(options={"start": (0, 0)})
    with pytest.raises(ValueError, match="allowed: start, heading"):
        env.reset(options={"goal": (1, 1)})


def test_bodies_reused_for_same_layout_and_bounded_across_new_layouts():
    fixed = RodentMazeEnv(world="t_maze")
    for seed in range(5):
        fixed.reset(seed=seed)
    assert fixed.arena.builds == 1
    fixed.close()
    env = RodentMazeEnv(world="procedural:9x9", task="forage")
    for seed in range(20):
        env.reset(seed=seed)
    bodies_after_first_pass = p.getNumBodies(physicsClientId=env.client)
    for seed in range(20):  # the same layouts again: pooled bodies cover them, nothing new is made
        env.reset(seed=seed)
        in_use = len(env.arena.bodies)
        assert in_use == 1 + len(env.arena.boxes) + env.task.n_food  # floor + merged walls + pellets
    assert env.arena.builds == 40
    assert p.getNumBodies(physicsClientId=env.client) == bodies_after_first_pass
    env.close()


def test_close_releases_the_client():
    clients = []
    for _ in range(5):
        env = RodentMazeEnv(world="t_maze")
        env.reset(seed=0)
        clients.append(env.client)
        env.close()
        assert env.client is None
    assert not any(p.isConnected(physicsClientId=c) for c in clients)


def test_coverage_grows_as_the_rat_moves(make_env):
    env = make_env(world="t_maze")
    _, info0 = env.reset(seed=0, options={"start": (5, 6), "heading": np.pi / 2})
    for _ in range(60):
        _, _, _, _, info = env.step(np.array([1.0, 0.0, 0.0], np.float32))
    assert info["coverage"] > info0["coverage"]
    assert info["cell"][1] < 6  # moved north along the stem


def test_render_rgb_array_shows_the_maze(make_env):
    env = make_env(world="t_maze", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.ndim == 3 and frame.dtype == np.uint8 and frame.std() > 10


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown task 'swim'"):
        RodentMazeEnv(task="swim")
    with pytest.raises(ValueError, match="choose from"):
        RodentMazeEnv(senses=("vision", "sonar"))
    with pytest.raises(ValueError, match="render_mode"):
        RodentMazeEnv(render_mode="ascii")
