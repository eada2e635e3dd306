"""The agent: world model + intrinsic rewards + dopamine critics + pathways.

One step for B envs (``Agent.step``), in the order a reader can follow:

1. **perceive**   ``s_t = WM.observe(o_t, a_{t−1}, s_{t−1})`` — the recurrent latent state
2. **reward**     the vector ``r_{t−1}`` for the transition just made: prediction success,
                  novelty and coherence (``IntrinsicRewards``, from the rat's own streams),
                  food (the env's extrinsic reward) and effort ``−k·|a_{t−1} − a_{t−2}|²``
                  (a local motor channel: smooth movement is cheap)
3. **phasic DA**  ``δ_c = r_c + γ V_c(s_t) − V_c(s_{t−1})`` per channel, precision-weighted by
                  the spread of the distributional heads (``ChannelCritics``)
4. **tonic DA**   ``ρ ← ρ + κ (Σ_c w_c r_c − ρ)`` per env (``TonicDopamine``): vigour (top
                  speed) and exploration temperature
5. **basal ganglia**  the module in control accumulates the RPE vector; when its option ends
                  Go/NoGo and its strength learn from the global phasic RPE (Σ_c w_c δ̄_c: one
                  currency for choosing between modules), its actor from its routed local RPE,
                  and a new module is selected in the latent's context, tilted by tonic dopamine
6. **act**        the selected module proposes; the forward drive is scaled by vigour

The one hard rule holds: inputs are the observation, the agent's own actions and states,
and the env's scalar reward (food). ``info`` never enters here.

``Agent.learn(records)`` trains critics (λ-returns, expectiles) and the learned actor modules
(policy gradient on their own steps with their routed advantage) from the rollout just
collected (opt-in, off by default: extra critic steps on sequences replayed from a memory of
critic inputs and reward vectors, ``critic_replay_updates``; per-channel return normalisation,
``critic_return_norm``; critics that also read the rat's own senses and leaky traces of them,
``critic_senses`` / ``critic_sense_traces`` / ``critic_sense_delays`` — formulas in ``critics.py`` and ``critic_input``);
``Agent.train_world_model(batch)`` trains the world model and intrinsic heads
from replay. ``AgentPolicy`` wraps an agent into the single-env Policy interface with extras.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from embodied.brain.basal_ganglia.pathways import PathwayPopulation, PlasticityConfig
from embodied.brain.config import BrainConfig
from embodied.brain.dopamine.critics import ChannelCritics, CriticReplay
from embodied.brain.dopamine.rules import REWARD_CHANNELS, TonicDopamine
from embodied.brain.perception.intrinsic import IntrinsicConfig, IntrinsicRewards
from embodied.brain.perception.world_model import WorldModel, WorldModelConfig

#: counters of IntrinsicRewards that live outside its state_dict (saved by the agent for exact resume)
INTRINSIC_COUNTERS = ("updates_seen",)


def _rng_state(rng: np.random.Generator) -> dict:
    """A numpy Generator's state as strings and lists (loads with weights_only)."""
    state = rng.bit_generator.state
    return {
        "bit_generator": state["bit_generator"],
        "state": {k: str(v) for k, v in state["state"].items()},
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _set_rng_state(rng: np.random.Generator, saved: dict) -> None:
    rng.bit_generator.state = {
        "bit_generator": saved["bit_generator"],
        "state": {k: int(v) for k, v in saved["state"].items()},
        "has_uint32": saved["has_uint32"],
        "uinteger": saved["uinteger"],
    }


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
        self.rng = np.random.default_rng([seed, 1])  # selection, reflex drift, actor noise
        wm_cfg = WorldModelConfig.preset(
            cfg.perception.world_model, **{**cfg.perception.world_model_overrides, "device": device, "seed": seed}
        )
        self.world_model = WorldModel(observation_space, action_space, wm_cfg)
        self.device = self.world_model.device
        self.intrinsic = (
            IntrinsicRewards(self.world_model, IntrinsicConfig(**cfg.perception.intrinsic_overrides), num_envs)
            if cfg.perception.intrinsic
            else None
        )
        self.channels = ["total"] if cfg.dopamine.scalar_dopamine else list(REWARD_CHANNELS)
        self.weights = {c: float(cfg.dopamine.channel_weights.get(c, 0.0)) for c in REWARD_CHANNELS}
        # opt-in: the critics also read the rat's own current senses and leaky memory traces of them
        self.sense_pool = 4
        self.sense_dim = 0
        if cfg.dopamine.critic_senses:
            missing = {"vision", "scent"} - set(observation_space.spaces)
            if missing:
                raise ValueError(f"critic_senses needs the observation keys {sorted(missing)}")
            self.sense_dim = self.sense_pool**2 * 3 + int(np.prod(observation_space["scent"].shape))
        self.sense_delays = [int(d) for d in cfg.dopamine.critic_sense_delays]
        self.critic_input_dim = self.world_model.feature_dim * bool(cfg.dopamine.critic_latent) + self.sense_dim * (
            1 + len(cfg.dopamine.critic_sense_traces) + len(self.sense_delays)
        )
        self.critics = ChannelCritics(
            self.critic_input_dim,
            self.channels,
            cfg.dopamine.critic_taus,
            cfg.dopamine.critic_units,
            cfg.dopamine.critic_lr,
            cfg.dopamine.gamma,
            cfg.dopamine.lam,
            cfg.dopamine.precision_eps,
            slow_rate=cfg.dopamine.critic_slow_rate,
            return_norm=cfg.dopamine.critic_return_norm,
            device=self.device,
        )
        # opt-in: a memory of (features, rewards) for replayed critic updates (critic_replay_updates > 0)
        self.critic_replay = (
            CriticReplay(cfg.dopamine.critic_replay_capacity, num_envs, self.critic_input_dim, len(self.channels))
            if cfg.dopamine.critic_replay_updates > 0
            else None
        )
        self.critic_rng = np.random.default_rng([seed, 3])
        plasticity = PlasticityConfig(
            enabled=cfg.basal_ganglia.plasticity,
            strength_rate=cfg.basal_ganglia.strength_rate,
            strength_gain=cfg.basal_ganglia.strength_gain,
            strength_decay=cfg.basal_ganglia.strength_decay,
            prune_threshold=cfg.basal_ganglia.prune_threshold,
            spawn_threshold=cfg.basal_ganglia.spawn_threshold,
            mutation_std=cfg.basal_ganglia.mutation_std,
            min_modules=cfg.basal_ganglia.min_modules,
            max_modules=cfg.basal_ganglia.max_modules,
            min_age=cfg.basal_ganglia.min_age,
        )
        self.population = PathwayPopulation(
            self.world_model.feature_dim,
            cfg.basal_ganglia.initial_modules,
            cfg.basal_ganglia.routing,
            self.rng,
            plasticity,
            cfg.basal_ganglia.context_bits,
            cfg.basal_ganglia.selector_beta,
            cfg.basal_ganglia.selector_alpha,
            cfg.basal_ganglia.selector_baseline_rate,
            cfg.basal_ganglia.actor_units,
            cfg.basal_ganglia.actor_lr,
            self.device,
            scalar=cfg.dopamine.scalar_dopamine,
        )
        self.tonic = TonicDopamine(
            rate=cfg.dopamine.tonic_rate,
            scale=cfg.dopamine.tonic_scale,
            vigour_range=tuple(cfg.dopamine.vigour_range),
            temperature_gain=cfg.dopamine.temperature_gain,
            num_envs=num_envs,
        )
        self.nan_skips = 0
        self.step_count = 0  # env steps seen (all envs), for population ages
        self._carry = None
        self.reset(num_envs)

    # ------------------------------------------------------------------ per-env state
    def reset(self, num_envs: int | None = None) -> None:
        """Forget the per-env streams (latent state, options); tonic keeps its mean level."""
        n = num_envs or self.num_envs
        if getattr(self, "num_envs", n) != n:
            level = float(np.mean(self.tonic.level))
            self.tonic.level = np.full(n, level)
        self.num_envs = n
        if self.intrinsic is not None:
            self.intrinsic.reset(n)
        self.wm_state = None
        self.action_prev = np.zeros((n, 3), np.float32)
        self.action_prev2 = np.zeros((n, 3), np.float32)
        self.prev_value = np.zeros((n, len(self.channels)), np.float32)
        self.prev_spread = np.ones((n, len(self.channels)), np.float32)
        self.module: list[str | None] = [None] * n
        self.option_left = np.zeros(n, np.int64)
        self.option_context = np.zeros(n, np.int64)
        self.option_rpe = [defaultdict(float) for _ in range(n)]
        self.option_len = np.zeros(n, np.int64)
        self.t_in_episode = np.zeros(n, np.int64)
        self.sense_traces = np.zeros((n, len(self.cfg.dopamine.critic_sense_traces), self.sense_dim), np.float32)
        # opt-in delay line of the senses: row k holds s_{t-k} (filled with s_0 at an episode start)
        self.sense_history = np.zeros((max(self.sense_delays, default=0) + 1, n, self.sense_dim), np.float32)
        self._carry = None

    def end_episode(self, learn: bool = True) -> None:
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
            global_rpe = sum(self.weights.get(c, 1.0) * v for c, v in mean.items())  # 'total' is already weighted
            self.population.reinforce(name, int(self.option_context[b]), float(global_rpe), step=self.step_count)
        self.module[b] = None
        self.option_left[b] = 0
        self.option_rpe[b] = defaultdict(float)
        self.option_len[b] = 0

    # ------------------------------------------------------------------ rewards
    def reward_vector(self, intrinsic: dict, food: np.ndarray, effort: np.ndarray) -> dict[str, np.ndarray]:
        """``{channel: (B,)}`` over the five channels (intrinsic channels zero when switched off)."""
        zeros = np.zeros(self.num_envs, np.float32)
        out = {
            c: np.asarray(intrinsic.get(c, zeros), np.float32) for c in ("prediction_success", "novelty", "coherence")
        }
        out["food"] = np.asarray(food, np.float32)
        out["effort"] = np.asarray(effort, np.float32)
        return out

    def _critic_rewards(self, rewards: dict[str, np.ndarray]) -> np.ndarray:
        """``[B, C]``: the channel vector, or the weighted sum for the scalar ablation."""
        if self.channels == ["total"]:
            return sum(self.weights[c] * rewards[c] for c in REWARD_CHANNELS)[:, None].astype(np.float32)
        return np.stack([rewards[c] for c in self.channels], -1).astype(np.float32)

    # ------------------------------------------------------------------ critic input
    def _senses(self, obs: dict) -> np.ndarray:
        """``[B, D]``: vision average-pooled to 4×4×3 in [0, 1], then the scent vector."""
        vision = torch.as_tensor(np.asarray(obs["vision"])[..., :3], dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
        pooled = torch.nn.functional.adaptive_avg_pool2d(vision, self.sense_pool).flatten(1).numpy()
        scent = np.asarray(obs["scent"], np.float32).reshape(len(pooled), -1)
        return np.concatenate([pooled, scent], -1).astype(np.float32)

    def critic_input(self, features: np.ndarray, obs: dict, is_first: np.ndarray) -> np.ndarray:
        """What the critics read: the latent features (unless ``critic_latent`` is false), and with
        ``critic_senses`` the current senses ``s_t`` and leaky traces ``m_k ← m_k + (s_t − m_k)/τ_k``
        (``m_k = s_t`` at an episode start) — memory traces whose mix tells how long ago a stimulus
        came (Ludvig, Sutton & Kehoe 2008) — and with ``critic_sense_delays`` delayed copies ``s_{t−d}`` (``s_0`` before the episode start):
        a tapped delay line, so "the light came on d steps ago" is one feature and the critic can time
        an expected event sharply (the complete serial compound of TD models of dopamine, Montague,
        Dayan & Sejnowski 1996; Schultz, Dayan & Montague 1997), built from the rat's own senses."""
        if not self.sense_dim:
            return features
        senses = self._senses(obs)
        taus = np.asarray(self.cfg.dopamine.critic_sense_traces, np.float32)[None, :, None]
        if taus.size:
            traces = self.sense_traces + (senses[:, None, :] - self.sense_traces) / taus
            self.sense_traces = np.where(is_first[:, None, None], senses[:, None, :], traces).astype(np.float32)
        parts = ([features] if self.cfg.dopamine.critic_latent else []) + [
            senses,
            self.sense_traces.reshape(len(senses), -1),
        ]
        if self.sense_delays:  # a delay line: s_{t-d} for each d (Montague, Dayan & Sejnowski 1996's serial compound)
            history = np.concatenate([senses[None], self.sense_history[:-1]], 0)
            self.sense_history = np.where(is_first[None, :, None], senses[None], history).astype(np.float32)
            parts += [self.sense_history[d] for d in self.sense_delays]
        return np.concatenate(parts, -1).astype(np.float32)

    # ------------------------------------------------------------------ the step
    def step(self, obs: dict, reward, is_first, learn: bool = True, predict: bool = False):
        """One step for all envs. ``obs[key]`` is (B, ...), ``reward`` the extrinsic reward of the
        previous action (B,), ``is_first`` (B,). Returns ``(actions (B, 3), info)`` where info has
        per-env arrays ``rpe`` {channel: (B,)}, ``rewards``, ``tonic``, ``vigour``, ``module`` (list)
        and the learner's ``record``."""
        B = self.num_envs
        is_first = np.asarray(is_first, bool).reshape(B)
        reward = np.where(is_first, 0.0, np.asarray(reward, np.float32).reshape(B))
        self.action_prev[is_first] = 0.0  # an episode starts from rest (and the WM zeroes it too)
        self.action_prev2[is_first] = 0.0
        predicted = None
        if predict and self.wm_state is not None and self.wm_state.percept is not None:
            _, pred = self.world_model.predict(self.wm_state, self.action_prev)
            predicted = self.world_model.predicted_frame(pred)
        # 1. perceive
        state_before = self.wm_state
        state, features_t = self.world_model.observe(obs, self.action_prev, state_before, is_first)
        features = features_t.float().cpu().numpy()
        # 2. rewards of the transition just made
        intrinsic = {}
        if self.intrinsic is not None:
            intrinsic = self.intrinsic.step(obs, self.action_prev, is_first, state_before, state, update_scale=learn)
        effort = -self.cfg.dopamine.effort_scale * np.square(self.action_prev - self.action_prev2).sum(-1)
        rewards = self.reward_vector(intrinsic, reward, np.where(is_first, 0.0, effort))
        rewards = {c: np.where(is_first, 0.0, v).astype(np.float32) for c, v in rewards.items()}
        # 3. phasic dopamine
        critic_in = self.critic_input(features, obs, is_first)
        value, spread = self.critics.evaluate(
            torch.as_tensor(critic_in, device=self.device) if self.sense_dim else features_t
        )
        r_vec = self._critic_rewards(rewards)
        delta, weighted = self.critics.rpe(r_vec, self.prev_value, value, self.prev_spread)
        valid = ~is_first
        delta, weighted = delta * valid[:, None], weighted * valid[:, None]
        rpe = {c: weighted[:, i].astype(np.float32) for i, c in enumerate(self.channels)}
        # 4. tonic dopamine: average reward rate of life (not reset per episode)
        total = sum(self.weights[c] * rewards[c] for c in REWARD_CHANNELS)
        if not self.cfg.dopamine.fixed_tonic:
            self.tonic.update(np.where(valid, total, self.tonic.level))
        modulation, temperature, vigour = self.tonic.modulation(), self.tonic.temperature(), self.tonic.vigour()
        # 5. basal ganglia: credit the module that made the transition, end options, select
        contexts = self.population.context(features)
        for b in range(B):
            if self.module[b] is not None and valid[b]:
                for c in self.channels:
                    self.option_rpe[b][c] += float(rpe[c][b])
                self.option_len[b] += 1
            if is_first[b] or self.option_left[b] <= 0 or self.module[b] not in self.population.modules:
                self._end_option(b, learn)
                self.module[b] = self.population.choose(contexts[b], modulation[b], temperature[b])
                self.option_context[b] = contexts[b]
                self.option_left[b] = self.cfg.basal_ganglia.option_steps
            self.option_left[b] -= 1
        # 6. act: each module proposes for the envs it controls; vigour scales the forward drive
        self.t_in_episode = np.where(is_first, 0, self.t_in_episode + 1)
        actions = np.zeros((B, 3), np.float32)
        raw = np.zeros((B, 3), np.float32)
        for name in sorted(set(self.module)):
            rows = np.array([b for b in range(B) if self.module[b] == name])
            a, r = self.population.act(
                name,
                {k: np.asarray(v)[rows] for k, v in obs.items()},
                features[rows],
                self.t_in_episode[rows].astype(np.float64),
            )
            actions[rows], raw[rows] = a, r
        actions[:, 0] = np.where(actions[:, 0] > 0, actions[:, 0] * vigour, actions[:, 0])
        record = {
            "features": features,
            "module": list(self.module),
            "raw": raw,
            "reward": r_vec,
            "is_first": is_first.copy(),
        }
        if self.sense_dim:
            record["critic_input"] = critic_in
        # bookkeeping for the next step
        self.wm_state = state
        self.action_prev2, self.action_prev = self.action_prev, actions.copy()
        self.prev_value, self.prev_spread = value, spread
        if learn:
            self.step_count += B
        info = {
            "rpe": rpe,
            "rpe_raw": {c: delta[:, i] for i, c in enumerate(self.channels)},
            "rewards": rewards,
            "tonic": np.asarray(self.tonic.level, np.float64).copy(),
            "vigour": np.asarray(vigour),
            "module": list(self.module),
            "record": record,
            "predicted_vision": predicted,
        }
        return actions, info

    # ------------------------------------------------------------------ learning
    def learn(self, records: list[dict]) -> dict[str, float]:
        """Critics and actor modules from the rollout just collected (``records`` from ``step``).

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
        feats = torch.as_tensor(np.stack([r["features"] for r in records]), device=self.device)  # [T+1, B, F]
        critic_feats = (
            torch.as_tensor(np.stack([r["critic_input"] for r in records]), device=self.device)
            if self.sense_dim
            else feats
        )
        rewards = torch.as_tensor(np.stack([r["reward"] for r in records[1:]]), device=self.device)  # [T, B, C]
        first_next = torch.as_tensor(np.stack([r["is_first"] for r in records[1:]]), device=self.device)
        mask = (~first_next).float()
        discounts = self.cfg.dopamine.gamma * mask
        out: dict[str, float] = {}
        loss, returns, values = self.critics.loss(critic_feats, rewards, discounts, mask)
        out["critic"] = float(loss.detach())
        if not self.critics.update(loss):
            self.nan_skips += 1
        for _ in range(self.cfg.dopamine.critic_epochs - 1):  # more passes over the same rollout (targets recomputed)
            extra, _, _ = self.critics.loss(critic_feats, rewards, discounts, mask)
            if not self.critics.update(extra):
                self.nan_skips += 1
        if self.critic_replay is not None:
            out.update(self._replay_critics(fresh))
        # actors: policy gradient on their own steps, advantage routed by their kind
        advantage = (returns - values).cpu().numpy()  # [T, B, C]
        modules = [r["module"] for r in records[:-1]]
        routed = np.zeros(mask.shape, np.float32)
        for t, row in enumerate(modules):
            for b, name in enumerate(row):
                if name is not None:
                    routed[t, b] = self.population.route(name, dict(zip(self.channels, advantage[t, b])))
        m = mask.cpu().numpy()
        scale = routed[m > 0].std() + 1e-6 if (m > 0).sum() > 1 else 1.0
        routed = routed / scale
        raw = np.stack([r["raw"] for r in records[:-1]])
        actor_losses = []
        for name, module in self.population.actors().items():
            sel = np.array([[row[b] == name for b in range(len(row))] for row in modules]) & (m > 0)
            if not sel.any():
                continue
            f = feats[:-1][torch.as_tensor(sel, device=self.device)]
            a = torch.as_tensor(raw[sel], device=self.device)
            adv = torch.as_tensor(routed[sel], device=self.device)
            logp, entropy = module.actor.log_prob(f, a)
            actor_loss = -(logp * adv).mean() - self.cfg.basal_ganglia.entropy_coef * entropy.mean()
            module.optimizer.zero_grad(set_to_none=True)
            if not torch.isfinite(actor_loss):
                self.nan_skips += 1
                continue
            actor_loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(module.actor.parameters(), 10.0)
            if not math.isfinite(float(norm)):
                module.optimizer.zero_grad(set_to_none=True)
                self.nan_skips += 1
                continue
            module.optimizer.step()
            actor_losses.append(float(actor_loss.detach()))
        if actor_losses:
            out["actor"] = float(np.mean(actor_losses))
        out["nan_skips"] = float(self.nan_skips)
        return out

    def _replay_critics(self, fresh: list[dict]) -> dict[str, float]:
        """Replayed critic updates (opt-in, ``critic_replay_updates`` > 0): store the rollout's
        rows, then take that many critic steps on λ-returns over windows of ``critic_replay_seq``
        steps sampled uniformly from the memory (DreamerV3-style; targets from the slow critic)."""
        self.critic_replay.add(fresh)
        seq = self.cfg.dopamine.critic_replay_seq
        if not self.critic_replay.can_sample(seq):
            return {}
        losses = []
        for _ in range(self.cfg.dopamine.critic_replay_updates):
            feats, rewards, mask = self.critic_replay.sample(
                self.cfg.dopamine.critic_replay_batch, seq, self.critic_rng
            )
            feats, rewards, mask = (torch.as_tensor(x, device=self.device) for x in (feats, rewards, mask))
            loss, _, _ = self.critics.loss(feats, rewards, self.cfg.dopamine.gamma * mask, mask)
            if not self.critics.update(loss):
                self.nan_skips += 1
            losses.append(float(loss.detach()))
        return {"critic_replay": float(np.mean(losses))}

    def train_world_model(self, batch: dict) -> dict[str, float]:
        """One world-model update on a replay batch, then the intrinsic heads (NaN-guarded both)."""
        wm_out, posts = self.world_model.train_step(batch, return_states=True)
        out = {"world_model": wm_out["total"], "world_model_kl": wm_out["kl"], "world_model_next": wm_out["next"]}
        self.nan_skips += int(wm_out["skipped"])
        if self.intrinsic is not None and not wm_out["skipped"]:
            ir = self.intrinsic.train_step(batch, posts)
            out["intrinsic"] = ir["ensemble"] + ir["coherence_heads"]
            self.nan_skips += int(ir["skipped"])
        return out

    def plasticity_tick(self, n_steps: int) -> None:
        """Structural plasticity after ``n_steps`` steps per env (decay, prune, spawn)."""
        active = {m for m in self.module if m is not None}
        self.population.tick(self.step_count, active, n_steps)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Weights, optimisers, population, tonic level and RNG: tensors and plain data only."""
        state = {
            "world_model": self.world_model.state_dict(),
            "critics": self.critics.state_dict(),
            "critics_optimizer": self.critics.optimizer.state_dict(),
            "population": self.population.state_dict(),
            "tonic": torch.as_tensor(np.asarray(self.tonic.level, np.float64)),
            "rng": _rng_state(self.rng),
            "nan_skips": int(self.nan_skips),
            "step_count": int(self.step_count),
            "intrinsic": None,
        }
        if self.critic_replay is not None:  # opt-in replayed critic updates: their memory and sampler (exact resume)
            m = self.critic_replay
            state["critic_replay"] = {
                "features": torch.as_tensor(m.features),
                "rewards": torch.as_tensor(m.rewards),
                "is_first": torch.as_tensor(m.is_first),
                "head": int(m.head),
                "size": int(m.size),
                "rng": _rng_state(self.critic_rng),
            }
        if self.intrinsic is not None:
            scales = {c: [s.mean_square, s.weight] for c, s in self.intrinsic.scales.items()}
            scales["_disagreement"] = [
                self.intrinsic.disagreement_scale.mean_square,
                self.intrinsic.disagreement_scale.weight,
            ]
            # plain-number counters IntrinsicRewards keeps outside its state_dict (e.g. when its lagged
            # snapshot is next refreshed); without them a resumed run would drift
            counters = {k: v for k, v in vars(self.intrinsic).items() if k in INTRINSIC_COUNTERS}
            state["intrinsic"] = {
                "weights": self.intrinsic.state_dict(),
                "optimizer": self.intrinsic.optimizer.state_dict(),
                "scales": scales,
                "counters": counters,
            }
        return state

    def load_state_dict(self, state: dict, weights_only: bool = False) -> None:
        """Restore everything (``weights_only=True``: weights, population and tonic only, no optimisers)."""
        wm_state = (
            state["world_model"]
            if not weights_only
            else {k: v for k, v in state["world_model"].items() if not k.startswith("_optimizer.")}
        )
        self.world_model.load_state_dict(wm_state)
        self.critics.load_state_dict(state["critics"])
        self.population.load_state_dict(state["population"])
        level = state["tonic"].cpu().numpy()
        self.tonic.level = level if len(level) == self.num_envs else np.full(self.num_envs, float(level.mean()))
        if self.intrinsic is not None and state.get("intrinsic") is not None:
            self.intrinsic.load_state_dict(state["intrinsic"]["weights"])
            for c, (ms, w) in state["intrinsic"]["scales"].items():
                scale = self.intrinsic.disagreement_scale if c == "_disagreement" else self.intrinsic.scales[c]
                scale.mean_square, scale.weight = float(ms), float(w)
            for k, v in state["intrinsic"].get("counters", {}).items():
                setattr(self.intrinsic, k, v)
            if not weights_only:
                self.intrinsic.optimizer.load_state_dict(state["intrinsic"]["optimizer"])
        if not weights_only:
            self.critics.optimizer.load_state_dict(state["critics_optimizer"])
            _set_rng_state(self.rng, state["rng"])
            self.nan_skips, self.step_count = int(state["nan_skips"]), int(state["step_count"])
            saved = state.get("critic_replay")
            if (
                self.critic_replay is not None
                and saved is not None
                and saved["features"].shape == self.critic_replay.features.shape
            ):
                m = self.critic_replay
                m.features[:], m.rewards[:] = saved["features"].cpu().numpy(), saved["rewards"].cpu().numpy()
                m.is_first[:] = saved["is_first"].cpu().numpy()
                m.head, m.size = int(saved["head"]), int(saved["size"])
                _set_rng_state(self.critic_rng, saved["rng"])


class AgentPolicy:
    """The Policy interface (docs/architecture.md) over one env: ``act(obs) -> (action, extras)``.

    Acting does not learn. ``observe_reward(r)`` passes the env's reward for the food channel
    (optional: without it food reads 0, the rat just does not know it ate).
    """

    def __init__(self, agent: Agent, predict: bool = True):
        self.agent = agent
        self.predict = predict  # False: skip the predicted frame (extras["predicted_vision"]), e.g. for probes
        self.reset()

    def reset(self, num_envs: int = 1) -> None:
        if num_envs != 1:
            raise ValueError(
                f"AgentPolicy acts in one env at a time (act takes one unbatched obs); got num_envs={num_envs}"
            )
        self.agent.reset(1)
        self._first, self._reward = True, 0.0

    def observe_reward(self, reward: float) -> None:
        self._reward = float(reward)

    def act(self, obs: dict) -> tuple[np.ndarray, dict]:
        batch = {k: np.asarray(v)[None] for k, v in obs.items()}
        actions, info = self.agent.step(batch, [self._reward], [self._first], learn=False, predict=self.predict)
        self._first, self._reward = False, 0.0
        extras = {
            "rpe": {c: float(v[0]) for c, v in info["rpe"].items()},
            "tonic": float(info["tonic"][0]),
            "module": str(info["module"][0]),
            "rewards": {c: float(v[0]) for c, v in info["rewards"].items()},
        }
        if info["predicted_vision"] is not None:
            extras["predicted_vision"] = info["predicted_vision"][0]
        return actions[0], extras
