"""The agent: three parts — perception, dopamine, basal ganglia — and the order they run in.

One step for B envs (``Agent.step``), in the order a reader can follow:

1. **perceive**   ``s_t = WM.observe(o_t, a_{t−1}, s_{t−1})`` — the recurrent latent state
                  (:class:`~embodied.brain.perception.part.Perception`)
2. **reward**     the vector ``r_{t−1}`` for the transition just made: prediction success,
                  novelty and coherence (perception's ``IntrinsicRewards``, from the rat's own
                  streams), food (the env's extrinsic reward) and effort ``−k·|a_{t−1} − a_{t−2}|²``
                  (a local motor channel: smooth movement is cheap) — assembled by
                  :class:`~embodied.brain.dopamine.part.Dopamine`
3. **phasic DA**  ``δ_c = r_c + γ V_c(x_t) − V_c(x_{t−1})`` per channel, precision-weighted by
                  the spread of the distributional heads (dopamine's ``ChannelCritics``; x the
                  latent features, opt-in with the rat's senses, traces and a delay line)
4. **tonic DA**   ``ρ ← ρ + κ (Σ_c w_c r_c − ρ)`` per env (dopamine's ``TonicDopamine``): vigour
                  (top speed) and exploration temperature
5. **basal ganglia**  the module in control accumulates the RPE vector; when its option ends
                  Go/NoGo and its strength learn from the global phasic RPE (Σ_c w_c δ̄_c: one
                  currency for choosing between modules), and a new module is selected in the
                  latent's context, tilted by tonic dopamine
                  (:class:`~embodied.brain.basal_ganglia.part.BasalGanglia`)
6. **act**        the selected module proposes; the forward drive is scaled by vigour (basal ganglia)

The one hard rule holds: inputs are the observation, the agent's own actions and states,
and the env's scalar reward (food). ``info`` never enters here.

``Agent.learn(records)`` links the rollout to the previous one's last row, lets dopamine train
the critics on it (λ-returns and expectiles; opt-in replayed critic updates, return
normalisation and sense inputs: ``brain.dopamine``) and hands their advantage to the basal
ganglia, whose learned actor modules take a policy-gradient step on their own steps.
``Agent.train_world_model(batch)`` is perception's update from replay. The agent itself holds
no learning rule: only the order of the calls, the last two actions and the last record.
``AgentPolicy`` wraps an agent into the single-env Policy interface with extras, or with
``num_envs=N`` into the batched one (evaluation steps several held-out mazes together).
"""

from __future__ import annotations

import numpy as np
import torch

from embodied.brain.basal_ganglia.part import BasalGanglia
from embodied.brain.config import BrainConfig
from embodied.brain.dopamine.part import Dopamine
from embodied.brain.perception.part import Perception


class Agent:
    """The rat's brain for ``num_envs`` parallel bodies, built from the ``brain`` config section."""

    def __init__(
        self,
        cfg: BrainConfig,
        observation_space,
        action_space,
        num_envs: int = 1,
        *,
        seed: int = 0,
        device: str = "auto",
    ):
        self.cfg = cfg
        torch.manual_seed(seed)
        rng = np.random.default_rng([seed, 1])  # selection, reflex drift, actor noise
        # built in this order: the torch initialisations (world model, intrinsic heads, critics, actors) follow it
        self.perception = Perception(cfg.perception, observation_space, action_space, num_envs, seed, device)
        self.device = self.perception.device
        feature_dim = self.perception.feature_dim
        self.dopamine = Dopamine(cfg.dopamine, feature_dim, observation_space, num_envs, seed, self.device)
        self.basal_ganglia = BasalGanglia(
            cfg.basal_ganglia,
            feature_dim,
            self.dopamine.weights,
            self.dopamine.channels,
            rng,
            num_envs,
            self.device,
            observation_space=observation_space,
        )
        self.reset(num_envs)

    @property
    def channels(self) -> list[str]:
        """The dopamine channels, the keys of ``info["rpe"]``."""
        return self.dopamine.channels

    @property
    def nan_skips(self) -> int:
        """Updates skipped for a non-finite loss or gradient, all parts together."""
        return self.perception.nan_skips + self.dopamine.nan_skips + self.basal_ganglia.nan_skips

    # ------------------------------------------------------------------ per-env state
    def reset(self, num_envs: int | None = None) -> None:
        """Forget the per-env streams (latent state, options); tonic keeps its mean level."""
        n = num_envs or self.num_envs
        self.num_envs = n
        self.perception.reset(n)
        self.dopamine.reset(n)
        self.basal_ganglia.reset(n)
        self.action_prev = np.zeros((n, 3), np.float32)
        self.action_prev2 = np.zeros((n, 3), np.float32)
        self._carry = None  # the last record of the previous rollout, linking it to the next

    def end_episode(self, learn: bool = True) -> None:
        """All envs end their episode: options still running are reinforced with what they earned."""
        self.basal_ganglia.end_episode(learn)

    # ------------------------------------------------------------------ the step
    def step(self, obs: dict, reward, is_first, learn: bool = True, predict: bool = False):
        """One step for all envs. ``obs[key]`` is (B, ...), ``reward`` the extrinsic reward of the
        previous action (B,), ``is_first`` (B,). Returns ``(actions (B, 3), info)`` where info has
        per-env arrays ``rpe`` {channel: (B,)}, ``rpe_raw``, ``rewards``, ``tonic``, ``vigour``,
        ``module`` (list), ``predicted_vision`` (with ``predict``) and the learner's ``record``."""
        B = self.num_envs
        is_first = np.asarray(is_first, bool).reshape(B)
        food = np.where(is_first, 0.0, np.asarray(reward, np.float32).reshape(B))
        self.action_prev[is_first] = 0.0  # an episode starts from rest (and the WM zeroes it too)
        self.action_prev2[is_first] = 0.0
        percept = self.perception.step(obs, self.action_prev, is_first, learn, predict)  # 1. (and 2.: intrinsic)
        dopamine = self.dopamine.step(  # 2.-4. reward vector, phasic and tonic dopamine
            percept.features_t,
            percept.features,
            obs,
            is_first,
            percept.intrinsic,
            food,
            self.action_prev,
            self.action_prev2,
        )
        actions, raw = self.basal_ganglia.step(  # 5.-6. options, selection, action
            obs,
            percept.features,
            is_first,
            dopamine.rpe,
            dopamine.modulation,
            dopamine.temperature,
            dopamine.vigour,
            learn,
        )
        modules = list(self.basal_ganglia.module)
        record = {
            "features": percept.features,
            "module": modules,
            "raw": raw,
            "reward": dopamine.critic_reward,
            "is_first": is_first.copy(),
        }
        if dopamine.critic_input is not None:
            record["critic_input"] = dopamine.critic_input
        if self.basal_ganglia.reads_senses:
            record["actor_input"] = self.basal_ganglia.actor_input
        self.action_prev2, self.action_prev = self.action_prev, actions.copy()
        info = {
            "rpe": dopamine.rpe,
            "rpe_raw": dopamine.rpe_raw,
            "rewards": dopamine.rewards,
            "tonic": dopamine.tonic,
            "vigour": np.asarray(dopamine.vigour),
            "module": list(modules),
            "record": record,
            "predicted_vision": percept.predicted_vision,
        }
        return actions, info

    # ------------------------------------------------------------------ learning
    def learn(self, records: list[dict]) -> dict[str, float]:
        """Critics, then actor modules, from the rollout just collected (``records`` from ``step``).

        Row t's ``reward`` belongs to the transition t−1 -> t, so transitions are (row t,
        row t+1). The last row of the previous rollout is carried over to link rollouts,
        except at an episode boundary (every env starts fresh: nothing to link).
        """
        fresh = list(records)
        if self._carry is not None and not records[0]["is_first"].all():
            records = [self._carry] + list(records)
        self._carry = records[-1]
        if len(records) < 2:
            return {}
        out, advantage, mask = self.dopamine.learn(records, fresh)
        out.update(self.basal_ganglia.learn(records, advantage, mask))
        out["nan_skips"] = float(self.nan_skips)
        return out

    def train_world_model(self, batch: dict) -> dict[str, float]:
        """One world-model update on a replay batch, then the intrinsic heads (NaN-guarded both)."""
        return self.perception.learn(batch)

    def plasticity_tick(self, n_steps: int) -> None:
        """Structural plasticity after ``n_steps`` steps per env (decay, prune, spawn)."""
        self.basal_ganglia.plasticity_tick(n_steps)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Each part's weights, optimisers, counters and RNG: tensors and plain data only."""
        return {
            "perception": self.perception.state_dict(),
            "dopamine": self.dopamine.state_dict(),
            "basal_ganglia": self.basal_ganglia.state_dict(),
        }

    def load_state_dict(self, state: dict, weights_only: bool = False) -> None:
        """Restore every part (``weights_only=True``: weights, population and tonic only, no optimisers: a
        policy that acts, whose actors take their averaged weights when ``actor_average`` > 0)."""
        self.perception.load_state_dict(state["perception"], weights_only)
        self.dopamine.load_state_dict(state["dopamine"], weights_only)
        self.basal_ganglia.load_state_dict(state["basal_ganglia"], weights_only)


class AgentPolicy:
    """The Policy interface (docs/architecture.md) over one env, or over ``num_envs`` envs stepped together.

    ``num_envs=None`` (one env): ``act(obs)`` takes one unbatched observation and returns one action,
    ``observe_reward(r)`` a float. ``num_envs=N`` (batched, N ≥ 1): the driver's vector-env protocol,
    one ``Agent.step`` for all N bodies: ``act(obs)`` takes ``(N, ...)`` arrays and returns ``(N, 3)``
    actions and extras with one entry per env, ``observe_reward`` takes ``(N,)`` rewards and
    ``reset_envs(done)`` marks the envs whose next observation starts an episode.

    Acting does not learn (``learn=False``). ``observe_reward`` passes the env's reward for the food
    channel (optional: without it food reads 0, the rat just does not know it ate). The N envs share
    the agent's random streams (module selection, actor noise, the world model's latent samples), so
    what one env draws depends on its batch partners: a batched run equals a one-env run in
    distribution, not draw for draw.
    """

    def __init__(self, agent: Agent, predict: bool = True, num_envs: int | None = None):
        if num_envs is not None and (isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1):
            raise ValueError(f"AgentPolicy num_envs must be None (one env) or a whole number ≥ 1; got {num_envs!r}")
        self.agent = agent
        self.predict = predict  # False: skip the predicted frame (extras["predicted_vision"]), e.g. for probes
        self.num_envs = num_envs
        self.reset()

    @property
    def batched(self) -> bool:
        """Whether ``act`` takes ``(N, ...)`` arrays (``num_envs`` given) rather than one observation."""
        return self.num_envs is not None

    def reset(self, num_envs: int | None = None) -> None:
        """Every env starts an episode: the agent forgets its per-env streams (latent state, options)."""
        n = self.num_envs or 1
        if num_envs is not None and num_envs != n:
            acts_in = f"{n} envs" if self.batched else "one env (unbatched observations)"
            raise ValueError(
                f"this AgentPolicy acts in {acts_in}, set when it was built (num_envs=N for N envs); "
                f"got reset(num_envs={num_envs})"
            )
        self.agent.reset(n)
        self._first, self._reward = np.ones(n, bool), np.zeros(n, np.float32)

    def observe_reward(self, reward) -> None:
        self._reward = np.asarray(reward, np.float32).reshape(len(self._first))

    def reset_envs(self, done) -> None:
        """The envs whose next observation starts an episode (a vector env's same-step autoreset)."""
        self._first = np.asarray(done, bool).reshape(len(self._first)).copy()

    def act(self, obs: dict) -> tuple[np.ndarray, dict]:
        if not self.batched:
            return self._act_one(obs)
        for key, value in obs.items():
            if np.shape(value)[:1] != (self.num_envs,):
                raise ValueError(
                    f"AgentPolicy for {self.num_envs} envs got observation {key!r} of shape {np.shape(value)}; "
                    f"expected a leading dimension of {self.num_envs}"
                )
        actions, info = self._step({k: np.asarray(v) for k, v in obs.items()})
        extras = {
            "rpe": {c: np.asarray(v, np.float32).copy() for c, v in info["rpe"].items()},
            "tonic": np.asarray(info["tonic"], np.float64).copy(),
            "module": [str(m) for m in info["module"]],
            "rewards": {c: np.asarray(v, np.float32).copy() for c, v in info["rewards"].items()},
        }
        if info["predicted_vision"] is not None:
            extras["predicted_vision"] = info["predicted_vision"]
        return actions, extras

    def _act_one(self, obs: dict) -> tuple[np.ndarray, dict]:
        actions, info = self._step({k: np.asarray(v)[None] for k, v in obs.items()})
        extras = {
            "rpe": {c: float(v[0]) for c, v in info["rpe"].items()},
            "tonic": float(info["tonic"][0]),
            "module": str(info["module"][0]),
            "rewards": {c: float(v[0]) for c, v in info["rewards"].items()},
        }
        if info["predicted_vision"] is not None:
            extras["predicted_vision"] = info["predicted_vision"][0]
        return actions[0], extras

    def _step(self, batch: dict) -> tuple[np.ndarray, dict]:
        """One ``Agent.step`` without learning; the reward and episode-start flags are used once."""
        actions, info = self.agent.step(batch, self._reward, self._first, learn=False, predict=self.predict)
        self._first, self._reward = np.zeros_like(self._first), np.zeros_like(self._reward)
        return actions, info
