"""The perception part: the world model's latent state per env, and the intrinsic rewards it earns.

One step for B envs (:meth:`Perception.step`):

* perceive   ``s_t = WM.observe(o_t, a_{t−1}, s_{t−1})`` (the recurrent latent, ``world_model.py``);
             its features ``f_t`` are what the critics and actors read
* intrinsic  prediction success, novelty and coherence of the transition ``s_{t−1} → s_t``, from
             the rat's own streams (``intrinsic.py``; ``{}`` when ``brain.perception.intrinsic`` is off)
* predict    (on request) the frame the model expects next, ``WM.predict(s_{t−1}, a_{t−1})``, for panels

:meth:`Perception.learn` is one world-model update on a replay batch, then the intrinsic heads
(each NaN-guarded: a non-finite loss is skipped and counted in ``nan_skips``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from embodied.brain.perception.config import PerceptionConfig
from embodied.brain.perception.intrinsic import IntrinsicConfig, IntrinsicRewards
from embodied.brain.perception.rssm import LatentState
from embodied.brain.perception.world_model import WorldModel, WorldModelConfig


class Percept(NamedTuple):
    """What one perception step hands on."""

    state: LatentState  # s_t, the world model's latent state
    features_t: torch.Tensor  # f_t [B, F] on the model's device
    features: np.ndarray  # the same features as float32 numpy
    intrinsic: dict[str, np.ndarray]  # {channel: (B,)} for the transition just made ({} when off)
    predicted_vision: np.ndarray | None  # the frame expected at t, uint8 [B, H, W, C] (when asked)


class Perception:
    """The world model and the intrinsic rewards for ``num_envs`` bodies (``brain.perception``)."""

    def __init__(
        self, cfg: PerceptionConfig, observation_space, action_space, num_envs: int, seed: int, device
    ) -> None:
        self.cfg = cfg
        wm_cfg = WorldModelConfig.preset(
            cfg.world_model, **{**cfg.world_model_overrides, "device": device, "seed": seed}
        )
        self.world_model = WorldModel(observation_space, action_space, wm_cfg)
        self.device = self.world_model.device
        self.intrinsic = (
            IntrinsicRewards(self.world_model, IntrinsicConfig(**cfg.intrinsic_overrides), num_envs)
            if cfg.intrinsic
            else None
        )
        self.nan_skips = 0
        self.reset(num_envs)

    @property
    def feature_dim(self) -> int:
        return self.world_model.feature_dim

    def reset(self, num_envs: int) -> None:
        """Forget every env's latent state and intrinsic streams (episodic memory, lagged state)."""
        self.num_envs = num_envs
        if self.intrinsic is not None:
            self.intrinsic.reset(num_envs)
        self.state: LatentState | None = None

    def step(
        self, obs: dict, action_prev: np.ndarray, is_first: np.ndarray, learn: bool, predict: bool = False
    ) -> Percept:
        """One step for all envs: ``obs[key]`` (B, ...), ``action_prev`` a_{t−1} (B, 3) (zero where
        ``is_first``). ``learn=False`` leaves the intrinsic rewards' running scales alone."""
        predicted = None
        if predict and self.state is not None and self.state.percept is not None:
            _, prediction = self.world_model.predict(self.state, action_prev)
            predicted = self.world_model.predicted_frame(prediction)
        before = self.state
        state, features_t = self.world_model.observe(obs, action_prev, before, is_first)
        features = features_t.float().cpu().numpy()
        intrinsic = {}
        if self.intrinsic is not None:
            intrinsic = self.intrinsic.step(obs, action_prev, is_first, before, state, update_scale=learn)
        self.state = state
        return Percept(state, features_t, features, intrinsic, predicted)

    def learn(self, batch: dict) -> dict[str, float]:
        """One world-model update on a replay batch, then the intrinsic heads on its posteriors."""
        wm_out, posts = self.world_model.train_step(batch, return_states=True)
        out = {"world_model": wm_out["total"], "world_model_kl": wm_out["kl"], "world_model_next": wm_out["next"]}
        self.nan_skips += int(wm_out["skipped"])
        if self.intrinsic is not None and not wm_out["skipped"]:
            losses = self.intrinsic.train_step(batch, posts)
            out["intrinsic"] = losses["ensemble"] + losses["coherence_heads"]
            self.nan_skips += int(losses["skipped"])
        return out

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """World-model weights (with its optimiser's moments), the intrinsic heads (with their
        running scales and counters, see ``IntrinsicRewards.get_extra_state``) and optimiser."""
        intrinsic = None
        if self.intrinsic is not None:
            intrinsic = {"weights": self.intrinsic.state_dict(), "optimizer": self.intrinsic.optimizer.state_dict()}
        return {"world_model": self.world_model.state_dict(), "intrinsic": intrinsic, "nan_skips": int(self.nan_skips)}

    def load_state_dict(self, state: dict, weights_only: bool = False) -> None:
        """Restore it all (``weights_only``: no optimisers and no skip counter)."""
        wm_state = state["world_model"]
        if weights_only:
            wm_state = {k: v for k, v in wm_state.items() if not k.startswith("_optimizer.")}
        self.world_model.load_state_dict(wm_state)
        if self.intrinsic is not None and state.get("intrinsic") is not None:
            self.intrinsic.load_state_dict(state["intrinsic"]["weights"])
            if not weights_only:
                self.intrinsic.optimizer.load_state_dict(state["intrinsic"]["optimizer"])
        if not weights_only:
            self.nan_skips = int(state["nan_skips"])
