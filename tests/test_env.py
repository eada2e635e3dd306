"""The env as gymnasium sees it: API conformance, seeding, vectorisation, resource hygiene, bad input."""

import os
import subprocess
import sys
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


# ---- bad input never reaches PyBullet (issue 16) -------------------------------------
BAD_ACTIONS = [
    ([np.nan, 0.0, 0.0], "non-finite"),
    ([0.0, np.inf, 0.0], "non-finite"),
    ([0.0, 0.0, -np.inf], "non-finite"),
    ([1.0, 0.0], "shape"),
    ([1.0, 0.0, 0.0, 0.0], "shape"),
    ([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], "shape"),
    (0.5, "shape"),
    ([], "shape"),
    (None, "dtype"),
    ("abc", "dtype"),
    (["a", "b", "c"], "dtype"),
    ([1 + 2j, 0, 0], "dtype"),
    ([True, False, True], "dtype"),
    ({"forward": 1.0}, "dtype"),
]


@pytest.mark.parametrize("action, problem", BAD_ACTIONS, ids=[repr(a)[:30] for a, _ in BAD_ACTIONS])
def test_invalid_action_raises_and_leaves_the_env_usable(action, problem):
    """A refused action changes nothing: the next valid step continues exactly as if it had not
    been sent (same observation as an env that never saw it), and reset still works."""
    env, twin = RodentMazeEnv(world="t_maze", vision_size=16), RodentMazeEnv(world="t_maze", vision_size=16)
    try:
        for e in (env, twin):
            e.reset(seed=3)
            e.step(np.array([1.0, 0.2, 0.0], np.float32))
        with pytest.raises(ValueError, match=problem) as caught:
            env.step(action)
        assert "3 finite numbers" in str(caught.value) and "\n" not in str(caught.value)
        obs, reward, *_ = env.step(np.array([1.0, -0.3, 0.5], np.float32))
        twin_obs, twin_reward, *_ = twin.step(np.array([1.0, -0.3, 0.5], np.float32))
        for key in obs:
            assert np.array_equal(obs[key], twin_obs[key]), key
            assert np.isfinite(obs[key].astype(float)).all(), key
        assert reward == twin_reward
        obs, info = env.reset(seed=4)
        assert np.isfinite(info["position"]).all()
    finally:
        env.close(), twin.close()


def test_finite_actions_beyond_the_range_are_clipped(make_env):
    a, b = make_env(world="t_maze", vision_size=16), make_env(world="t_maze", vision_size=16)
    a.reset(seed=1), b.reset(seed=1)
    for _ in range(5):
        obs_a, *_ = a.step(np.array([7.0, -1e300, 1.5]))
        obs_b, *_ = b.step(np.array([1.0, -1.0, 1.0], np.float32))
    for key in obs_a:
        assert np.array_equal(obs_a[key], obs_b[key]), key


def _trajectory(env, seed, steps):
    obs, _ = env.reset(seed=seed)
    observations, rewards = [obs], []
    rng = np.random.default_rng(5)  # forward-heavy actions: the rat reaches walls (contacts) within 50 steps
    for _ in range(steps):
        obs, reward, *_ = env.step(np.array([1.0, rng.uniform(-1, 1), rng.uniform(-1, 1)], np.float32))
        observations.append(obs), rewards.append(reward)
    return observations, rewards


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(world="t_maze", task="explore"),
        dict(world="open_field", task="forage"),
        dict(world="conditioning_box", task="conditioning", task_options=dict(iti_steps=(5, 10), restrained=True)),
        dict(world="conditioning_box", task="conditioning", task_options=dict(iti_steps=(5, 10))),
        dict(world="procedural:9x9:loops=0.3", task="forage"),
        dict(world="noisy_tv", task="explore", turbulence=0.3, noise={"touch": 0.1, "scent": 0.05, "vision": 0.02}),
    ],
    ids=["t_maze", "forage", "conditioning_restrained", "conditioning", "procedural", "noisy_tv_noise"],
)
def test_reset_seed_gives_the_same_trajectory_whatever_ran_before(make_env, kwargs):
    """Fresh env vs an env that ran three episodes of wall-bumping first: same seed, same actions,
    identical observations and rewards for 50 steps. Before the fix the used env's first touch
    reading carried the last episode's body contact (t_maze, conditioning, procedural failed)."""
    fresh, used = make_env(vision_size=24, **kwargs), make_env(vision_size=24, **kwargs)
    rng = np.random.default_rng(0)
    for seed in (1, 7, 2):
        used.reset(seed=seed)
        for _ in range(90):
            used.step(np.array([1.0, rng.uniform(-1, 1), 0.5], np.float32))
    expected, expected_rewards = _trajectory(fresh, 7, 50)
    got, rewards = _trajectory(used, 7, 50)
    for t, (a, b) in enumerate(zip(expected, got)):
        for key in a:
            assert np.array_equal(a[key], b[key]), (t, key)
    assert rewards == expected_rewards
    if kwargs.get("task_options", {}).get("restrained"):
        assert sum(rewards) > 0  # the comparison covered a trial with its cue and pellet


BAD_ARGUMENTS = [
    (dict(fov=0), "fov"),
    (dict(fov=180), "fov"),
    (dict(fov=-10), "fov"),
    (dict(fov=float("nan")), "fov"),
    (dict(fov="wide"), "fov"),
    (dict(vision_size=0), "vision_size"),
    (dict(vision_size=-64), "vision_size"),
    (dict(vision_size=100_000), "vision_size"),
    (dict(vision_size=64.5), "vision_size"),
    (dict(vision_size="64"), "vision_size"),
    (dict(vision_size=(64,)), "vision_size"),
    (dict(vision_size=(64, 64, 3)), "vision_size"),
    (dict(top_speed=0), "top_speed"),
    (dict(top_speed=-1), "top_speed"),
    (dict(top_speed=float("inf")), "top_speed"),
    (dict(top_speed=1e9), "top_speed"),
    (dict(cell_size=0), "cell_size"),
    (dict(cell_size=float("nan")), "cell_size"),
    (dict(cell_size=-0.3), "cell_size"),
    (dict(turbulence=-0.1), "turbulence"),
    (dict(turbulence=float("nan")), "turbulence"),
    (dict(turbulence=1000), "turbulence"),
    (dict(odour_length_scale=0), "odour_length_scale"),
    (dict(odour_length_scale=float("inf")), "odour_length_scale"),
    (dict(noise={"vision": -0.1}), "noise"),
    (dict(noise={"touch": float("nan")}), "noise"),
    (dict(noise={"sonar": 0.1}), "noise keys"),
    (dict(noise=0.1), "noise"),
    (dict(depth="no"), "depth"),
    (dict(depth=1), "depth"),
    (dict(senses="vision"), "senses"),
    (dict(senses=()), "senses"),
    (dict(senses=(3,)), "senses"),
    (dict(task="swim"), "unknown task"),
    (dict(task=None), "unknown task"),
    (dict(task_options={"n_fod": 2}, task="forage"), "n_fod.*allowed: n_food"),
    (dict(task_options={"n_food": 0}, task="forage"), "n_food"),
    (dict(task_options={"eat_radius": float("nan")}, task="forage"), "eat_radius"),
    (dict(task_options=[("n_food", 2)], task="forage"), "task_options"),
    (dict(render_mode="ascii"), "render_mode"),
    (dict(world=3), "world"),
    (dict(world=""), "world"),
    (dict(world="procedural:9x9:rooms=1000000000"), "rooms"),
]


@pytest.mark.parametrize("kwargs, named", BAD_ARGUMENTS, ids=[repr(k)[:40] for k, _ in BAD_ARGUMENTS])
def test_bad_constructor_argument_is_named_with_its_range(kwargs, named):
    """Each is refused in the constructor, before a PyBullet client is opened, in one line."""
    with pytest.raises(ValueError, match=named) as caught:
        RodentMazeEnv(**{"world": "t_maze", **kwargs})
    assert "\n" not in str(caught.value)


def test_fov_edges_inside_the_range_render_a_picture(make_env):
    """fov=0 rendered an all-white image; the smallest and largest accepted fields of view draw the maze."""
    for fov in (1.0, 179.0):
        env = make_env(world="t_maze", vision_size=32, fov=fov)
        obs, _ = env.reset(seed=0, options={"start": (5, 6), "heading": np.pi / 2})
        assert obs["vision"].std() > 1, fov


@pytest.mark.parametrize(
    "kwargs, named",
    [
        (dict(seed=-1), "seed"),
        (dict(seed=1.5), "seed"),
        (dict(seed="7"), "seed"),
        (dict(seed=True), "seed"),
        (dict(options={"start": ("a", "b")}), "start"),
        (dict(options={"start": (1,)}), "start"),
        (dict(options={"start": (0, 0)}), "not a free cell"),
        (dict(options={"heading": float("nan")}), "heading"),
        (dict(options={"speed": 1}), "not allowed"),
        (dict(options=[1]), "options"),
    ],
)
def test_bad_reset_arguments_are_named(make_env, kwargs, named):
    env = make_env(world="t_maze", vision_size=16)
    with pytest.raises(ValueError, match=named):
        env.reset(**kwargs)
    obs, info = env.reset(seed=0)  # still usable
    assert np.isfinite(info["position"]).all()


HUMAN_WITHOUT_DISPLAY = """
from embodied.display import DisplayError
from embodied.env import RodentMazeEnv
try:
    RodentMazeEnv(world="t_maze", render_mode="human")
except DisplayError as err:
    print("caught:", err)
print("process alive")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only X11 needs DISPLAY")
@pytest.mark.parametrize("display", [None, ":77"], ids=["unset", "no_server"])
def test_human_render_without_a_display_raises_and_the_process_survives(display):
    """PyBullet's GUI connect ends the process from C without a display; the env asks first."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    if display is not None:
        env["DISPLAY"] = display
    done = subprocess.run(
        [sys.executable, "-c", HUMAN_WITHOUT_DISPLAY], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "caught: render_mode='human' needs a display" in done.stdout
    assert "process alive" in done.stdout


def test_calls_out_of_order_say_what_to_do():
    env = RodentMazeEnv(world="t_maze", vision_size=16, render_mode="rgb_array")
    with pytest.raises(RuntimeError, match=r"reset\(\) before render"):
        env.render()
    with pytest.raises(RuntimeError, match=r"reset\(\) before step"):
        env.step([0.0, 0.0, 0.0])
    env.reset(seed=0)
    env.close()
    for call in (lambda: env.step([0.0, 0.0, 0.0]), lambda: env.reset(seed=0)):
        with pytest.raises(RuntimeError, match="closed env"):
            call()


def test_tasks_get_a_narrow_handle_and_separate_reward_and_termination_hooks(make_env, monkeypatch):
    """A toy task: reward 0.25 × its step count, episode over at step 4; it sees the arena and the body, not the
    env, and the handle's body state is the one after physics (the position that step's info reports)."""
    from embodied.tasks import TASKS, Task, TaskHandle

    seen = {"xy": []}

    class Probe(Task):
        name = "probe"

        def initialize_episode(self, handle, rng):
            seen["handle"], self.steps = handle, 0

        def after_step(self, handle, rng):
            self.steps += 1
            seen["xy"].append((handle.body_state.x, handle.body_state.y))

        def get_reward(self, handle):
            return 0.25 * self.steps

        def should_terminate(self, handle):
            return self.steps >= 4

    monkeypatch.setitem(TASKS, "probe", Probe)
    env = make_env(world="t_maze", task="probe", vision_size=16)
    env.reset(seed=0)
    handle, base = seen["handle"], env.unwrapped
    assert isinstance(handle, TaskHandle)
    for beyond_reach in ("step", "reset", "senses", "np_random", "task", "visited", "client", "render"):
        assert not hasattr(handle, beyond_reach), beyond_reach
    assert handle.layout is base.layout and handle.arena is base.arena and handle.body is base.rat
    steps = [env.step(np.array([1.0, 0.0, 0.0], np.float32)) for _ in range(4)]
    assert [reward for _, reward, *_ in steps] == [0.25, 0.5, 0.75, 1.0]
    assert [terminated for _, _, terminated, *_ in steps] == [False, False, False, True]
    assert seen["xy"] == [tuple(info["position"]) for *_, info in steps]
    assert np.hypot(*np.subtract(seen["xy"][3], seen["xy"][0])) > 0.01  # the state moved with the rat
