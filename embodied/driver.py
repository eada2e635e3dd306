"""The driver: the one loop that steps an env with a policy.

Every loop of the project that steps an env goes through :class:`Driver`: training collection
(``train/collector.py``, a gymnasium vector env), evaluation (``train/evaluate.py``), videos
(``viz/record.py``), the GUI (``viz/gui.py``), the lab's probes (``lab/embodied_lab.py``),
``embodied rollout``, the privileged oracles' tours and the scripted intrinsic-reward scenarios
(``evaluation/``). :meth:`Driver.step` is the only place that does

    action, extras = policy.act(obs)          # the policy sees the observation only
    obs', reward, terminated, truncated, info = env.step(action)
    policy.observe_reward(reward)             # so that the rat knows when it ate
    on_step(Step(...)) for each callback

so no loop can forget to tell the policy its reward (the bug where the rat never learned that it
had eaten in videos and evaluation). Modelled on DreamerV3's ``embodied/core/driver.py``.

    driver = Driver(env, policy, on_step=[log], on_episode=[summarise])
    driver.reset(seed=0)                      # env.reset(seed=…, options=…), then policy.reset()
    driver.run(steps=1000)                    # or episodes=…, until=…; driver.step() for one step

The policy protocol: ``reset()``, ``act(obs) -> (action, extras)``, and optionally
``observe_reward(reward)`` (a float; an array of one per env for a vector env). With a vector
env the env resets finished episodes itself (same-step autoreset) and the driver tells the policy
which envs start afresh with ``policy.reset_envs(done)`` after every step.

``step(action)`` steps with a given action instead (the GUI's keyboard, a scripted scenario):
the policy did not act, so it is not told the reward (and may be ``None``).

Episodes (one env): when one ends, ``on_episode`` callbacks get an :class:`Episode`; the next
reset happens lazily, at the next step, with no seed (the env's own generator goes on), so a
run of ``steps`` never resets after its last step. A callback may reset at once
(``driver.reset()``), as the GUI does to show the new episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np


@dataclass
class Step:
    """One transition, as the callbacks see it. ``obs``/``info``: what the policy acted on (and the
    env's privileged info that came with it, for metrics and pictures only); ``next_obs``/
    ``next_info``: what ``env.step`` returned. ``first``: ``obs`` starts an episode (an array per
    env for a vector env). ``episode_step``: steps of this episode including this one (one env)."""

    obs: dict
    info: dict
    action: Any
    extras: dict
    reward: Any
    terminated: Any
    truncated: Any
    next_obs: dict
    next_info: dict
    first: Any
    episode_step: int
    acted: bool  # False when the action was given to ``step(action)`` (keyboard, script), not the policy's

    @property
    def done(self):
        return (
            np.logical_or(self.terminated, self.truncated)
            if isinstance(self.terminated, np.ndarray)
            else bool(self.terminated or self.truncated)
        )


@dataclass
class Episode:
    """An episode that ended (one env): its length, its summed reward and the env's last info."""

    steps: int
    total_reward: float
    info: dict


class Driver:
    """Steps ``env`` (a gymnasium env, or a vector env) with ``policy``; see the module docstring."""

    def __init__(
        self,
        env,
        policy=None,
        on_step: list[Callable[[Step], None]] | tuple = (),
        on_episode: list[Callable[[Episode], None]] | tuple = (),
    ):
        self.env, self.policy = env, policy
        self.vector = isinstance(env, gym.vector.VectorEnv)
        self.on_step, self.on_episode = list(on_step), list(on_episode)
        self.obs, self.info = None, None
        self.needs_reset = True
        self.episode_step, self.episode_reward = 0, 0.0
        self.first = None
        self.episodes = 0  # episodes started (resets)

    def reset(self, seed=None, options: dict | None = None) -> None:
        """``env.reset(seed=…, options=…)`` (a list of seeds for a vector env), then ``policy.reset()``."""
        self.obs, self.info = self.env.reset(seed=seed, options=options)
        if self.policy is not None:
            self.policy.reset()
        self.needs_reset = False
        self.episodes += 1
        self.episode_step, self.episode_reward = 0, 0.0
        self.first = np.ones(self.env.num_envs, bool) if self.vector else True

    def step(self, action=None) -> Step:
        """One env step: the policy's action (or ``action``), the reward told to the policy, the callbacks."""
        if self.needs_reset:
            self.reset()
        acted = action is None
        extras = {}
        if acted:
            action, extras = self.policy.act(self.obs)
        next_obs, reward, terminated, truncated, next_info = self.env.step(action)
        if acted:
            self._tell(reward, terminated, truncated)
        self.episode_step += 1
        step = Step(
            self.obs,
            self.info,
            action,
            extras,
            reward,
            terminated,
            truncated,
            next_obs,
            next_info,
            self.first,
            self.episode_step,
            acted,
        )
        self.obs, self.info = next_obs, next_info
        self.first = step.done if self.vector else False
        if not self.vector:
            self.episode_reward += reward
        for callback in self.on_step:
            callback(step)
        if not self.vector and step.done:
            self.needs_reset = True
            episode = Episode(self.episode_step, self.episode_reward, next_info)
            for callback in self.on_episode:
                callback(episode)
        return step

    def _tell(self, reward, terminated, truncated) -> None:
        """The reward of the step just taken to a policy that listens (``observe_reward``; the agent's food
        channel reads it, a reference policy has none); for a vector env, also which envs start afresh."""
        listen = getattr(self.policy, "observe_reward", None)
        if listen is not None:
            listen(reward if self.vector else float(reward))
        if self.vector and hasattr(self.policy, "reset_envs"):
            self.policy.reset_envs(np.asarray(terminated) | np.asarray(truncated))

    def run(
        self, steps: int | None = None, episodes: int | None = None, until: Callable[[], bool] | None = None
    ) -> int:
        """Step until ``steps`` steps, ``episodes`` ended episodes, or ``until()`` is true (asked before
        each step, after any pending reset: ``driver.info`` is then what the policy would act on).
        Returns the steps taken."""
        taken = ended = 0
        while (steps is None or taken < steps) and (episodes is None or ended < episodes):
            if self.needs_reset:
                self.reset()
            if until is not None and until():
                break
            step = self.step()
            taken += 1
            ended += int(not self.vector and step.done)
        return taken
