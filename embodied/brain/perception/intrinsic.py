"""Intrinsic rewards ("dopamine for knowing"): prediction success, novelty, coherence.

Each channel is computed only from the rat's own streams (observations, actions) and the
world model's internal state; never from the simulator's privileged info. Each is divided
by a running scale (RMS over a slow EMA) so channels are comparable, and each is batched:
``step`` takes one env step for B envs, ``sequence`` a replay batch (B, T).

Usage (the agent's loop):

    rewards = IntrinsicRewards(world_model, IntrinsicConfig(), num_envs=B)
    new_state, features = world_model.observe(obs, action_prev, state, is_first)
    r = rewards.step(obs, action_prev, is_first, state, new_state)    # {channel: (B,) np.ndarray}
    state = new_state
    ...
    losses, posts = world_model.train_step(batch, return_states=True)
    rewards.train_step(batch, posts)           # ensemble + cross-sense heads, and the lagged copy

Channels (formulas and sources in each function's docstring): ``prediction_success``
(learning progress), ``novelty`` (episodic k-NN x long-term ensemble disagreement),
``coherence`` (how much the other senses explain each sense beyond the model's expectation).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn

from embodied.brain.nets import mlp
from embodied.brain.perception.place import CONTROL_PERIOD, PathIntegrator, PlaceMemory
from embodied.brain.perception.rssm import LatentState
from embodied.brain.perception.world_model import WorldModel

CHANNELS = ("prediction_success", "novelty", "coherence")


@dataclass
class IntrinsicConfig:
    """Hyperparameters of the intrinsic rewards (each with its one-line why)."""

    lag_updates: int = 50  # the lagged copy is a snapshot of the model, refreshed every this many updates
    ensemble_size: int = 5  # latent predictors whose disagreement is long-term novelty (Plan2Explore)
    ensemble_units: int = 128  # width of each ensemble member
    episodic_k: int = 10  # neighbours in the episodic k-NN distance (NGU uses 10)
    episodic_capacity: int = 4096  # embeddings kept per env and episode (oldest overwritten)
    embedding_smoothing: float = (
        0.95  # EMA factor of the episodic embedding over steps (~20-step memory): averages out flicker
    )
    episodic_space: str = "latent"  # what the episodic memory stores: "latent" views, or "place" (place.py)
    place_field: float = 0.1  # side of a place field in metres (episodic_space="place"; maze cells are 0.3)
    place_bonus_power: float = 0.5  # the place bonus n^−p: 0.5 the pseudo-count 1/√n, 1 Kolter & Ng's 1/n
    path_integration_dt: float = CONTROL_PERIOD  # the body's control period: the Δt of dead reckoning
    novelty_max_modulator: float = 5.0  # L in NGU: the long-term term multiplies episodic novelty by 1..L
    coherence_units: int = 128  # width of the cross-sense predictors
    scale_decay: float = 0.9999  # EMA decay of each channel's running mean square (~10,000 steps: a dull stretch does not re-inflate itself)
    lr: float = 1e-3  # Adam learning rate of the ensemble and cross-sense heads
    prediction_every: int = 1  # decode prediction success every k steps, held between (1: every step; speed)

    def validated(self) -> "IntrinsicConfig":
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("embedding_smoothing", "scale_decay") and not 0 <= value < 1:
                raise ValueError(f"IntrinsicConfig.{f.name}={value} must be in [0, 1)")
            if (
                f.name
                in (
                    "lag_updates",
                    "ensemble_size",
                    "episodic_k",
                    "episodic_capacity",
                    "ensemble_units",
                    "coherence_units",
                )
                and value < 1
            ):
                raise ValueError(f"IntrinsicConfig.{f.name}={value} must be >= 1")
        every = self.prediction_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"IntrinsicConfig.prediction_every={every!r} must be a whole number of steps >= 1")
        if self.ensemble_size < 2:
            raise ValueError(
                f"IntrinsicConfig.ensemble_size={self.ensemble_size} must be >= 2 (disagreement needs two members)"
            )
        if self.episodic_space not in ("latent", "place"):
            raise ValueError(f"IntrinsicConfig.episodic_space={self.episodic_space!r}; allowed: latent, place")
        if not (self.place_field > 0 and self.path_integration_dt > 0 and self.place_bonus_power > 0):
            raise ValueError("IntrinsicConfig.place_field, place_bonus_power and path_integration_dt must be > 0")
        if self.novelty_max_modulator < 1:
            raise ValueError(f"IntrinsicConfig.novelty_max_modulator={self.novelty_max_modulator} must be >= 1")
        return self


class Ensemble(nn.Module):
    """K independent MLPs (2 hidden SiLU layers) evaluated in one batched matmul per layer."""

    def __init__(self, members: int, in_dim: int, units: int, out_dim: int) -> None:
        super().__init__()
        dims = [in_dim, units, units, out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:]):
            w = torch.empty(members, a, b)
            for k in range(members):  # independent initialisations: the source of disagreement
                nn.init.kaiming_uniform_(w[k].T, a=5**0.5)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(members, 1, b).uniform_(-1 / a**0.5, 1 / a**0.5)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, in) -> (K, N, out)
        h = x.expand(self.weights[0].shape[0], *x.shape)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < len(self.weights) - 1:
                h = torch.nn.functional.silu(h)
        return h


class RunningScale:
    """r / sqrt(EMA[r^2]) with bias correction (Adam-style), per channel."""

    def __init__(self, decay: float) -> None:
        self.decay, self.mean_square, self.weight = decay, 0.0, 0.0

    def update(self, values: np.ndarray) -> None:
        self.mean_square = self.decay * self.mean_square + (1 - self.decay) * float(np.mean(np.square(values)))
        self.weight = self.decay * self.weight + (1 - self.decay)

    @property
    def scale(self) -> float:
        return float(np.sqrt(self.mean_square / self.weight)) if self.weight > 0 else 1.0

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return values / max(self.scale, 1e-8)


class EpisodicMemory:
    """Per-env ring of embeddings, cleared at each episode start (NGU / E3B episodic memory)."""

    def __init__(self, num_envs: int, capacity: int, dim: int, device) -> None:
        self.bank = torch.zeros(num_envs, capacity, dim, device=device)
        self.count = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.capacity = capacity

    def clear(self, mask: torch.Tensor) -> None:
        self.count[mask] = 0

    def knn_distance(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Mean Euclidean distance from x (B, D) to its k nearest stored embeddings (0 if none)."""
        n = self.count.clamp(max=self.capacity)
        d = torch.cdist(x[:, None], self.bank)[:, 0]  # (B, capacity)
        slots = torch.arange(self.capacity, device=x.device)[None]
        d = torch.where(slots < n[:, None], d, torch.full_like(d, float("inf")))
        kk = min(k, self.capacity)
        near = d.topk(kk, largest=False).values
        have = torch.isfinite(near)
        mean = torch.where(have, near, torch.zeros_like(near)).sum(-1) / have.sum(-1).clamp(min=1)
        return mean

    def add(self, x: torch.Tensor) -> None:
        slot = self.count % self.capacity
        self.bank[torch.arange(len(x)), slot] = x
        self.count += 1


@dataclass
class _Streams:
    """Per-env recurrent bookkeeping: the lagged model's state, episodic memory, smoothed embedding."""

    lagged: LatentState | None
    memory: EpisodicMemory
    smoothed: torch.Tensor | None
    place: tuple[PathIntegrator, PlaceMemory] | None = None  # episodic_space="place"
    steps: int = 0  # steps filtered so far (prediction_every: which of them decode)
    held: torch.Tensor | None = None  # the last decoded prediction success per env (prediction_every > 1)


class IntrinsicRewards(nn.Module):
    def __init__(self, world_model: WorldModel, config: IntrinsicConfig | None = None, num_envs: int = 1) -> None:
        super().__init__()
        self.config = cfg = (config or IntrinsicConfig()).validated()
        self.wm = [world_model]  # a list: not registered as a submodule (its weights are not ours)
        if cfg.episodic_space == "place" and "proprio" not in world_model.keys:
            raise ValueError("episodic_space='place' integrates the proprio sense, which the world model does not read")
        self.lagged = world_model.copy_frozen()
        wm, device = world_model, world_model.device
        feat, act = wm.feature_dim, wm.action_dim
        latent = wm.config.stoch_groups * wm.config.stoch_classes
        self.latent_dim = latent
        self.ensemble = Ensemble(cfg.ensemble_size, feat + act, cfg.ensemble_units, latent)
        # P: h -> every sense's embedding; Q: (h, embeddings with sense s masked out, one-hot s) -> embeddings
        self.expect = mlp(wm.config.deter, cfg.coherence_units, 2, wm.embed_dim)
        self.cross = mlp(wm.config.deter + wm.embed_dim + len(wm.keys), cfg.coherence_units, 2, wm.embed_dim)
        slices, start = {}, 0
        for k in wm.keys:
            slices[k] = slice(start, start + wm.embed_dims[k])
            start += wm.embed_dims[k]
        self.slices = slices
        self.to(device)
        self.optimizer = torch.optim.Adam(
            list(self.ensemble.parameters()) + list(self.expect.parameters()) + list(self.cross.parameters()),
            lr=cfg.lr,
            foreach=True,  # as the world model's: one kernel per moment update, the same maths bit for bit
        )
        self.scales = {c: RunningScale(cfg.scale_decay) for c in CHANNELS}
        self.updates_seen = 0
        self.disagreement_scale = RunningScale(cfg.scale_decay)
        self.reset(num_envs)

    @property
    def world_model(self) -> WorldModel:
        return self.wm[0]

    def reset(self, num_envs: int) -> None:
        """Forget all per-env streams (lagged state, episodic memories)."""
        self.num_envs = num_envs
        self.streams = self._new_streams(num_envs)

    def _new_streams(self, num_envs: int) -> _Streams:
        cfg = self.config
        place = None
        if cfg.episodic_space == "place":
            place = (
                PathIntegrator(num_envs, cfg.path_integration_dt),
                PlaceMemory(num_envs, cfg.place_field, cfg.place_bonus_power),
            )
        return _Streams(
            None,
            EpisodicMemory(num_envs, cfg.episodic_capacity, self.latent_dim, self.world_model.device),
            None,
            place,
        )

    # ------------------------------------------------------------------ the three signals
    def _prediction_error(
        self,
        model: WorldModel,
        state: LatentState,
        action: torch.Tensor,
        obs_targets: dict,
        after: LatentState | None = None,
    ) -> torch.Tensor:
        """Mean over senses of next-step mse in copy-last units (the *current* model's running
        copy error for both copies, so the two errors share one unit). The prior is the mode of
        p(z_t | h_t); ``after`` (the state ``model.observe`` made from ``state``) carries h_t and
        the prior's logits, which equal a fresh ``img_step``'s wherever the episode goes on (the
        rows where it starts are masked by the caller), so the GRU and prior head need not run again."""
        if after is not None and after.logits is not None:
            prior = LatentState(after.deter, model.rssm.sample(after.logits[0], sample=False))
        else:
            prior, _ = model.rssm.img_step(state, action, sample=False)
        pred = model.decode_next(prior.features, state.percept, action, state.change)
        unit = self.world_model.error_unit()
        errs = [((pred[k] - obs_targets[k]) ** 2).flatten(1).mean(-1) / unit[i] for i, k in enumerate(model.keys)]
        return torch.stack(errs, -1).mean(-1)

    def prediction_success(
        self, state_before, lagged_before, action_prev, obs_targets, state_after=None, lagged_after=None
    ) -> torch.Tensor:
        """Learning progress: r = E_lagged(o_t | s_{t-1}, a_{t-1}) - E_current(o_t | s_{t-1}, a_{t-1}).

        E is the next-step prediction error of a model on the *same* transition (mean over
        senses, each in units of its copy-last error); the lagged model is a snapshot of the
        current one, refreshed every ``lag_updates`` updates (learning progress: Oudeyer, Kaplan
        & Hafner 2007, "Intrinsic motivation systems for autonomous mental development";
        Schmidhuber 1991). Not an EMA of weights (gamma-Progress, Kim et al. 2020): averaged
        weights predicted *better* than the current ones in our tests (Polyak averaging), so
        the progress signal came out negative while the model was learning.
        A dark corner is predicted equally well by both copies: no reward. Kept *signed*: on
        an unlearnable stimulus (noisy TV) both errors are equal in expectation, and the signed
        difference averages to zero, whereas clipping at 0 would pay the positive half of the
        noise; a negative value (forgetting) is honest information for the critic.

        With ``prediction_every = k > 1`` (opt-in; ``_compute``) the two decodes run on every k-th
        step of the stream only and the value is held in between (zero-order hold; zero from an
        episode's start until its first decoded step): the channel keeps its scale and its sum over
        a window, but the progress of k transitions is sampled at one of them. A throughput lever:
        the decodes are the costliest part of the acting step at 2 envs (docs/benchmarks.md).
        """
        current = self._prediction_error(self.world_model, state_before, action_prev, obs_targets, state_after)
        lagged = self._prediction_error(self.lagged, lagged_before, action_prev, obs_targets, lagged_after)
        return lagged - current

    def disagreement(self, features_before: torch.Tensor, action_prev: torch.Tensor) -> torch.Tensor:
        """Long-term novelty: variance across the ensemble of next-latent predictions, mean over
        dims (Plan2Explore, Sekar et al. 2020). Members trained on the same data converge to the
        same conditional mean, even for an unpredictable target, so a noisy TV's pull fades."""
        preds = self.ensemble(torch.cat([features_before, action_prev], -1))
        return preds.var(0).mean(-1)

    def coherence(self, deter: torch.Tensor, embeds: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-sense coherence: c_t = mean_s [ |P_s(h_t) - e_t^s|^2 - |Q_s(h_t, e_t^{-s}) - e_t^s|^2 ] / dim_s.

        P_s predicts sense s's embedding from the model's expectation h_t alone (h_t is computed
        before o_t is seen); Q_s from h_t and the *other* senses' embeddings now. c_t is how much
        the other senses improve each sense's prediction: high when they agree about what just
        happened (whiskers touch as the wall looms), about zero when nothing surprising happens
        (dark room: P already predicts everything), and zero or negative when a sense is noise or
        out of step with the rest (Q then does no better, or worse, than P). Inspired by
        multisensory prediction and cross-modal agreement objectives (de Sa 1994, "Learning
        classification with unlabeled data"; Arandjelovic & Zisserman 2017, audio-visual correspondence).
        """
        expect, cross = self._coherence_errors(deter, embeds)
        return (expect - cross).mean(-1)

    def _coherence_errors(
        self, deter: torch.Tensor, embeds: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sense mean squared errors of P and Q, each (..., senses)."""
        keys = self.world_model.keys
        e = torch.cat([embeds[k] for k in keys], -1)
        expect_all = self.expect(deter)
        masks = torch.ones(len(keys), e.shape[-1], device=e.device)
        for i, k in enumerate(keys):
            masks[i, self.slices[k]] = 0
        onehot = torch.eye(len(keys), device=e.device)
        lead = e.shape[:-1]
        x = torch.cat(
            [
                deter.unsqueeze(-2).expand(*lead, len(keys), deter.shape[-1]),
                e.unsqueeze(-2) * masks,
                onehot.expand(*lead, len(keys), len(keys)),
            ],
            -1,
        )
        cross_all = self.cross(x)  # (..., senses, embed_dim): row i predicts with sense i hidden
        expect = torch.stack([((expect_all[..., self.slices[k]] - embeds[k]) ** 2).mean(-1) for k in keys], -1)
        cross = torch.stack(
            [((cross_all[..., i, self.slices[k]] - embeds[k]) ** 2).mean(-1) for i, k in enumerate(keys)], -1
        )
        return expect, cross

    def _posterior_probs(self, state: LatentState, embeds: dict[str, torch.Tensor]) -> torch.Tensor:
        """q(z_t | h_t, e_t) flattened (B, G·C): the logits ``observe`` computed, or the head run again."""
        wm = self.world_model
        if state.logits is not None:
            logits = state.logits[1]
        else:
            logits = wm.rssm.posterior_logits(state.deter, torch.cat([embeds[k] for k in wm.keys], -1))
        return logits.exp().flatten(-2)

    def episodic_novelty(self, streams: _Streams, embedding: torch.Tensor, is_first: torch.Tensor) -> torch.Tensor:
        """Mean distance from the (smoothed) posterior latent to its k nearest neighbours in this
        episode's memory (NGU, Badia et al. 2020; E3B, Henaff et al. 2022). The embedding is the
        posterior's class probabilities (deterministic, bottlenecked by the KL to what the prior
        finds worth encoding), smoothed over steps by an EMA so a flicker averages out."""
        a = self.config.embedding_smoothing
        if streams.smoothed is None:
            streams.smoothed = embedding.clone()
        first = is_first[:, None]
        streams.smoothed = torch.where(first, embedding, a * streams.smoothed + (1 - a) * embedding)
        streams.memory.clear(is_first)
        distance = streams.memory.knn_distance(streams.smoothed, self.config.episodic_k)
        streams.memory.add(streams.smoothed)
        return torch.where(is_first, torch.zeros_like(distance), distance)

    def place_novelty(self, streams: _Streams, proprio, is_first: torch.Tensor) -> torch.Tensor:
        """Episodic novelty of the place (``episodic_space="place"``): ``n^−p`` (p = ``place_bonus_power``) of the n visits of the
        path-integrated place field this episode (``place.py``); 0 at an episode's first step."""
        integrator, memory = streams.place
        first = is_first.cpu().numpy()
        proprio = proprio.cpu().numpy() if isinstance(proprio, torch.Tensor) else np.asarray(proprio)
        bonus = memory.visit(integrator.step(proprio, first), first)
        bonus = torch.as_tensor(bonus, device=is_first.device)
        return torch.where(is_first, torch.zeros_like(bonus), bonus)

    # ------------------------------------------------------------------ per step
    @torch.no_grad()
    def _compute(
        self,
        streams: _Streams,
        obs: dict,
        action_prev: torch.Tensor,
        is_first: torch.Tensor,
        state_before: LatentState | None,
        state_after: LatentState,
    ) -> dict[str, torch.Tensor]:
        wm = self.world_model
        if state_after.percept is not None and state_after.embeds is not None:
            targets, embeds = state_after.percept, state_after.embeds
        else:
            targets = wm.targets(obs)
            embeds = wm.encode(obs, targets)
        # the lagged model filters the same stream with its own weights and state
        lagged_before = streams.lagged
        lagged_after, _ = self.lagged.observe(obs, action_prev, lagged_before, is_first, targets)
        streams.lagged = lagged_after
        decode = streams.steps % self.config.prediction_every == 0
        streams.steps += 1
        if state_before is None or lagged_before is None or state_before.percept is None:
            ps = torch.zeros(len(is_first), device=wm.device)
            dis = torch.zeros_like(ps)
        else:
            if decode:
                ps = self.prediction_success(
                    state_before, lagged_before, action_prev, targets, state_after, lagged_after
                )
            else:
                ps = streams.held if streams.held is not None else torch.zeros(len(is_first), device=wm.device)
            dis = self.disagreement(state_before.features, action_prev)
        ps = torch.where(is_first, torch.zeros_like(ps), ps)
        if self.config.prediction_every > 1:
            streams.held = ps  # zero from an episode's start until its first decoded step
        dis = torch.where(is_first, torch.zeros_like(dis), dis)
        if streams.place is None:
            episodic = self.episodic_novelty(streams, self._posterior_probs(state_after, embeds), is_first)
        else:
            episodic = self.place_novelty(streams, obs["proprio"], is_first)
        coherence = self.coherence(state_after.deter, embeds)
        return {"prediction_success": ps, "disagreement": dis, "episodic": episodic, "coherence": coherence}

    def _finish(self, raw: dict[str, torch.Tensor], update_scale: bool) -> dict[str, np.ndarray]:
        """Combine novelty terms and normalise every channel by its running scale.

        novelty = episodic * clip(disagreement / RMS(disagreement), 1, L)   (NGU's modulator form)
        """
        dis = raw["disagreement"].cpu().numpy()
        if update_scale:
            self.disagreement_scale.update(dis)
        modulator = np.clip(self.disagreement_scale(dis), 1.0, self.config.novelty_max_modulator)
        out = {
            "prediction_success": raw["prediction_success"].cpu().numpy(),
            "novelty": raw["episodic"].cpu().numpy() * modulator,
            "coherence": raw["coherence"].cpu().numpy(),
        }
        for channel in CHANNELS:
            if update_scale:
                self.scales[channel].update(out[channel])
            out[channel] = self.scales[channel](out[channel]).astype(np.float32)
        return out

    def step(
        self,
        obs: dict,
        action_prev,
        is_first,
        state_before: LatentState | None,
        state_after: LatentState,
        update_scale: bool = True,
    ) -> dict[str, np.ndarray]:
        """Rewards for the step just taken by B envs: ``{channel: (B,) float32}``.

        ``state_before`` is the world model's state s_{t-1} given to ``observe`` (None at the
        very start), ``state_after`` the s_t it returned.
        """
        wm = self.world_model
        action_prev = wm._tensor(action_prev, torch.float32)
        is_first = wm._tensor(is_first, torch.bool)
        if len(is_first) != self.num_envs:
            raise ValueError(
                f"step got {len(is_first)} envs but IntrinsicRewards was reset for {self.num_envs}; call reset(num_envs)"
            )
        raw = self._compute(self.streams, obs, action_prev, is_first, state_before, state_after)
        return self._finish(raw, update_scale)

    @torch.no_grad()
    def sequence(self, batch: dict, update_scale: bool = False) -> dict[str, np.ndarray]:
        """Rewards for a replay batch (B, T): ``{channel: (B, T) float32}``. The sequence is
        filtered from a zero state and an empty episodic memory at its first row (replay
        windows start mid-episode, so episodic novelty there is relative to the window)."""
        wm = self.world_model
        B, T = np.asarray(batch["is_first"]).shape[:2]
        streams = self._new_streams(B)
        state, rows = None, []
        for t in range(T):
            obs = {k: batch[k][:, t] for k in wm.keys}
            first = wm._tensor(batch["is_first"][:, t], torch.bool) | (t == 0)
            action = wm._tensor(batch["action_prev"][:, t], torch.float32)
            new_state, _ = wm.observe(obs, action, state, first)
            rows.append(self._compute(streams, obs, action, first, state, new_state))
            state = new_state
        raw = {k: torch.stack([r[k] for r in rows], 1).reshape(B * T) for k in rows[0]}
        return {k: v.reshape(B, T) for k, v in self._finish(raw, update_scale).items()}

    def load_state_dict(self, state_dict, strict: bool = True):
        """Checkpoints hold the heads and the lagged copy (its counters are informational)."""
        return super().load_state_dict(
            {k: v for k, v in state_dict.items() if not k.endswith("._counters")}, strict=strict
        )

    def get_extra_state(self) -> dict:
        """What ``state_dict()`` saves beside the weights (as its ``_extra_state`` entry): each
        channel's running scale ``[mean_square, weight]`` (and the disagreement's, as
        ``_disagreement``) and ``updates_seen`` (when the lagged copy is next refreshed); plain
        numbers, so a resumed run neither re-inflates its rewards nor drifts."""
        scales = {c: [s.mean_square, s.weight] for c, s in self.scales.items()}
        scales["_disagreement"] = [self.disagreement_scale.mean_square, self.disagreement_scale.weight]
        return {"scales": scales, "counters": {"updates_seen": self.updates_seen}}

    def set_extra_state(self, state: dict) -> None:
        """Restore what :meth:`get_extra_state` saved (``load_state_dict`` calls it)."""
        for c, (mean_square, weight) in state["scales"].items():
            scale = self.disagreement_scale if c == "_disagreement" else self.scales[c]
            scale.mean_square, scale.weight = float(mean_square), float(weight)
        self.updates_seen = int(state["counters"]["updates_seen"])

    # ------------------------------------------------------------------ learning
    def train_step(self, batch: dict, posts: LatentState) -> dict[str, float]:
        """One update of the ensemble and the cross-sense heads on a replay batch, using the
        world model's posterior states from ``train_step(batch, return_states=True)``; then the
        lagged copy moves towards the current weights. Returns losses (NaN-guarded like the model)."""
        wm = self.world_model
        with torch.no_grad():
            embeds = {k: v.detach() for k, v in wm.encode({k: batch[k] for k in wm.keys}).items()}
        action = wm._tensor(batch["action_prev"], torch.float32)[:, 1:]
        valid = (~wm._tensor(batch["is_first"], torch.bool)[:, 1:]).float()
        x = torch.cat([posts.features[:, :-1], action], -1)
        target = posts.stoch[:, 1:].flatten(-2)
        B, T1 = action.shape[:2]
        preds = self.ensemble(x.reshape(B * T1, -1)).reshape(-1, B, T1, target.shape[-1])
        ens = ((((preds - target) ** 2).mean(-1) * valid).sum((1, 2)) / valid.sum().clamp(min=1)).sum()
        expect, cross = self._coherence_errors(posts.deter, embeds)
        coh = expect.mean() + cross.mean()
        loss = ens + coh
        out = {"ensemble": float(ens.detach()), "coherence_heads": float(coh.detach()), "skipped": 0.0}
        self.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            out["skipped"] = 1.0
        else:
            loss.backward()
            self.optimizer.step()
        self.update_lagged()
        return out

    @torch.no_grad()
    def update_lagged(self) -> None:
        """Count one world-model update; every ``lag_updates`` of them, lagged <- current."""
        self.updates_seen += 1
        if self.updates_seen % self.config.lag_updates == 0:
            for lag, cur in zip(self.lagged.parameters(), self.world_model.parameters()):
                lag.copy_(cur.detach())
            for lag, cur in zip(self.lagged.buffers(), self.world_model.buffers()):
                lag.copy_(cur)
