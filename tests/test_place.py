"""The place code from self-motion (path integration over the proprio sense) and the episodic place
memory's count-based novelty: exact on written readings, close to the truth in the real env, and a
bonus that fades where the rat spins but not where it travels."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import embodied  # noqa: F401  (registers the env)
from embodied.body.rat import CONTROL_DT
from embodied.brain.perception.place import (
    CONTROL_PERIOD,
    V_FORWARD,
    V_LATERAL,
    YAW_RATE,
    PathIntegrator,
    PlaceMemory,
)
from embodied.senses.proprio import LABELS


def test_the_brains_copy_of_the_proprio_layout_and_control_period_matches_the_body():
    assert [LABELS[i] for i in (V_FORWARD, V_LATERAL, YAW_RATE)] == ["v_forward", "v_lateral", "yaw_rate"]
    assert CONTROL_PERIOD == pytest.approx(CONTROL_DT)


def readings(forward=0.0, yaw_rate=0.0, n=1):
    proprio = np.zeros((n, 10), np.float32)
    proprio[:, V_FORWARD], proprio[:, YAW_RATE] = forward, yaw_rate
    return proprio


def test_dead_reckoning_runs_straight_turns_and_restarts_at_an_episode_start():
    pi = PathIntegrator(1, dt=0.5)
    pi.step(readings(), [True])
    for _ in range(4):
        pos = pi.step(readings(forward=1.0), [False])  # 4 × 0.5 s at 1 m/s along the start heading
    assert pos[0] == pytest.approx([2.0, 0.0])
    pi.step(readings(yaw_rate=np.pi), [False])  # half a second at π rad/s: a left quarter turn
    pos = pi.step(readings(forward=1.0), [False])
    assert pos[0] == pytest.approx([2.0, 0.5])
    assert pi.step(readings(forward=1.0), [True])[0] == pytest.approx([0.0, 0.0])


def test_the_place_bonus_fades_with_visits_to_one_field_and_is_fresh_in_the_next():
    memory = PlaceMemory(1, field=0.1)
    here = np.array([[0.05, 0.05]])
    bonuses = [memory.visit(here, [t == 0])[0] for t in range(4)]
    assert bonuses == pytest.approx([1.0, 1 / np.sqrt(2), 1 / np.sqrt(3), 0.5])
    assert memory.visit(np.array([[0.15, 0.05]]), [False])[0] == 1.0  # the next field: never visited
    assert memory.visit(here, [True])[0] == 1.0 and memory.fields_visited() == [1]  # a new episode forgets


def test_the_place_bonus_power_sets_how_fast_a_field_fades_and_bad_powers_are_refused():
    """place_bonus_power=1 pays 1/n (Kolter & Ng 2009): a field visited four times pays 0.25, not 0.5."""
    from embodied.brain.perception.intrinsic import IntrinsicConfig
    from embodied.train.config import ConfigError, load_config

    memory = PlaceMemory(1, field=0.1, power=1.0)
    here = np.array([[0.05, 0.05]])
    assert [memory.visit(here, [t == 0])[0] for t in range(4)] == pytest.approx([1.0, 0.5, 1 / 3, 0.25])
    with pytest.raises(ValueError, match="place_bonus_power"):
        IntrinsicConfig(place_bonus_power=0.0).validated()
    with pytest.raises(ConfigError, match="place_bonus_power"):
        load_config(None, ["brain.perception.intrinsic_overrides.place_bonus_power=-1"])


def drive(env, action, steps):
    """Step a scripted action; return the integrated place (from proprio only) and the true one."""
    pi = PathIntegrator(1, CONTROL_DT)
    obs, info = env.reset(seed=3)
    start = np.array(info["position"][:2])
    yaw0 = info["heading"]
    pi.step(obs["proprio"][None], [True])
    memory = PlaceMemory(1, field=0.1)
    memory.visit(pi.position, [True])
    bonus = []
    for _ in range(steps):
        obs, _, _, _, info = env.step(np.asarray(action, np.float32))
        bonus.append(memory.visit(pi.step(obs["proprio"][None], [False]), [False])[0])
    c, s = np.cos(-yaw0), np.sin(-yaw0)  # the truth in the rat's starting frame (the test may look)
    d = np.array(info["position"][:2]) - start
    return pi.position[0], np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]]), np.array(bonus)


@pytest.mark.parametrize("action", [[1.0, 0.1, 0.0], [1.0, 0.3, 0.0], [0.7, -0.2, 0.5]])
def test_in_the_real_env_the_integrated_place_follows_the_body(action):
    """Open field, noise-free senses, 90 steps (3 s, up to 1.8 m): the estimate from proprio alone
    stays within 9 cm (5 % of the path) of the true displacement; measured 0.9-3.3 cm for these
    actions (Euler steps on end-of-step velocities, and wall contacts, are the error)."""
    env = gymnasium.make("embodied/RodentMaze-v0", world="open_field", task="explore", vision_size=16)
    try:
        estimate, truth, _ = drive(env, action, 90)
    finally:
        env.close()
    assert np.linalg.norm(truth) > 0.2  # it did travel
    assert np.linalg.norm(estimate - truth) < 0.09


def test_in_the_real_env_spinning_on_the_spot_stops_paying_and_running_does_not():
    """Mean bonus over 90 steps: spinning 0.27, running 0.58 (ratio 0.46); asserted below 0.6."""
    env = gymnasium.make("embodied/RodentMaze-v0", world="open_field", task="explore", vision_size=16)
    try:
        _, _, run_bonus = drive(env, [1.0, 0.1, 0.0], 90)
        _, spun, spin_bonus = drive(env, [0.0, 1.0, 0.0], 90)
    finally:
        env.close()
    assert np.linalg.norm(spun) < 0.05
    assert spin_bonus.mean() < 0.6 * run_bonus.mean()
    assert spin_bonus[-10:].mean() < 0.2 < run_bonus[-10:].mean()  # late in the spin it is nearly gone
