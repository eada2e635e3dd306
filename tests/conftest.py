"""Shared fixtures: real envs in PyBullet DIRECT mode, closed after each test; and the order the
test files are handed to the workers in."""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import embodied  # noqa: F401  (registers the env id)
from embodied import ENV_ID

#: The longest test files, longest first: pytest-xdist (``--dist loadfile --no-loadscope-reorder``, see
#: pyproject.toml) hands files to the two workers in collection order, so starting with these is the
#: longest-processing-time-first rule (Graham 1969), within 4/3 of the best two-worker split. Without it
#: xdist orders files by their number of tests, and a five-test file of four-minute scenarios started last
#: left one worker grinding alone for minutes (the suite took 12 min 47 s on 2 cores at 32850b0). Seconds
#: per file, the sum of its tests in ``pytest --durations=45`` of that run, less the measured cuts made
#: since (the embodied lab's, the golden runs' and the two scenarios' that skip unused decodes); only the
#: order matters, so re-measure when a file's cost changes a lot. A file not listed runs after these.
LONGEST_FILES = {
    "test_intrinsic.py": 178,
    "test_intrinsic_dark_room_and_coherence.py": 166,
    "test_checkpoint.py": 118,
    "test_golden.py": 84,
    "test_lab.py": 81,
    "test_embodied_lab.py": 75,
    "test_sweep.py": 70,
    "test_train.py": 65,
    "test_gui.py": 31,
    "test_ray_collector.py": 29,
    "test_critic_replay.py": 23,
    "test_evaluate.py": 17,
}


def pytest_collection_modifyitems(config, items):
    """Longest files first (a stable sort: tests keep their order within a file, and other files theirs)."""
    items.sort(key=lambda item: -LONGEST_FILES.get(Path(str(item.fspath)).name, 0))


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
