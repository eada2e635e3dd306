"""Innate whisker reflexes, driven in the real env: thigmotaxis covers a perfect maze."""
import numpy as np

from embodied.brain.policies import RandomPolicy, WallFollowPolicy
from embodied.brain.reflexes import WallFollowProgram, make_program


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
    touch[0, [0, 8]] = 0.8          # both front whiskers touch: blocked
    touch[1, :] = 0.0               # nothing on the right: the wall was lost
    action = program.act(touch, np.zeros(2), np.random.default_rng(0))
    assert action[0, 1] > 0.5       # blocked: turn left, away from the followed (right) side
    assert action[1, 1] < -0.5      # lost the wall: turn right into the opening
