"""The dopamine part: the reward vector, per-channel critics and their phasic errors, the tonic level.

One step for B envs (:meth:`Dopamine.step`), on the transition ``t−1 → t`` just made:

* reward   ``r_{t−1}`` per channel: prediction success, novelty, coherence (from perception),
           food (the env's extrinsic reward) and effort ``−k·|a_{t−1} − a_{t−2}|²`` (a local
           motor channel: smooth movement is cheap); all zero where an episode starts
* phasic   ``δ_c = r_c + γ V_c(x_t) − V_c(x_{t−1})`` per channel (``ChannelCritics``, x the
           critic input of ``critic_input.py``), precision-weighted ``δ_c / sqrt(spread_c + ε)``
           by the spread of the distributional heads; the scalar ablation has one channel
           ``total = Σ_c w_c r_c``
* tonic    ``ρ ← ρ + κ (Σ_c w_c r_c − ρ)`` per env (``TonicDopamine``, not reset per episode):
           its modulation tilts Go/NoGo, its temperature sets exploration, its vigour top speed

:meth:`Dopamine.learn` trains the critics on λ-returns over the rollout (``critics.py``; opt-in:
more passes, ``critic_epochs``, and replayed sequences, ``critic_replay_updates``) and hands the
advantage ``G^λ − V`` per channel on to the basal ganglia, whose actors learn from it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from embodied.brain.dopamine.config import DopamineConfig
from embodied.brain.dopamine.critic_input import CriticInput
from embodied.brain.dopamine.critics import ChannelCritics, CriticReplay
from embodied.brain.dopamine.rules import REWARD_CHANNELS, TonicDopamine
from embodied.brain.rng import generator_state, set_generator_state


class DopamineSignals(NamedTuple):
    """What one dopamine step hands on (arrays over the B envs)."""

    rpe: dict[str, np.ndarray]  # precision-weighted δ per critic channel (zero where an episode starts)
    rpe_raw: dict[str, np.ndarray]  # δ per critic channel, unweighted
    rewards: dict[str, np.ndarray]  # r_{t−1} over the five channels
    critic_reward: np.ndarray  # [B, C] what the critics learn from (the record's "reward")
    critic_input: np.ndarray | None  # [B, D] the critics' input, when it holds more than the latent
    tonic: np.ndarray  # ρ per env (float64)
    modulation: np.ndarray  # m = tanh(ρ / scale) per env: the Go/NoGo tilt
    temperature: np.ndarray  # exploration temperature per env
    vigour: np.ndarray  # top-speed multiplier per env


class Dopamine:
    """Critics, critic input and tonic dopamine for ``num_envs`` bodies (``brain.dopamine``)."""

    def __init__(
        self, cfg: DopamineConfig, feature_dim: int, observation_space, num_envs: int, seed: int, device
    ) -> None:
        self.cfg, self.device = cfg, device
        self.channels = ["total"] if cfg.scalar_dopamine else list(REWARD_CHANNELS)
        self.weights = {c: float(cfg.channel_weights.get(c, 0.0)) for c in REWARD_CHANNELS}
        self.critic_input = CriticInput(cfg, feature_dim, observation_space, num_envs)
        self.critics = ChannelCritics(
            self.critic_input.dim,
            self.channels,
            cfg.critic_taus,
            cfg.critic_units,
            cfg.critic_lr,
            cfg.gamma,
            cfg.lam,
            cfg.precision_eps,
            slow_rate=cfg.critic_slow_rate,
            return_norm=cfg.critic_return_norm,
            device=device,
        )
        # opt-in: a memory of (critic input, rewards) for replayed critic updates
        self.critic_replay = (
            CriticReplay(cfg.critic_replay_capacity, num_envs, self.critic_input.dim, len(self.channels))
            if cfg.critic_replay_updates > 0
            else None
        )
        self.replay_rng = np.random.default_rng([seed, 3])
        self.tonic = TonicDopamine(
            rate=cfg.tonic_rate,
            scale=cfg.tonic_scale,
            vigour_range=tuple(cfg.vigour_range),
            temperature_gain=cfg.temperature_gain,
            num_envs=num_envs,
        )
        self.nan_skips = 0
        self.num_envs = num_envs
        self.reset(num_envs)

    def reset(self, num_envs: int) -> None:
        """Forget every env's last value and critic-input memory; the tonic level is life-long
        (with a new number of envs each starts at the mean level)."""
        if num_envs != self.num_envs:
            self.tonic.level = np.full(num_envs, float(np.mean(self.tonic.level)))
        self.num_envs = num_envs
        self.prev_value = np.zeros((num_envs, len(self.channels)), np.float32)
        self.prev_spread = np.ones((num_envs, len(self.channels)), np.float32)
        self.critic_input.reset(num_envs)

    def value_estimate(self, channel: str) -> np.ndarray:
        """``V_channel(x_t)`` per env (B,) for the step just taken (mean head; KeyError if no such critic)."""
        if channel not in self.channels:
            raise KeyError(f"no critic for channel {channel!r}; critics: {', '.join(self.channels)}")
        return self.prev_value[:, self.channels.index(channel)]

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

    # ------------------------------------------------------------------ the step
    def step(
        self,
        features_t: torch.Tensor,
        features: np.ndarray,
        obs: dict,
        is_first: np.ndarray,
        intrinsic: dict,
        food: np.ndarray,
        action_prev: np.ndarray,
        action_prev2: np.ndarray,
    ) -> DopamineSignals:
        """Reward vector, phasic RPE and tonic signals for all envs. ``features_t``/``features``
        are f_t (tensor and numpy), ``food`` the env's reward for a_{t−1} (zero where ``is_first``),
        ``action_prev``/``action_prev2`` a_{t−1} and a_{t−2} (the effort channel's inputs)."""
        effort = -self.cfg.effort_scale * np.square(action_prev - action_prev2).sum(-1)
        rewards = self.reward_vector(intrinsic, food, np.where(is_first, 0.0, effort))
        rewards = {c: np.where(is_first, 0.0, v).astype(np.float32) for c, v in rewards.items()}
        critic_in = self.critic_input.step(features, obs, is_first)
        reads_senses = self.critic_input.reads_senses
        value, spread = self.critics.evaluate(
            torch.as_tensor(critic_in, device=self.device) if reads_senses else features_t
        )
        r_vec = self._critic_rewards(rewards)
        delta, weighted = self.critics.rpe(r_vec, self.prev_value, value, self.prev_spread)
        valid = ~is_first
        delta, weighted = delta * valid[:, None], weighted * valid[:, None]
        self.prev_value, self.prev_spread = value, spread
        # tonic: the average reward rate of life (not reset per episode)
        total = sum(self.weights[c] * rewards[c] for c in REWARD_CHANNELS)
        if not self.cfg.fixed_tonic:
            self.tonic.update(np.where(valid, total, self.tonic.level))
        return DopamineSignals(
            rpe={c: weighted[:, i].astype(np.float32) for i, c in enumerate(self.channels)},
            rpe_raw={c: delta[:, i] for i, c in enumerate(self.channels)},
            rewards=rewards,
            critic_reward=r_vec,
            critic_input=critic_in if reads_senses else None,
            tonic=np.asarray(self.tonic.level, np.float64).copy(),
            modulation=self.tonic.modulation(),
            temperature=self.tonic.temperature(),
            vigour=self.tonic.vigour(),
        )

    # ------------------------------------------------------------------ learning
    def learn(self, records: list[dict], fresh: list[dict]) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        """Critic updates on a rollout of ``step`` records (row t's ``reward`` belongs to the
        transition t−1 -> t; ``records`` may start with the previous rollout's last row, ``fresh``
        are the new rows only, for the replay memory). Returns ``(losses, advantage [T, B, C],
        mask [T, B])``: ``G^λ − V`` per channel and 1 where the transition is real."""
        if self.critic_input.reads_senses:
            inputs = torch.as_tensor(np.stack([r["critic_input"] for r in records]), device=self.device)
        else:
            inputs = torch.as_tensor(np.stack([r["features"] for r in records]), device=self.device)  # [T+1, B, F]
        rewards = torch.as_tensor(np.stack([r["reward"] for r in records[1:]]), device=self.device)  # [T, B, C]
        first_next = torch.as_tensor(np.stack([r["is_first"] for r in records[1:]]), device=self.device)
        mask = (~first_next).float()
        discounts = self.cfg.gamma * mask
        loss, returns, values = self.critics.loss(inputs, rewards, discounts, mask)
        out = {"critic": float(loss.detach())}
        self._update(loss)
        for _ in range(self.cfg.critic_epochs - 1):  # more passes over the same rollout (targets recomputed)
            self._update(self.critics.loss(inputs, rewards, discounts, mask)[0])
        if self.critic_replay is not None:
            out.update(self._replay_critics(fresh))
        return out, (returns - values).cpu().numpy(), mask.cpu().numpy()

    def _update(self, loss: torch.Tensor) -> None:
        if not self.critics.update(loss):
            self.nan_skips += 1

    def _replay_critics(self, fresh: list[dict]) -> dict[str, float]:
        """Replayed critic updates (opt-in, ``critic_replay_updates`` > 0): store the rollout's
        rows, then take that many critic steps on λ-returns over windows of ``critic_replay_seq``
        steps sampled uniformly from the memory (DreamerV3-style; targets from the slow critic)."""
        self.critic_replay.add(fresh)
        seq = self.cfg.critic_replay_seq
        if not self.critic_replay.can_sample(seq):
            return {}
        losses = []
        for _ in range(self.cfg.critic_replay_updates):
            inputs, rewards, mask = self.critic_replay.sample(self.cfg.critic_replay_batch, seq, self.replay_rng)
            inputs, rewards, mask = (torch.as_tensor(x, device=self.device) for x in (inputs, rewards, mask))
            loss, _, _ = self.critics.loss(inputs, rewards, self.cfg.gamma * mask, mask)
            self._update(loss)
            losses.append(float(loss.detach()))
        return {"critic_replay": float(np.mean(losses))}

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Critic weights and optimiser, the tonic level, the skip counter and (opt-in) the replay
        memory with its sampler: tensors and plain data only."""
        state = {
            "critics": self.critics.state_dict(),
            "critics_optimizer": self.critics.optimizer.state_dict(),
            "tonic": torch.as_tensor(np.asarray(self.tonic.level, np.float64)),
            "nan_skips": int(self.nan_skips),
        }
        if self.critic_replay is not None:
            state["critic_replay"] = {**self.critic_replay.state_dict(), "rng": generator_state(self.replay_rng)}
        return state

    def load_state_dict(self, state: dict, weights_only: bool = False) -> None:
        """Restore it all (``weights_only``: critic weights and tonic level only). A saved tonic
        level for another number of envs starts every env at its mean."""
        self.critics.load_state_dict(state["critics"])
        level = state["tonic"].cpu().numpy()
        self.tonic.level = level if len(level) == self.num_envs else np.full(self.num_envs, float(level.mean()))
        if weights_only:
            return
        self.critics.optimizer.load_state_dict(state["critics_optimizer"])
        self.nan_skips = int(state["nan_skips"])
        saved = state.get("critic_replay")
        if self.critic_replay is not None and saved is not None and self.critic_replay.fits(saved):
            self.critic_replay.load_state_dict(saved)
            set_generator_state(self.replay_rng, saved["rng"])
