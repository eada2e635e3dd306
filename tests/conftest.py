"""Shared fixtures: real envs in PyBullet DIRECT mode, closed after each test."""

import gymnasium as gym
import numpy as np
import pytest

import embodied  # noqa: F401  (registers the env id)
from embodied import ENV_ID


@pytest.fixture
def make_env():
    envs = []

    def _make(**kwargs):
        env = gym.make(ENV_ID, **kwargs)
        envs.append(env)
        return env

    yield _make
    for env in envs:
        env.close()


@pytest.fixture
def write_layout(tmp_path):
    def _write(text: str, name: str = "test.maze"):
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return _write


def drive(env, action, steps):
    """Apply one action for ``steps`` steps; return the last (obs, info)."""
    for _ in range(steps):
        obs, _, _, _, info = env.step(np.asarray(action, np.float32))
    return obs, info
