"""The basal-ganglia part: which module controls each body, for how long, and what it learns.

One step for B envs (:meth:`BasalGanglia.step`), given the latent features ``f_t``, the phasic
RPE vector ``δ_t`` and the tonic signals:

* credit   the module in control sums the per-channel RPEs of its option, ``Σ_t δ_{c,t}``
* end      when its option ends (after ``option_steps`` steps, at an episode start, or when the
           module was pruned) Go/NoGo and its strength learn from the option's mean global RPE
           ``Σ_c w_c δ̄_c`` (one currency for choosing between modules; ``pathways.py``)
* select   a new module is drawn in the latent's striatal context (an LSH of ``f_t``), Go/NoGo
           tilted by tonic modulation and sharpened by a low temperature (OpAL, ``selection.py``)
* act      each module proposes for the envs it controls; the forward drive is scaled by vigour

:meth:`BasalGanglia.learn` is the learned actors' policy gradient on their own steps,
``−log π(a|f) · Â − β_H H[π]`` with ``Â`` the critics' advantage routed by the module's kind
(``Σ_c routing[kind][c] (G^λ_c − V_c)``) and divided by its standard deviation over the rollout.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from embodied.brain.basal_ganglia.config import BasalGangliaConfig
from embodied.brain.basal_ganglia.pathways import PathwayPopulation
from embodied.brain.rng import generator_state, set_generator_state


class BasalGanglia:
    """The pathway population and each env's option (``brain.basal_ganglia``)."""

    def __init__(
        self,
        cfg: BasalGangliaConfig,
        feature_dim: int,
        channel_weights: dict[str, float],
        channels: list[str],
        rng: np.random.Generator,
        num_envs: int,
        device,
    ) -> None:
        self.cfg, self.device, self.rng = cfg, device, rng
        self.channel_weights, self.channels = dict(channel_weights), list(channels)
        scalar = self.channels == ["total"]
        self.population = PathwayPopulation(feature_dim, cfg, rng, device, scalar=scalar)
        self.nan_skips = 0
        self.step_count = 0  # env steps seen while learning (all envs): module ages and event times
        self.reset(num_envs)

    def reset(self, num_envs: int) -> None:
        """Forget every env's option (no reinforcement for the ones running)."""
        self.num_envs = num_envs
        self.module: list[str | None] = [None] * num_envs
        self.option_left = np.zeros(num_envs, np.int64)
        self.option_context = np.zeros(num_envs, np.int64)
        self.option_rpe = [defaultdict(float) for _ in range(num_envs)]
        self.option_len = np.zeros(num_envs, np.int64)
        self.t_in_episode = np.zeros(num_envs, np.int64)

    # ------------------------------------------------------------------ options
    def end_episode(self, learn: bool) -> None:
        """All envs end their episode: options still running are reinforced with what they earned."""
        for b in range(self.num_envs):
            self._end_option(b, learn)

    def _end_option(self, b: int, learn: bool) -> None:
        name = self.module[b]
        if name is not None and learn and self.option_len[b] > 0:
            mean = {c: v / self.option_len[b] for c, v in self.option_rpe[b].items()}
            # Selection learns from the global "success in life" RPE, one currency for every module
            # (routed, module-specific mixes would favour whichever kind has the larger weights);
            # the routed local RPE trains each module's own actor in learn().
            global_rpe = sum(self.channel_weights.get(c, 1.0) * v for c, v in mean.items())  # 'total': weighted
            self.population.reinforce(name, int(self.option_context[b]), float(global_rpe), step=self.step_count)
        self.module[b] = None
        self.option_left[b] = 0
        self.option_rpe[b] = defaultdict(float)
        self.option_len[b] = 0

    def step(self, obs, features, is_first, rpe, modulation, temperature, vigour, learn: bool):
        """Credit, end and select options, then act. ``rpe`` {channel: (B,)} is the phasic RPE of
        the transition just made; ``modulation``, ``temperature`` and ``vigour`` (B,) are tonic
        dopamine's signals. Returns ``(actions [B, 3], raw [B, 3])``: raw are the actors' samples."""
        valid = ~is_first
        contexts = self.population.context(features)
        for b in range(self.num_envs):
            if self.module[b] is not None and valid[b]:
                for c in self.channels:
                    self.option_rpe[b][c] += float(rpe[c][b])
                self.option_len[b] += 1
            if is_first[b] or self.option_left[b] <= 0 or self.module[b] not in self.population.modules:
                self._end_option(b, learn)
                self.module[b] = self.population.choose(contexts[b], modulation[b], temperature[b])
                self.option_context[b] = contexts[b]
                self.option_left[b] = self.cfg.option_steps
            self.option_left[b] -= 1
        actions, raw = self._act(obs, features, is_first, vigour)
        if learn:
            self.step_count += self.num_envs
        return actions, raw

    def _act(self, obs: dict, features: np.ndarray, is_first: np.ndarray, vigour: np.ndarray):
        """Each module proposes for the envs it controls; vigour scales the forward drive."""
        self.t_in_episode = np.where(is_first, 0, self.t_in_episode + 1)
        actions = np.zeros((self.num_envs, 3), np.float32)
        raw = np.zeros((self.num_envs, 3), np.float32)
        for name in sorted(set(self.module)):
            rows = np.array([b for b in range(self.num_envs) if self.module[b] == name])
            a, r = self.population.act(
                name,
                {k: np.asarray(v)[rows] for k, v in obs.items()},
                features[rows],
                self.t_in_episode[rows].astype(np.float64),
            )
            actions[rows], raw[rows] = a, r
        actions[:, 0] = np.where(actions[:, 0] > 0, actions[:, 0] * vigour, actions[:, 0])
        return actions, raw

    def plasticity_tick(self, n_steps: int) -> None:
        """Structural plasticity after ``n_steps`` steps per env (decay, prune, spawn)."""
        active = {m for m in self.module if m is not None}
        self.population.tick(self.step_count, active, n_steps)

    def take_events(self) -> list[tuple[int, str, str, str, float]]:
        """The population's births, selections and prunes since the last call ``(step, event,
        module, parent, strength)``; the list is emptied."""
        events, self.population.events = self.population.events, []
        return events

    # ------------------------------------------------------------------ learning
    def learn(self, records: list[dict], advantage: np.ndarray, mask: np.ndarray) -> dict[str, float]:
        """The actors' policy gradient on a rollout of records (rows 0..T; row t's module acted on
        the transition t -> t+1), given the critics' ``advantage [T, B, C]`` and ``mask [T, B]``."""
        modules = [r["module"] for r in records[:-1]]
        routed = np.zeros(mask.shape, np.float32)
        for t, row in enumerate(modules):
            for b, name in enumerate(row):
                if name is not None:
                    routed[t, b] = self.population.route(name, dict(zip(self.channels, advantage[t, b])))
        scale = routed[mask > 0].std() + 1e-6 if (mask > 0).sum() > 1 else 1.0
        routed = routed / scale
        features = torch.as_tensor(np.stack([r["features"] for r in records[:-1]]), device=self.device)
        raw = np.stack([r["raw"] for r in records[:-1]])
        losses = []
        for name, module in self.population.actors().items():
            acted = np.array([[row[b] == name for b in range(len(row))] for row in modules]) & (mask > 0)
            if acted.any():
                loss = self._actor_step(
                    module, features[torch.as_tensor(acted, device=self.device)], raw, routed, acted
                )
                if loss is not None:
                    losses.append(loss)
        return {"actor": float(np.mean(losses))} if losses else {}

    def _actor_step(self, module, features, raw, routed, acted) -> float | None:
        """One guarded Adam step of a module's actor; None (and a skip counted) if not finite."""
        a = torch.as_tensor(raw[acted], device=self.device)
        adv = torch.as_tensor(routed[acted], device=self.device)
        logp, entropy = module.actor.log_prob(features, a)
        loss = -(logp * adv).mean() - self.cfg.entropy_coef * entropy.mean()
        module.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            self.nan_skips += 1
            return None
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(module.actor.parameters(), 10.0)
        if not math.isfinite(float(norm)):
            module.optimizer.zero_grad(set_to_none=True)
            self.nan_skips += 1
            return None
        module.optimizer.step()
        return float(loss.detach())

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """The population (modules, actors, Go/NoGo tables), the selection RNG and the counters."""
        return {
            "population": self.population.state_dict(),
            "rng": generator_state(self.rng),
            "step_count": int(self.step_count),
            "nan_skips": int(self.nan_skips),
        }

    def load_state_dict(self, state: dict, weights_only: bool = False) -> None:
        """Restore it all (``weights_only``: the population only)."""
        self.population.load_state_dict(state["population"])
        if not weights_only:
            set_generator_state(self.rng, state["rng"])
            self.step_count, self.nan_skips = int(state["step_count"]), int(state["nan_skips"])
