"""The conditioning box: light, then food after the delay; omissions; the rat sees and smells it."""

import numpy as np
import pytest

ACTION_STILL = np.zeros(3, np.float32)


def run_until(env, predicate, limit=400):
    for _ in range(limit):
        obs, reward, _, _, info = env.step(ACTION_STILL)
        if predicate(info):
            return obs, reward, info
    raise AssertionError("event never happened")


def test_food_follows_the_light_after_the_delay_and_is_seen_and_smelt(make_env):
    env = make_env(
        world="conditioning_box",
        task="conditioning",
        max_episode_steps=5000,
        task_options={"delay_steps": 30, "cue_steps": 15},
    )
    dark, info = env.reset(seed=0)
    assert not info["cue_on"] and not info["food_present"]
    lit, _, info = run_until(env, lambda i: i["cue_on"])
    assert info["trial_step"] == 0
    assert np.abs(lit["vision"].astype(int) - dark["vision"].astype(int)).sum() > 0  # the light is visible
    assert lit["scent"][:2].max() == 0.0
    fed, _, info = run_until(env, lambda i: i["food_present"])
    assert info["trial_step"] == 30
    assert fed["scent"][:2].min() > 0.1  # the pellet smells


def test_omission_trials_never_deliver_food(make_env):
    env = make_env(
        world="conditioning_box",
        task="conditioning",
        max_episode_steps=5000,
        task_options={"omission_prob": 1.0, "iti_steps": (20, 30)},
    )
    env.reset(seed=0)
    for _ in range(600):
        _, reward, _, _, info = env.step(ACTION_STILL)
        assert not info["food_present"] and reward == 0.0
    assert info["trial"] >= 2 and info["omitted"]


def test_walking_to_the_feeder_eats_the_pellet(make_env):
    env = make_env(
        world="conditioning_box",
        task="conditioning",
        max_episode_steps=5000,
        task_options={"iti_steps": (10, 10), "delay_steps": 5, "after_eat_steps": 200},
    )  # no next trial yet
    env.reset(seed=0, options={"start": (2, 2), "heading": np.pi / 2})
    run_until(env, lambda i: i["food_present"])
    total = 0.0
    for _ in range(60):
        _, reward, _, _, info = env.step(np.array([1.0, 0.0, 0.0], np.float32))
        total += reward
    assert total == 1.0 and info["food_eaten"] == 1 and not info["food_present"]


def test_bad_options_are_named(make_env):
    with pytest.raises(ValueError, match="omission_prob"):
        make_env(world="conditioning_box", task="conditioning", task_options={"omission_prob": 2.0})


def test_the_house_light_is_seen_wherever_the_rat_looks_and_the_lamp_alone_barely(make_env):
    changed = {}
    for light in ("house", "lamp"):
        env = make_env(
            world="conditioning_box",
            task="conditioning",
            vision_size=32,
            max_episode_steps=5000,
            task_options={"light": light},
        )
        env.reset(
            seed=0, options={"start": (2, 2), "heading": -np.pi / 2}
        )  # facing the wall behind, away from the lamp
        dark, _, _ = run_until(env, lambda i: i["trial_step"] == -1)
        lit, _, _ = run_until(env, lambda i: i["cue_on"])
        changed[light] = int((np.abs(lit["vision"].astype(int) - dark["vision"].astype(int)).sum(-1) > 30).sum())
        off, _, _ = run_until(env, lambda i: not i["cue_on"])
        assert np.abs(off["vision"].astype(int) - dark["vision"].astype(int)).sum() == 0  # off again: as before
    assert changed["house"] > 100 and changed["lamp"] == 0, changed
    with pytest.raises(ValueError, match="light"):
        make_env(world="conditioning_box", task="conditioning", task_options={"light": "disco"})


def test_the_trial_ends_soon_after_eating(make_env):
    env = make_env(
        world="conditioning_box",
        task="conditioning",
        max_episode_steps=5000,
        task_options={"iti_steps": (10, 10), "delay_steps": 5, "after_eat_steps": 15},
    )
    env.reset(seed=0, options={"start": (2, 2), "heading": np.pi / 2})
    run_until(env, lambda i: i["food_present"])
    for eat_step in range(60):
        _, reward, _, _, info = env.step(np.array([1.0, 0.0, 0.0], np.float32))
        if reward > 0:
            break
    assert reward == 1.0 and info["trial"] == 0
    steps_after = 0
    while info["trial"] == 0:
        _, _, _, _, info = env.step(ACTION_STILL)
        steps_after += 1
    assert steps_after == 15 and info["trial_step"] == -10  # a new inter-trial interval began 0.5 s after eating
    with pytest.raises(ValueError, match="after_eat_steps"):
        make_env(world="conditioning_box", task="conditioning", task_options={"after_eat_steps": -1})


def test_the_chamber_is_one_cell_wide_and_the_rat_starts_facing_the_feeder(make_env):
    """conditioning_chamber: the box one cell wide; walking straight ahead from the start eats the pellet."""
    env = make_env(
        world="conditioning_chamber",
        task="conditioning",
        max_episode_steps=5000,
        task_options={"iti_steps": (10, 10), "delay_steps": 5, "after_eat_steps": 200},
    )
    env.reset(seed=0)
    layout = env.unwrapped.layout
    assert int(layout.free.sum()) == 2 and layout.cols == 3  # two cells, one wide
    run_until(env, lambda i: i["food_present"])
    total = 0.0
    for _ in range(30):  # 0.3 m at up to 0.6 m/s: well within a second
        _, reward, _, _, info = env.step(np.array([1.0, 0.0, 0.0], np.float32))
        total += reward
    assert total == 1.0 and info["food_eaten"] == 1


@pytest.mark.parametrize("world", ["conditioning_box", "conditioning_chamber"])
def test_a_restrained_rat_stays_put_and_eats_each_pellet_as_it_drops(make_env, world):
    """restrained=True: whatever the policy commands, the body does not move (the head still turns), and
    every rewarded trial's pellet is eaten on the step it drops; the same commands move a free rat."""
    rng = np.random.default_rng(0)
    commands = rng.uniform(-1, 1, (900, 3)).astype(np.float32)
    moved = {}
    for restrained in (True, False):
        env = make_env(
            world=world,
            task="conditioning",
            max_episode_steps=5000,
            task_options={"iti_steps": (40, 60), "omission_prob": 0.3, "restrained": restrained},
        )
        _, info = env.reset(seed=0)
        start, heads, eaten_at, rewarded = info["position"].copy(), [], [], set()
        for command in commands:
            _, reward, _, _, info = env.step(command)
            heads.append(info["head_yaw"] - info["heading"])
            if info["trial_step"] == 30 and not info["omitted"]:  # a pellet dropped this step
                rewarded.add(info["trial"])
            if reward > 0:
                eaten_at.append(info["trial_step"])
        moved[restrained] = float(np.hypot(*(info["position"] - start)))
        if restrained:
            assert np.ptp(heads) > 0.5  # the head is free
            assert len(eaten_at) == len(rewarded) >= 4  # every pellet that dropped was eaten ...
            assert eaten_at == [30] * len(eaten_at)  # ... on the step it dropped (the default delay)
    assert moved[True] < 1e-3 < 0.05 < moved[False]


def test_restraining_needs_a_free_cell_in_front_of_the_feeder(make_env, tmp_path):
    """A feeder whose wall side faces a wall-backed spot cannot hold a restrained rat: the error names it."""
    maze = tmp_path / "cramped.maze"
    maze.write_text("name: cramped\ncell_size: 0.3\n---\n####\n#F^#\n####\n")
    env = make_env(world=str(maze), task="conditioning", task_options={"restrained": True})
    with pytest.raises(ValueError, match="restrained=True needs a free cell in front of the feeder.*cramped"):
        env.reset(seed=0)
    free = make_env(world=str(maze), task="conditioning")  # the walking rat is fine there
    free.reset(seed=0)


@pytest.mark.parametrize(
    "options, named",
    [
        ({"omission_prob": float("nan")}, "omission_prob"),
        ({"omission_prob": -0.1}, "omission_prob"),
        ({"cue_steps": 0}, "cue_steps"),
        ({"cue_steps": 1.5}, "cue_steps"),
        ({"delay_steps": -1}, "delay_steps"),
        ({"iti_steps": (5,)}, "iti_steps"),
        ({"iti_steps": "60,150"}, "iti_steps"),
        ({"iti_steps": (150, 60)}, "iti_steps"),
        ({"iti_steps": (0, 10)}, "iti_steps"),
        ({"food_timeout": 0}, "food_timeout"),
        ({"eat_radius": float("inf")}, "eat_radius"),
        ({"reward": float("nan")}, "reward"),
        ({"light": "strobe"}, "light"),
        ({"light": None}, "light"),
        ({"restrained": "yes"}, "restrained"),
        ({"after_eat_steps": -1}, "after_eat_steps"),
        ({"delay": 30}, "unknown task_options.*allowed: cue_steps"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_every_bad_option_is_named_with_its_range(options, named):
    from embodied.env import RodentMazeEnv

    with pytest.raises(ValueError, match=named) as caught:
        RodentMazeEnv(world="conditioning_box", task="conditioning", task_options=options)
    assert "\n" not in str(caught.value)


def test_whole_number_options_given_as_floats_behave_as_ints(make_env):
    """A config file may write 15.0 for 15: the same trial timing as the integer."""
    infos = []
    for options in ({"cue_steps": 15, "iti_steps": (5, 10)}, {"cue_steps": 15.0, "iti_steps": (5.0, 10.0)}):
        env = make_env(world="conditioning_box", task="conditioning", task_options=options, vision_size=16)
        env.reset(seed=0)
        infos.append([env.step(ACTION_STILL)[4]["cue_on"] for _ in range(40)])
    assert infos[0] == infos[1] and any(infos[0])
