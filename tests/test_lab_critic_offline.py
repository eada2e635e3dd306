"""scripts/lab_critic_offline.py's bookkeeping: returns cut at episode ends, light onsets from the view."""

import importlib.util
from pathlib import Path

import numpy as np

SPEC = importlib.util.spec_from_file_location(
    "lab_critic_offline", Path(__file__).resolve().parents[1] / "scripts" / "lab_critic_offline.py"
)
offline = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(offline)


def test_returns_follow_the_row_convention_and_stop_at_episode_starts():
    # row t's reward is for the transition into row t; row 4 starts a new episode
    rewards = np.array([0.0, 0.0, 1.0, 0.0, 5.0, 0.0, 2.0])
    first = np.array([True, False, False, False, True, False, False])
    G = offline.discounted_returns(rewards, first, gamma=0.5)
    assert np.allclose(G, [0.5, 1.0, 0.0, 0.0, 1.0, 2.0, 0.0])  # the 5.0 on an episode's first row is never earned


def test_light_onsets_are_the_first_rise_of_each_cluster():
    brightness = np.full(1000, 0.3)
    for onset in (100, 400, 700):
        brightness[onset : onset + 15] = 0.5  # the house light: a rise, then back down 15 steps later
        brightness[onset + 3] = 0.6  # a second rise inside the same light
    first = np.zeros(1000, bool)
    assert list(offline.light_onsets(brightness, first, jump=0.08, tail=100)) == [100, 400, 700]
    assert list(offline.light_onsets(brightness, first, jump=0.08, tail=400)) == [100, 400]  # too close to the end
