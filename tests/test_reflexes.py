"""Innate whisker reflexes, driven in the real env: thigmotaxis covers a perfect maze."""

import numpy as np

from embodied.brain.basal_ganglia.reflexes import WallFollowProgram, make_program
from embodied.brain.policies import ChemotaxisPolicy, RandomPolicy, WallFollowPolicy


def coverage_after(make_env, policy, steps, seed=10_000):
    env = make_env(world="procedural:7x7", vision_size=16, max_episode_steps=steps)
    obs, info = env.reset(seed=seed)
    for _ in range(steps):
        action, _ = policy.act(obs)
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return info["coverage"]


def test_wall_following_covers_a_perfect_maze_far_beyond_random(make_env):
    for side in ("left", "right"):
        assert coverage_after(make_env, WallFollowPolicy(side=side), 700) >= 0.9
    assert coverage_after(make_env, RandomPolicy(make_env(world="t_maze").action_space, seed=0), 700) < 0.6


def test_wall_follow_turns_away_from_a_wall_ahead_and_into_an_opening():
    program = make_program("wall_follow_right")
    assert isinstance(program, WallFollowProgram)
    touch = np.zeros((2, 20), np.float32)
    touch[0, [0, 8]] = 0.8  # both front whiskers touch: blocked
    touch[1, :] = 0.0  # nothing on the right: the wall was lost
    action = program.act({"touch": touch}, np.zeros(2), np.random.default_rng(0))
    assert action[0, 1] > 0.5  # blocked: turn left, away from the followed (right) side
    assert action[1, 1] < -0.5  # lost the wall: turn right into the opening


def test_chemotaxis_follows_the_food_odour_into_the_right_arm(make_env, write_layout):
    # Food at the end of the west arm of a T; the east arm is empty. The rat starts in the stem.
    layout = write_layout("###########\n#F........#\n#####.#####\n#####.#####\n#####^#####\n###########\n")
    env = make_env(world=layout, task="forage", vision_size=16, task_options={"n_food": 1})
    obs, info = env.reset(seed=0)
    policy, eaten_at, max_col = ChemotaxisPolicy(), None, 5
    for step in range(300):
        action, _ = policy.act(obs)
        obs, reward, _, _, info = env.step(action)
        max_col = max(max_col, info["cell"][0])
        if reward > 0:
            eaten_at = step
            break
    assert eaten_at is not None and eaten_at < 200 and max_col == 5  # straight west, never into the empty arm
