"""The driver (embodied/driver.py), the one loop that steps an env with a policy, on real envs and policies."""

import ast
import pathlib

import gymnasium as gym
import numpy as np

from embodied import ENV_ID
from embodied.brain.policies import RandomPolicy, WanderPolicy
from embodied.driver import Driver

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "embodied"


def maze(max_episode_steps=10, **kwargs):
    return gym.make(
        ENV_ID, world="procedural:9x9", task="forage", vision_size=16, max_episode_steps=max_episode_steps, **kwargs
    )


class Spy:
    """A real policy that records what it was given: observations acted on, rewards told, resets."""

    def __init__(self, policy):
        self.policy, self.seen, self.told, self.resets = policy, [], [], 0

    def reset(self):
        self.resets += 1
        self.policy.reset()

    def act(self, obs):
        self.seen.append(obs)
        action, extras = self.policy.act(obs)
        return action, {**extras, "n": len(self.seen)}

    def observe_reward(self, reward):
        self.told.append(reward)


def test_the_driver_tells_a_real_agent_each_pellet_it_ate():
    """An untrained agent restrained at the feeder eats each pellet as it drops; its food channel (the
    reward vector it reports with the next observation) reads exactly the pellets the env counted."""
    from embodied.brain.agent import Agent, AgentPolicy
    from embodied.train.config import load_config

    env = gym.make(
        ENV_ID,
        world="conditioning_box",
        task="conditioning",
        vision_size=16,
        max_episode_steps=10**6,
        task_options={"iti_steps": [20, 20], "restrained": True},
    )
    cfg = load_config(None, ["vision_size=16", "num_envs=1"])
    policy = AgentPolicy(
        Agent(cfg.brain, env.observation_space, env.action_space, num_envs=1, seed=cfg.run.seed), predict=False
    )
    food_seen, rewards = [], []
    driver = Driver(
        env, policy, on_step=[lambda s: (food_seen.append(s.extras["rewards"]["food"]), rewards.append(s.reward))]
    )
    driver.reset(seed=0)
    driver.run(steps=130)
    eaten = int(driver.info["food_eaten"])
    env.close()
    assert eaten >= 2 and sum(food_seen) == sum(rewards[:-1]) == eaten  # the last step's reward is not yet seen


def test_a_given_action_is_not_the_policys_so_it_is_not_told_the_reward():
    env = maze()
    spy = Spy(RandomPolicy(env.action_space, seed=0))
    driver = Driver(env, spy)
    driver.reset(seed=0)
    keyboard = driver.step(np.array([1.0, 0.0, 0.0], np.float32))
    agent = driver.step()
    env.close()
    assert not keyboard.acted and keyboard.extras == {} and agent.acted
    assert len(spy.seen) == 1 and spy.told == [agent.reward]


def test_callbacks_fire_once_per_step_and_per_episode_with_the_steps_data():
    env = maze(max_episode_steps=10)
    spy = Spy(WanderPolicy(seed=0))
    steps, episodes = [], []
    driver = Driver(env, spy, on_step=[steps.append], on_episode=[episodes.append])
    driver.reset(seed=3)
    assert driver.run(steps=25) == 25
    env.close()
    assert len(steps) == 25 and [s.episode_step for s in steps] == [*range(1, 11), *range(1, 11), *range(1, 6)]
    assert all(s.obs is o for s, o in zip(steps, spy.seen))  # the observation the policy acted on
    assert all(s.extras["n"] == i + 1 for i, s in enumerate(steps))  # the policy's extras for that step
    assert all(a.next_obs is b.obs for a, b in zip(steps, steps[1:]) if not a.done)
    assert [s.first for s in steps] == [s.episode_step == 1 for s in steps]
    assert spy.told == [s.reward for s in steps]  # every reward told, once, in order
    assert [e.steps for e in episodes] == [10, 10] and [s.truncated for s in steps].count(True) == 2
    assert episodes[0].total_reward == sum(s.reward for s in steps[:10]) and episodes[1].info is steps[19].next_info
    assert spy.resets == 3 and driver.episodes == 3  # reset lazily, at the step after an episode ended


def test_a_run_never_resets_after_its_last_step_and_episodes_stop_a_run():
    env = maze(max_episode_steps=10)
    spy = Spy(WanderPolicy(seed=0))
    driver = Driver(env, spy)
    driver.reset(seed=0)
    assert driver.run(steps=20) == 20 and spy.resets == 1 + 1 and driver.needs_reset
    assert driver.run(episodes=1) == 10 and spy.resets == 3  # the pending reset, then one whole episode
    asked = []
    assert driver.run(steps=50, until=lambda: asked.append(driver.episode_step) or len(asked) > 4) == 4
    env.close()
    assert asked == [0, 1, 2, 3, 4]  # asked before every step, after the pending reset


def test_seeds_make_runs_reproducible():
    def run(seed):
        env = maze(max_episode_steps=15)
        frames = []
        driver = Driver(env, WanderPolicy(seed=1), on_step=[lambda s: frames.append(s.next_obs["vision"].copy())])
        driver.reset(seed=seed)
        driver.run(steps=40)
        env.close()
        return np.stack(frames)

    a, b, c = run(5), run(5), run(6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_a_vector_env_is_stepped_by_the_same_driver():
    """Same-step autoreset: the driver tells the policy its rewards (one per env) and which envs start afresh."""
    envs = gym.vector.SyncVectorEnv(
        [lambda: maze(max_episode_steps=6) for _ in range(2)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )

    class Batched:
        def __init__(self):
            self.rng, self.told, self.restarted, self.resets = np.random.default_rng(0), [], [], 0

        def reset(self):
            self.resets += 1

        def act(self, obs):
            return self.rng.uniform(-1, 1, (2, 3)).astype(np.float32), {}

        def observe_reward(self, reward):
            self.told.append(np.asarray(reward))

        def reset_envs(self, done):
            self.restarted.append(done)

    policy = Batched()
    steps = []
    driver = Driver(envs, policy, on_step=[steps.append])
    driver.reset(seed=[1, 2])
    driver.run(steps=8)
    envs.close()
    assert policy.resets == 1 and len(policy.told) == 8 and all(t.shape == (2,) for t in policy.told)
    assert [bool(d.all()) for d in policy.restarted] == [False] * 5 + [True] + [False] * 2  # truncated at 6
    assert steps[0].first.all() and steps[6].first.all() and not steps[3].first.any()


def _env_calls(path: pathlib.Path) -> list[str]:
    """``<env>.step(`` and ``<env>.reset(`` calls in a module, where the receiver is named env/envs
    (``env``, ``self.env``, ``self.envs``...)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("step", "reset"):
            receiver = node.func.value
            name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
            if name in ("env", "envs"):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}.{node.func.attr}(")
    return found


def test_only_the_driver_steps_or_resets_an_env():
    """Every loop goes through the driver. The check is by name (an env held under another name escapes
    it); allowed: the env itself, the driver, bench.py, which times the bare simulator with no policy, and
    train/ray_collector.py, whose Ray actors are a vector env's backend (as SyncVectorEnv's loop), stepped by the driver."""
    allowed = {"env.py", "driver.py", "bench.py", "ray_collector.py"}
    calls = [c for path in sorted(PACKAGE.rglob("*.py")) if path.name not in allowed for c in _env_calls(path)]
    assert calls == []
    assert _env_calls(PACKAGE / "driver.py")  # the check sees the driver's own calls: it can fail
