"""Reference policies that need no learning: baselines, data collection and demos.

All read only the observation (the one hard rule), never privileged state. The env loops step
them through ``embodied.driver.Driver``, which also passes the reward to a policy that listens
(``observe_reward``). :class:`PolicyStack` puts single-env policies side by side for envs that are
stepped together.
"""

from __future__ import annotations

import numpy as np

from .basal_ganglia.reflexes import REFLEX_PRESETS, ChemotaxisProgram, WallFollowProgram, WanderProgram, make_program


class RandomPolicy:
    """Uniform random actions: the baseline that visits ~2% of a 9×9 maze in 2,000 steps."""

    def __init__(self, action_space, seed: int | None = None):
        self.low, self.high = action_space.low, action_space.high
        self.rng = np.random.default_rng(seed)

    def reset(self, num_envs: int = 1) -> None:
        pass

    def act(self, obs: dict) -> tuple[np.ndarray, dict]:
        return self.rng.uniform(self.low, self.high).astype(np.float32), {}


class _ReflexPolicy:
    """One innate reflex program (embodied.brain.basal_ganglia.reflexes) as a single-env Policy."""

    def __init__(self, program, seed: int | None = None):
        self.program, self.rng = program, np.random.default_rng(seed)
        self._t = 0

    def reset(self, num_envs: int = 1) -> None:
        self._t = 0

    def act(self, obs: dict) -> tuple[np.ndarray, dict]:
        self._t += 1
        batch = {key: np.asarray(value)[None] for key, value in obs.items()}
        return self.program.act(batch, np.array([self._t]), self.rng)[0], {}


class WanderPolicy(_ReflexPolicy):
    """Run forward, turn away from whisker contacts, with a random drift (reflexes.WanderProgram)."""

    def __init__(self, seed: int | None = None):
        super().__init__(WanderProgram(REFLEX_PRESETS["forward"]), seed)


class ChemotaxisPolicy(_ReflexPolicy):
    """Follow the food odour with both nostrils (reflexes.ChemotaxisProgram)."""

    def __init__(self, seed: int | None = None):
        super().__init__(ChemotaxisProgram(REFLEX_PRESETS["chemotaxis"]), seed)


class WallFollowPolicy(_ReflexPolicy):
    """Thigmotaxis: follow the wall on one side with the whiskers (reflexes.WallFollowProgram)."""

    def __init__(self, seed: int | None = None, side: str = "right"):
        super().__init__(WallFollowProgram(REFLEX_PRESETS[f"wall_follow_{side}"]), seed)


class ReflexPolicy(_ReflexPolicy):
    """One innate reflex module alone, by its base name (a key of ``reflexes.REFLEX_PRESETS``: ``forward``,
    ``turn_left``, ``wall_follow_left``, ``chemotaxis``, ...): the program the brain's pathway of that name
    starts with (``reflexes.make_program``), with its innate parameters, and nothing else: no world model,
    no selection, no learning. ``reset`` builds the program afresh (chemotaxis keeps the last odour level)."""

    def __init__(self, reflex: str, seed: int | None = None):
        if reflex not in REFLEX_PRESETS:
            raise ValueError(f"unknown reflex {reflex!r}; allowed: {', '.join(REFLEX_PRESETS)}")
        self.reflex = reflex
        super().__init__(make_program(reflex), seed)

    def reset(self, num_envs: int = 1) -> None:
        self.program = make_program(self.reflex)
        super().reset(num_envs)


class PolicyStack:
    """Single-env policies side by side as one batched policy for envs stepped together (``reset()``,
    ``act(obs (B, ...))``, ``observe_reward((B,))``; every env starts together, none restarts alone):
    row i of every array belongs to ``policies[i]``, which sees only its own observation and reward.
    Each keeps its own state and random generator, so a policy in a stack acts exactly as it
    would alone (evaluation batches reference policies and oracles this way)."""

    def __init__(self, policies):
        self.policies = list(policies)
        if not self.policies:
            raise ValueError("PolicyStack needs at least one policy")
        self.num_envs = len(self.policies)

    def reset(self, num_envs: int | None = None) -> None:
        if num_envs is not None and num_envs != self.num_envs:
            raise ValueError(f"this PolicyStack holds {self.num_envs} policies; got reset(num_envs={num_envs})")
        for policy in self.policies:
            policy.reset()

    def act(self, obs: dict) -> tuple[np.ndarray, dict]:
        rows = [
            policy.act({key: np.asarray(value)[i] for key, value in obs.items()})
            for i, policy in enumerate(self.policies)
        ]
        return np.stack([action for action, _ in rows]), {"per_env": [extras for _, extras in rows]}

    def observe_reward(self, reward) -> None:
        reward = np.asarray(reward, np.float64).reshape(self.num_envs)
        for policy, r in zip(self.policies, reward):
            listen = getattr(policy, "observe_reward", None)
            if listen is not None:
                listen(float(r))


#: ``reflex:<name>``: one innate reflex module alone (:class:`ReflexPolicy`), for each reflex the brain knows
REFLEX_PREFIX = "reflex:"
REFLEX_POLICIES = tuple(f"{REFLEX_PREFIX}{reflex}" for reflex in REFLEX_PRESETS)
#: reference policies by name (what ``--policy`` accepts across the commands); ``wander`` is
#: ``reflex:forward`` under its older name (the same program, preset and generator: the same actions)
REFERENCE_POLICIES = ("random", "wander", *REFLEX_POLICIES)


def make_reference_policy(name: str, action_space, seed: int | None = None):
    """``random``, ``wander`` or ``reflex:<name>`` by name; an unknown name is an error listing the allowed ones."""
    if name == "random":
        return RandomPolicy(action_space, seed)
    if name == "wander":
        return WanderPolicy(seed)
    if name in REFLEX_POLICIES:
        return ReflexPolicy(name[len(REFLEX_PREFIX) :], seed)
    raise ValueError(f"unknown policy {name!r}; allowed: {', '.join(REFERENCE_POLICIES)}")
