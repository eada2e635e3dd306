"""Each sense tested by behaviour that could fail: walls felt, food smelt, colours seen, walls hard."""

import numpy as np

from embodied.arena.layout import parse_layout
from embodied.arena.odour import OdourField
from tests.conftest import drive

ROOM = """\
#########
#.......#
#.......#
#>......#
#.......#
#.......#
#########
"""


def test_whiskers_feel_the_wall_on_their_side_only(make_env, write_layout):
    env = make_env(world=write_layout(ROOM), task="explore")
    # facing east along the west... no: facing north with the west wall on the left
    obs, _ = env.reset(seed=0, options={"start": (1, 3), "heading": np.pi / 2})
    left, right = obs["touch"][:8], obs["touch"][8:16]
    assert left.max() > 0.05 and right.max() == 0.0
    obs, _ = env.reset(seed=0, options={"start": (1, 3), "heading": -np.pi / 2})  # facing south: wall on the right
    left, right = obs["touch"][:8], obs["touch"][8:16]
    assert right.max() > 0.05 and left.max() == 0.0
    obs, _ = env.reset(seed=0, options={"start": (4, 3), "heading": 0.0})  # middle of the room
    assert obs["touch"][:16].max() == 0.0


def test_body_contact_force_when_pushing_a_wall(make_env, write_layout):
    env = make_env(world=write_layout(ROOM))
    obs, _ = env.reset(seed=0, options={"start": (4, 3), "heading": 0.0})
    assert obs["touch"][16:].max() == 0.0
    obs, _ = drive(env, [1.0, 0.0, 0.0], 120)  # run east into the wall
    assert obs["touch"][16] > 0.1  # front sector


def test_full_power_into_a_wall_never_passes_through(make_env, write_layout):
    env = make_env(world=write_layout(ROOM))
    env.reset(seed=0, options={"start": (6, 3), "heading": 0.0})
    layout = env.unwrapped.layout
    wall_face = 8 * layout.cell_size
    for step in range(600):
        action = [1.0, 0.2 * np.sin(step / 10), 1.0 if step % 40 < 20 else -1.0]
        _, _, _, _, info = env.step(np.array(action, np.float32))
        col, row = info["cell"]
        assert layout.free[row, col]
        assert info["position"][0] < wall_face - 0.02


def test_scent_stronger_at_the_nostril_nearer_the_food_along_the_path(make_env, write_layout):
    # Food in the west arm of a T; the rat stands at the junction facing north.
    layout = "#########\n#F......#\n####.####\n####.####\n####^####\n#########\n"
    env = make_env(world=write_layout(layout), task="forage", task_options={"n_food": 1})
    obs, _ = env.reset(seed=0, options={"start": (4, 1), "heading": np.pi / 2})
    food_left, food_right = obs["scent"][0], obs["scent"][1]
    assert food_left > food_right > 0
    obs, _ = env.reset(seed=0, options={"start": (4, 1), "heading": -np.pi / 2})  # turned round
    assert obs["scent"][1] > obs["scent"][0]


def test_odour_goes_around_walls_not_through_them():
    layout = parse_layout("#########\n#S......#\n#######.#\n#F......#\n#########\n")
    field = OdourField(layout)
    field.set_sources(0, [layout.cell_centre(1, 3)])
    behind_wall = np.array([layout.cell_centre(1, 1)])  # 1 cell straight north of the food, through a wall
    down_corridor = np.array([layout.cell_centre(3, 3)])  # 2 cells from the food along the open corridor
    assert field.sample(down_corridor)[0, 0] > 5 * field.sample(behind_wall)[0, 0]


def test_vision_differs_when_facing_differently_coloured_walls(make_env, write_layout):
    corridor = "colour.1: 0.9 0.1 0.1\ncolour.2: 0.1 0.2 0.9\n---\n#######\n1..S..2\n#######\n"
    env = make_env(world=write_layout(corridor))
    east, _ = env.reset(seed=0, options={"start": (4, 1), "heading": 0.0})
    west, _ = env.reset(seed=0, options={"start": (2, 1), "heading": np.pi})
    centre = (slice(24, 40), slice(24, 40))
    east_rgb = east["vision"][centre].reshape(-1, 3).mean(0)
    west_rgb = west["vision"][centre].reshape(-1, 3).mean(0)
    assert east_rgb[2] > east_rgb[0] + 40  # blue wall '2' to the east
    assert west_rgb[0] > west_rgb[2] + 40  # red wall '1' to the west


def test_proprio_reports_motion_and_efference_copy(make_env, write_layout):
    env = make_env(world=write_layout(ROOM))
    env.reset(seed=0, options={"start": (2, 3), "heading": 0.0})
    obs, _ = drive(env, [1.0, 0.0, 0.5], 20)
    v_forward, v_lateral = obs["proprio"][0], obs["proprio"][1]
    assert v_forward > 0.4 and abs(v_lateral) < 0.05
    assert obs["proprio"][3] > 0.3  # head turned left towards 0.5·60°
    np.testing.assert_allclose(obs["proprio"][7:], [1.0, 0.0, 0.5])


def test_forage_food_is_eaten_on_contact_and_respawns(make_env, write_layout):
    env = make_env(
        world=write_layout("#########\n#>.F....#\n#########\n"),
        task="forage",
        task_options={"n_food": 1, "min_respawn_cells": 2},
    )
    _, info = env.reset(seed=0, options={"start": (1, 1), "heading": 0.0})
    assert info["food_cells"] == [(3, 1)]
    total = 0.0
    for _ in range(40):
        _, reward, _, _, info = env.step(np.array([1.0, 0.0, 0.0], np.float32))
        total += reward
    assert total == 1.0 and info["food_eaten"] == 1 and info["food_cells"] != [(3, 1)]


def test_sense_noise_is_seeded_and_bounded(make_env, write_layout):
    env = make_env(world=write_layout(ROOM), noise={"touch": 0.1, "vision": 0.05})
    a, _ = env.reset(seed=1, options={"start": (4, 3)})
    b, _ = env.reset(seed=1, options={"start": (4, 3)})
    np.testing.assert_array_equal(a["touch"], b["touch"])
    assert a["touch"][:16].max() > 0 and a["touch"].min() >= 0.0


def test_senses_refuse_non_finite_or_out_of_range_settings():
    """NaN noise passed the old `noise_std < 0` test and poisoned every reading; fov=0 drew a white image."""
    import pytest

    from embodied.senses import Proprioception, Scent, Vision, WhiskerArray

    bad = [
        (lambda: Proprioception(noise_std=float("nan")), "noise_std"),
        (lambda: Scent(noise_std=-1), "noise_std"),
        (lambda: WhiskerArray(noise_std=float("inf")), "noise_std"),
        (lambda: Scent(update_every=0), "update_every"),
        (lambda: Vision(fov=0), "fov"),
        (lambda: Vision(fov=180), "fov"),
        (lambda: Vision(fov=float("nan")), "fov"),
        (lambda: Vision(width=4), "width"),
        (lambda: Vision(height=10_000), "height"),
        (lambda: Vision(depth="yes"), "depth"),
        (lambda: WhiskerArray(per_side=0), "per_side"),
        (lambda: WhiskerArray(length=float("nan")), "length"),
        (lambda: Scent(n_kinds=0), "n_kinds"),
    ]
    for make, named in bad:
        with pytest.raises(ValueError, match=named):
            make()


def test_turbulence_at_its_limit_keeps_scent_finite(make_env, write_layout):
    """turbulence=3 (the largest allowed): the log-normal factor stays finite, readings stay in [0, 1]."""
    env = make_env(
        world=write_layout(ROOM.replace(">......#", ">...F..#")), task="forage", turbulence=3.0, vision_size=16
    )
    env.reset(seed=0)
    for _ in range(200):
        obs, *_ = env.step(np.array([0.3, 0.5, 0.0], np.float32))
        assert np.isfinite(obs["scent"]).all() and obs["scent"].min() >= 0 and obs["scent"].max() <= 1


# ---- the registry: a new sense is one class in one file ------------------------------------------------
import gymnasium as gym  # noqa: E402
import pytest  # noqa: E402

from embodied.senses import SENSE_NAMES, Sense, register_sense, sense_names, unregister_sense  # noqa: E402


class HeadDirection(Sense):
    """A toy sense, defined and registered only here: the head's compass direction (cos, sin)."""

    name = "head_direction"

    @property
    def space(self) -> gym.spaces.Box:
        return gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def measure(self, view) -> np.ndarray:
        return np.array([np.cos(view.state.head_yaw), np.sin(view.state.head_yaw)], np.float32)


@pytest.fixture
def head_direction_sense():
    register_sense(HeadDirection)
    yield HeadDirection
    unregister_sense(HeadDirection.name)


def test_a_registered_sense_reaches_the_observation_space_and_the_observations(
    head_direction_sense, make_env, write_layout
):
    """No edit of env.py: the env builds the toy sense from the registry, after the built-in senses."""
    assert sense_names() == SENSE_NAMES + ("head_direction",)
    env = make_env(world=write_layout(ROOM), senses=("head_direction", "proprio"), vision_size=16)
    assert set(env.observation_space.spaces) == {"proprio", "head_direction"}  # gymnasium's Dict sorts its keys
    assert env.observation_space["head_direction"] == HeadDirection().space
    obs, info = env.reset(seed=0, options={"start": (4, 3), "heading": 0.5})
    assert list(obs) == ["proprio", "head_direction"]  # observation (and noise-draw) order, not the order asked
    np.testing.assert_allclose(obs["head_direction"], [np.cos(0.5), np.sin(0.5)], atol=1e-3)
    for _ in range(30):
        obs, _, _, _, info = env.step(np.array([0.5, 1.0, 0.8], np.float32))
    assert env.observation_space.contains(obs)
    np.testing.assert_allclose(obs["head_direction"], [np.cos(info["head_yaw"]), np.sin(info["head_yaw"])], atol=1e-5)
    assert abs(info["head_yaw"] - 0.5) > 0.5  # the rat turned, and the sense followed


def test_a_registered_sense_takes_the_env_noise_setting(head_direction_sense, make_env, write_layout):
    quiet = make_env(world=write_layout(ROOM), senses=("head_direction",))
    noisy = make_env(world=write_layout(ROOM), senses=("head_direction",), noise={"head_direction": 0.2})
    a, _ = quiet.reset(seed=3, options={"start": (4, 3), "heading": 0.0})
    b, _ = noisy.reset(seed=3, options={"start": (4, 3), "heading": 0.0})
    assert np.abs(a["head_direction"] - b["head_direction"]).max() > 0.01
    assert noisy.observation_space.contains(b)


def test_an_unregistered_sense_is_refused_by_name(make_env):
    refused = r"senses \['head_direction'\] not allowed; choose from vision, touch, proprio, scent$"
    with pytest.raises(ValueError, match=refused):
        make_env(senses=("head_direction",))
    with pytest.raises(ValueError, match="noise keys"):
        make_env(noise={"head_direction": 0.1})


def test_register_sense_refuses_a_taken_name_or_a_non_sense():
    class FakeVision(HeadDirection):
        name = "vision"

    with pytest.raises(ValueError, match="'vision' is taken by Vision"):
        register_sense(FakeVision)
    with pytest.raises(ValueError, match="not a subclass"):
        register_sense(dict)
    assert sense_names() == SENSE_NAMES
