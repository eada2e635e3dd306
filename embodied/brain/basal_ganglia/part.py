"""The basal-ganglia part: which module controls each body, for how long, and what it learns.

One step for B envs (:meth:`BasalGanglia.step`), given the latent features ``f_t``, the phasic
RPE vector ``δ_t`` and the tonic signals:

* credit   the module in control sums the per-channel RPEs of its option, ``Σ_t δ_{c,t}``
* end      when its option ends (after ``option_steps`` steps, at an episode start, or when the
           module was pruned) Go/NoGo and its strength learn from the option's mean global RPE
           ``Σ_c w_c δ̄_c`` (one currency for choosing between modules; ``pathways.py``)
* select   a new module is drawn in the latent's striatal context (an LSH of ``f_t``), Go/NoGo
           tilted by tonic modulation and sharpened by a low temperature (OpAL, ``selection.py``)
* act      each module proposes for the envs it controls; the forward drive is scaled by vigour.
           A learned actor's exploration noise may be held across its option,
           ``ε_t = ρ ε_{t−1} + √(1−ρ²) η_t`` (ε fresh at the option's start; ρ =
           ``actor_noise_correlation``): a motor program that commits to a direction for a while
           instead of jittering, as in temporally extended ε-greedy (Dabney et al. 2021) and
           state-dependent exploration held for n steps (gSDE, Raffin, Kober & Stulp 2022).

:meth:`BasalGanglia.learn` is the learned actors' policy gradient on their own steps,
``−log π(a|f) · Â − β_H H[π]`` with ``Â`` the critics' advantage routed by the module's kind
(``Σ_c routing[kind][c] (G^λ_c − V_c)``) and divided by its standard deviation over the rollout
(with ``actor_advantage_centring``, minus its mean first: PPO's advantage normalisation; a lagging
critic's common offset otherwise random-walks the actors' means into saturation).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from embodied.brain.basal_ganglia.config import BasalGangliaConfig
from embodied.brain.basal_ganglia.mirror import Mirror, input_mirror
from embodied.brain.basal_ganglia.pathways import PathwayPopulation
from embodied.brain.rng import generator_state, set_generator_state


def actor_sense_dim(senses: list[str], observation_space) -> int:
    """Numbers the learned actors read besides the latent: the flattened sizes of ``senses``."""
    if not senses:
        return 0
    if observation_space is None:
        raise ValueError("actor_senses needs the observation space (the sizes of the senses)")
    missing = [k for k in senses if k not in observation_space.spaces]
    if missing:
        raise ValueError(f"actor_senses names {missing[0]!r}, which the observation does not have")
    return int(sum(np.prod(observation_space.spaces[k].shape) for k in senses))


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
        observation_space=None,
    ) -> None:
        self.cfg, self.device, self.rng = cfg, device, rng
        self.channel_weights, self.channels = dict(channel_weights), list(channels)
        scalar = self.channels == ["total"]
        self.sense_dim = actor_sense_dim(cfg.actor_senses, observation_space)
        mirror = None
        if cfg.actor_mirror_symmetric:
            sizes = [int(np.prod(observation_space.spaces[k].shape)) for k in cfg.actor_senses]
            mirror = Mirror(*input_mirror(feature_dim, cfg.actor_senses, sizes)).to(device)
        self.population = PathwayPopulation(
            feature_dim, cfg, rng, device, scalar=scalar, actor_input_dim=feature_dim + self.sense_dim, mirror=mirror
        )
        self.actor_input: np.ndarray | None = None  # the last step's actor input (latent ⊕ senses)
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
        self.noise = np.zeros((num_envs, 3))  # each env's actor exploration noise ε (held options)
        self.noise_fresh = np.ones(num_envs, bool)  # an option starts: draw ε anew

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
                self.noise_fresh[b] = True
            self.option_left[b] -= 1
        self.actor_input = self._actor_input(obs, features)
        actions, raw = self._act(obs, self.actor_input, is_first, vigour)
        if learn:
            self.step_count += self.num_envs
        return actions, raw

    @property
    def reads_senses(self) -> bool:
        return bool(self.cfg.actor_senses)

    def _actor_input(self, obs: dict, features: np.ndarray) -> np.ndarray:
        """The learned actors' input: the latent features, then ``symlog`` of each sense in
        ``actor_senses`` flattened per env (the rat's own whiskers, body and nose; no simulator state)."""
        if not self.reads_senses:
            return features
        senses = [np.asarray(obs[k], np.float32).reshape(self.num_envs, -1) for k in self.cfg.actor_senses]
        senses = [np.sign(x) * np.log1p(np.abs(x)) for x in senses]
        return np.concatenate([np.asarray(features, np.float32), *senses], axis=-1)

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
                noise=self._held_noise(name, rows),
            )
            actions[rows], raw[rows] = a, r
        self.noise_fresh[:] = False
        actions[:, 0] = np.where(actions[:, 0] > 0, actions[:, 0] * vigour, actions[:, 0])
        return actions, raw

    def _held_noise(self, name: str, rows: np.ndarray) -> np.ndarray | None:
        """ε for a learned actor's rows under ``actor_noise_correlation`` ρ > 0 (None: the
        population draws white noise, ρ = 0)."""
        rho = self.cfg.actor_noise_correlation
        if rho <= 0 or self.population.modules[name].actor is None:
            return None
        eta = self.rng.standard_normal((len(rows), 3))
        held = rho * self.noise[rows] + math.sqrt(max(1.0 - rho * rho, 0.0)) * eta
        eps = np.where(self.noise_fresh[rows, None], eta, held)
        self.noise[rows] = eps
        return eps

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
        if self.cfg.actor_advantage_centring and (mask > 0).sum() > 1:
            routed = routed - routed[mask > 0].mean()  # a common offset only adds variance to the gradient
        routed = routed / scale
        key = "actor_input" if self.reads_senses else "features"
        features = torch.as_tensor(np.stack([r[key] for r in records[:-1]]), device=self.device)
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
                    self.population.average_weights(name)
        return {"actor": float(np.mean(losses))} if losses else {}

    def _actor_step(self, module, features, raw, routed, acted) -> float | None:
        """``actor_epochs`` guarded Adam steps of a module's actor on its rows; the loss of the
        first, or None (and a skip counted) if it was not finite.

        One epoch is the plain policy gradient ``−log π(a|f) Â − β_H H``. More epochs reuse the
        rollout with PPO's clipped surrogate ``−min(ρ Â, clip(ρ, 1 ± ε) Â)``, ``ρ = π/π_old``
        (Schulman et al. 2017): π_old is the policy that acted, since actors change only here."""
        a = torch.as_tensor(raw[acted], device=self.device)
        adv = torch.as_tensor(routed[acted], device=self.device)
        epochs, clip = self.cfg.actor_epochs, self.cfg.actor_clip
        old_logp, first = None, None
        for _ in range(epochs):
            logp, entropy = module.actor.log_prob(features, a)
            if epochs == 1:
                surrogate = logp * adv
            else:
                old_logp = logp.detach() if old_logp is None else old_logp
                ratio = torch.exp(logp - old_logp)
                surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
            loss = -surrogate.mean() - self.cfg.entropy_coef * entropy.mean()
            if not self._guarded_update(module, loss):
                return first
            first = float(loss.detach()) if first is None else first
        return first

    def _guarded_update(self, module, loss: torch.Tensor) -> bool:
        module.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            self.nan_skips += 1
            return False
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(module.actor.parameters(), 10.0)
        if not math.isfinite(float(norm)):
            module.optimizer.zero_grad(set_to_none=True)
            self.nan_skips += 1
            return False
        module.optimizer.step()
        return True

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
        """Restore it all (``weights_only``: the population only, a policy that acts: its actors
        take their averaged weights when ``actor_average`` > 0)."""
        self.population.load_state_dict(state["population"], acting=weights_only)
        if not weights_only:
            set_generator_state(self.rng, state["rng"])
            self.step_count, self.nan_skips = int(state["step_count"]), int(state["nan_skips"])
