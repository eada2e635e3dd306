"""What the critics read: the world model's latent features and, opt-in, the rat's own senses with
leaky memory traces and a delay line of them (``brain.dopamine.critic_*``).

For each env, from the observation ``o_t`` and the latent features ``f_t``:

* senses   ``s_t`` = vision average-pooled to 4×4×3 in [0, 1], then the scent vector
* traces   ``m_k ← m_k + (s_t − m_k)/τ_k`` per time constant τ_k of ``critic_sense_traces``
           (``m_k = s_t`` at an episode start): memory traces whose mix tells how long ago a
           stimulus came (Ludvig, Sutton & Kehoe 2008)
* delays   ``s_{t−d}`` per delay d of ``critic_sense_delays`` (``s_0`` before the episode start):
           a tapped delay line, so "the light came on d steps ago" is one feature and the critic
           can time an expected event sharply — the complete serial compound of TD models of
           dopamine (Montague, Dayan & Sejnowski 1996; Schultz, Dayan & Montague 1997)

The input is ``[f_t (unless critic_latent is false), s_t, m_1..m_K, s_{t−d_1}..s_{t−d_D}]``;
with ``critic_senses`` off it is ``f_t`` alone.
"""

from __future__ import annotations

import numpy as np
import torch

from embodied.brain.dopamine.config import DopamineConfig

#: vision is average-pooled to POOL × POOL pixels (× 3 colours) before the critics read it
POOL = 4


class CriticInput:
    """The critics' input for ``num_envs`` envs, with each env's traces and delay line."""

    def __init__(self, cfg: DopamineConfig, feature_dim: int, observation_space, num_envs: int) -> None:
        self.use_latent = bool(cfg.critic_latent)
        self.sense_dim = 0
        if cfg.critic_senses:
            missing = {"vision", "scent"} - set(observation_space.spaces)
            if missing:
                raise ValueError(f"critic_senses needs the observation keys {sorted(missing)}")
            self.sense_dim = POOL**2 * 3 + int(np.prod(observation_space["scent"].shape))
        self.trace_taus = list(cfg.critic_sense_traces)
        self.delays = [int(d) for d in cfg.critic_sense_delays]
        self.dim = feature_dim * self.use_latent + self.sense_dim * (1 + len(self.trace_taus) + len(self.delays))
        self.reset(num_envs)

    @property
    def reads_senses(self) -> bool:
        """True when the input holds more than the latent features (``critic_senses``)."""
        return self.sense_dim > 0

    def reset(self, num_envs: int) -> None:
        """Forget every env's traces and delay line."""
        self.traces = np.zeros((num_envs, len(self.trace_taus), self.sense_dim), np.float32)
        # row k holds s_{t-k} (filled with s_0 at an episode start)
        self.history = np.zeros((max(self.delays, default=0) + 1, num_envs, self.sense_dim), np.float32)

    def senses(self, obs: dict) -> np.ndarray:
        """``s_t [B, D]``: vision average-pooled to 4×4×3 in [0, 1], then the scent vector."""
        vision = torch.as_tensor(np.asarray(obs["vision"])[..., :3], dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
        pooled = torch.nn.functional.adaptive_avg_pool2d(vision, POOL).flatten(1).numpy()
        scent = np.asarray(obs["scent"], np.float32).reshape(len(pooled), -1)
        return np.concatenate([pooled, scent], -1).astype(np.float32)

    def step(self, features: np.ndarray, obs: dict, is_first: np.ndarray) -> np.ndarray:
        """``[B, dim]`` for this step (``features`` itself when no senses are read); moves the
        traces and the delay line on by one step."""
        if not self.reads_senses:
            return features
        senses = self.senses(obs)
        taus = np.asarray(self.trace_taus, np.float32)[None, :, None]
        if taus.size:
            traces = self.traces + (senses[:, None, :] - self.traces) / taus
            self.traces = np.where(is_first[:, None, None], senses[:, None, :], traces).astype(np.float32)
        parts = ([features] if self.use_latent else []) + [senses, self.traces.reshape(len(senses), -1)]
        if self.delays:
            history = np.concatenate([senses[None], self.history[:-1]], 0)
            self.history = np.where(is_first[None, :, None], senses[None], history).astype(np.float32)
            parts += [self.history[d] for d in self.delays]
        return np.concatenate(parts, -1).astype(np.float32)
