"""The world model: per-sense encoders -> RSSM latent state -> per-sense predictions.

One encoder per sense (CNN for images, symlog + MLP for vectors), their embeddings
concatenated into e_t and fused by the RSSM (``embodied.brain.perception.rssm``) with the previous
action into the latent state s_t = (h_t, z_t). One decoder per sense maps features(s) to
that sense. Two decoder heads per sense:

- a reconstruction head reads the posterior s_t and rebuilds o_t (it shapes the latent);
- a next-step head reads the *prior* (the state after ``img_step`` from s_{t-1} and a_{t-1},
  before o_t is seen) and predicts the change from the percept:
  o_hat_t = o_{t-1} + D_s(prior_t, a_{t-1}, percept_{t-1}).
  At 30 Hz consecutive observations are nearly equal, so an absolute decoder's blur loses to
  simply copying the last observation; a residual head starts at copy-last and learns the
  motion (as in video prediction with skip/residual outputs). For images D moves the last
  frame by learned affine warps (``ImageMotionDecoder``, a spatial-transformer predictor);
  for vectors D is first order in the action (``ActionTaylorDecoder``) and reads the vector
  percepts and their last change, not the latent (``vector_head_input``: a head reading the
  latent learned each training maze by heart). Open loop, the percept is the model's own
  previous prediction.

    L = c_rec * sum_s w_s * mse(R_s(post_t), o_t^s)
      + c_next * sum_s w_s * rho_s(o_{t-1}^s + D_s(prior_t, ...) - o_t^s)
      + c_dyn * max(1, KL(sg(q) || p)) + c_rep * max(1, KL(q || sg(p)))

- mse is averaged over the sense's values (images in [0, 1] at ``image_size``, vectors in
  symlog space) and weighted by ``loss_scales[s]``. DreamerV3 *sums* over values, which would
  weight a 32x32x3 frame 150x a 20-value touch vector; averaging then weighting makes the
  balance an explicit, named choice (Hafner et al. 2023, sec. 3 and appendix).
- rho_s(e) = mean(e^2) / u_s with u_s = EMA[mse(o_{t-1}^s, o_t^s)], the running copy-last
  error of that sense, so 1.0 means "no better than copy-last" for every sense alike (and
  1 - it is the skill score). For vector senses rho_s(e) = mean(2 * huber_delta(e / sqrt(u_s)))
  (``next_huber_delta``): the same below delta typical changes, linear above, so the rare
  jump no sense foresees (a pellet eaten and the smell everywhere changing at once) does not
  dominate the fit (Huber 1964). The reported ``next_<sense>`` is always mean(e^2) / u_s.
- vectors are compared in symlog space, smell (``log_senses``) in log space (``targets``).
- KL balancing (c_dyn = 0.5, c_rep = 0.1) and free bits of 1 nat: DreamerV3.

Conventions shared with replay and the agent: row t of a sequence holds o_t and
``action_prev`` a_{t-1} (the action that led to o_t; zeros where ``is_first``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields

import gymnasium
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from embodied.brain.device import resolve_device
from embodied.brain.nets import symexp, symlog
from embodied.brain.perception.encoders import (
    ActionTaylorDecoder,
    ImageDecoder,
    ImageEncoder,
    ImageMotionDecoder,
    VectorDecoder,
    VectorEncoder,
    prepare_image,
)
from embodied.brain.perception.rssm import RSSM, LatentState, categorical_kl

__all__ = ["WorldModelConfig", "WorldModel", "LatentState"]


@dataclass
class WorldModelConfig:
    """Every hyperparameter of the world model. ``WorldModelConfig.preset("cpu" | "gpu")``."""

    device: str = "auto"  # "auto" (CUDA if available, else CPU), "cpu", "cuda", "cuda:N"
    image_size: int = 32  # images are area-resized to image_size x image_size inside the model
    cnn_depth: int = 16  # channels of the first conv layer; doubles each halving
    vision_embed: int = 256  # width of the vision embedding
    vector_embed: int = 32  # width of each vector sense's embedding
    mlp_units: int = 128  # width of MLP hidden layers (encoders, decoders, heads)
    mlp_layers: int = 2  # hidden layers in vector encoders and decoders
    deter: int = 256  # GRU (deterministic) state width h
    stoch_groups: int = 16  # number of categorical latent variables in z
    stoch_classes: int = 16  # classes per categorical latent
    hidden: int = 256  # width of the RSSM's input and prior/posterior layers
    warp_transforms: int = 2  # affine warps of the last frame blended by the next-frame head (ImageMotionDecoder)
    warp_reads_senses: bool = True  # the frame head's warps also read vector_head_input (the body's senses and their last change): held-out SS(1) vision 0.44 -> 0.60
    vector_next_inputs: str = "senses"  # what the vector senses' next-step heads read: "senses" (every vector percept, its last change, the action) or "latent" (the prior features and every vector percept)
    log_senses: list = field(
        default_factory=lambda: ["scent"]
    )  # vector senses compared in log(x + log_floor) instead of symlog (concentrations: exponential fields)
    log_floor: float = 1e-3  # floor inside the log of log_senses
    next_huber_delta: float = (
        1.0  # vector next-step loss: Huber with this knee, in units of the sense's typical change (0: squared error)
    )
    unimix: float = 0.01  # uniform mixture in latent probabilities (DreamerV3)
    free_bits: float = 1.0  # KL below this many nats is not penalised (DreamerV3)
    kl_dyn_scale: float = 0.5  # weight of KL(sg(posterior) || prior): trains the prior
    kl_rep_scale: float = 0.1  # weight of KL(posterior || sg(prior)): regularises the posterior
    next_obs_scale: float = 10.0  # c_next: weight of the residual next-step loss (in copy-last units)
    copy_error_decay: float = 0.99  # EMA decay of each sense's copy-last error (next-step loss units)
    copy_error_floor: float = 1e-5  # smallest unit: a sense that never changes (no smell) must not get a huge weight
    loss_scales: dict = field(
        default_factory=lambda: {"vision": 1.0, "touch": 1.0, "proprio": 1.0, "scent": 1.0}
    )  # per-sense weight w_s on mean squared error
    default_loss_scale: float = 1.0  # w_s for a sense missing from loss_scales
    recon_scale: float = 100.0  # c_rec: weight of the per-sense reconstruction errors against the KL (nats)
    lr: float = 6e-4  # Adam learning rate
    adam_eps: float = 1e-6  # Adam epsilon
    grad_clip: float = 100.0  # global gradient-norm clip
    batch_size: int = 16  # sequences per training batch
    seq_len: int = 32  # steps per training sequence
    seed: int = 0  # torch seed for parameter initialisation
    precision: str = "float32"  # "float32" | "bf16": the training loss under torch.autocast(bfloat16) (weights, optimiser and acting stay float32)

    @classmethod
    def preset(cls, name: str, **overrides) -> "WorldModelConfig":
        """``cpu``: trains at a useful rate on 2 cores. ``gpu``: larger, for one CUDA device."""
        presets = {
            "cpu": {},
            "gpu": dict(
                image_size=64,
                cnn_depth=32,
                vision_embed=512,
                vector_embed=64,
                mlp_units=512,
                deter=1024,
                stoch_groups=32,
                stoch_classes=32,
                hidden=512,
                batch_size=32,
                seq_len=64,
                lr=3e-4,
                precision="bf16",
            ),
        }
        if name not in presets:
            raise ValueError(f"WorldModelConfig preset {name!r} is unknown; allowed: {', '.join(presets)}")
        return cls(**{**presets[name], **overrides}).validated()

    def validated(self) -> "WorldModelConfig":
        known = {f.name for f in fields(self)}
        for key, low in [
            ("image_size", 8),
            ("cnn_depth", 1),
            ("vision_embed", 1),
            ("vector_embed", 1),
            ("mlp_units", 1),
            ("mlp_layers", 1),
            ("warp_transforms", 1),
            ("deter", 1),
            ("stoch_groups", 1),
            ("stoch_classes", 2),
            ("hidden", 1),
            ("batch_size", 1),
            ("seq_len", 2),
        ]:
            if not getattr(self, key) >= low:  # written so that NaN fails too
                raise ValueError(f"WorldModelConfig.{key}={getattr(self, key)} must be >= {low}")
        if self.image_size & (self.image_size - 1):
            raise ValueError(
                f"WorldModelConfig.image_size={self.image_size} must be a power of two (8, 16, 32, 64, ...)"
            )
        if self.vector_next_inputs not in ("senses", "latent"):
            raise ValueError(
                f"WorldModelConfig.vector_next_inputs={self.vector_next_inputs!r} must be 'senses' or 'latent'"
            )
        if self.precision not in ("float32", "bf16"):
            raise ValueError(f"WorldModelConfig.precision={self.precision!r} must be 'float32' or 'bf16'")
        if not 0 < self.log_floor < float("inf"):
            raise ValueError(f"WorldModelConfig.log_floor={self.log_floor} must be a finite number > 0")
        if not 0 <= self.unimix < 1:
            raise ValueError(f"WorldModelConfig.unimix={self.unimix} must be in [0, 1)")
        for key in (
            "next_huber_delta",
            "free_bits",
            "kl_dyn_scale",
            "kl_rep_scale",
            "next_obs_scale",
            "recon_scale",
            "lr",
            "grad_clip",
        ):
            if not 0 <= getattr(self, key) < float("inf"):
                raise ValueError(f"WorldModelConfig.{key}={getattr(self, key)} must be a finite number >= 0")
        assert "device" in known
        return self

    def to_dict(self) -> dict:
        return asdict(self)


class WorldModel(nn.Module):
    """Encoders + RSSM + decoders + optimiser. All public methods accept numpy or torch input."""

    def __init__(
        self,
        observation_space: gymnasium.spaces.Dict,
        action_space: gymnasium.spaces.Box,
        config: WorldModelConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = cfg = (config or WorldModelConfig()).validated()
        if not isinstance(observation_space, gymnasium.spaces.Dict):
            raise TypeError(f"observation_space must be a gymnasium Dict, got {type(observation_space).__name__}")
        torch.manual_seed(cfg.seed)
        self.observation_space, self.action_space = observation_space, action_space
        self.action_dim = int(np.prod(action_space.shape))
        self.image_keys = [k for k, s in observation_space.spaces.items() if len(s.shape) == 3]
        self.vector_keys = [k for k, s in observation_space.spaces.items() if len(s.shape) == 1]
        other = [k for k, s in observation_space.spaces.items() if len(s.shape) not in (1, 3)]
        if other:
            raise ValueError(
                f"observation keys {other} have ranks the world model cannot route (images are rank 3, vectors rank 1)"
            )
        self.keys = self.image_keys + self.vector_keys
        self.encoders, self.decoders, self.next_decoders = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        self.embed_dims: dict[str, int] = {}
        feat_dim = cfg.deter + cfg.stoch_groups * cfg.stoch_classes
        vector_dims = sum(observation_space[k].shape[0] for k in self.vector_keys)
        head_in = 2 * vector_dims if cfg.vector_next_inputs == "senses" else feat_dim + vector_dims
        for key in self.image_keys:
            channels = observation_space[key].shape[-1]
            self.encoders[key] = ImageEncoder(channels, cfg.image_size, cfg.cnn_depth, cfg.vision_embed)
            self.decoders[key] = ImageDecoder(feat_dim, channels, cfg.image_size, cfg.cnn_depth)
            context = head_in if cfg.warp_reads_senses and self.vector_keys else 0
            self.next_decoders[key] = ImageMotionDecoder(
                feat_dim,
                self.action_dim,
                channels,
                cfg.image_size,
                cfg.cnn_depth,
                cfg.mlp_units,
                cfg.warp_transforms,
                context,
            )
            self.embed_dims[key] = cfg.vision_embed
        for key in self.vector_keys:
            dim = observation_space[key].shape[0]
            self.encoders[key] = VectorEncoder(dim, cfg.mlp_units, cfg.mlp_layers, cfg.vector_embed)
            self.decoders[key] = VectorDecoder(feat_dim, dim, cfg.mlp_units, cfg.mlp_layers)
            # reads every vector percept (touch, proprio, scent inform each other's change) and, by
            # vector_next_inputs, their last changes or the prior features
            self.next_decoders[key] = ActionTaylorDecoder(head_in, self.action_dim, dim, cfg.mlp_units, cfg.mlp_layers)
            self.embed_dims[key] = cfg.vector_embed
        self.log_keys = [k for k in self.vector_keys if k in cfg.log_senses]
        for key in self.log_keys:
            if np.any(observation_space[key].low < 0):
                raise ValueError(
                    f"WorldModelConfig.log_senses names {key!r}, whose observation space allows negative values; "
                    "log(x + log_floor) needs x >= 0"
                )
        self.embed_dim = sum(self.embed_dims.values())  # next-step heads start as copy-last (zeroed output layers)
        self.rssm = RSSM(
            self.embed_dim, self.action_dim, cfg.deter, cfg.stoch_groups, cfg.stoch_classes, cfg.hidden, cfg.unimix
        )
        self.loss_scales = {k: float(cfg.loss_scales.get(k, cfg.default_loss_scale)) for k in self.keys}
        self.register_buffer("copy_error", torch.full((len(self.keys),), float("nan")))  # EMA copy-last mse per sense
        for (
            key
        ) in self.keys:  # range of each value seen in training (comparison space): open-loop predictions stay inside
            shape = (observation_space[key].shape[-1], 1, 1) if key in self.image_keys else observation_space[key].shape
            self.register_buffer(f"low_{key}", torch.full(shape, float("inf")))
            self.register_buffer(f"high_{key}", torch.full(shape, float("-inf")))
        self.device = resolve_device(cfg.device)
        self.to(self.device)
        # foreach: one kernel per moment update for all tensors instead of a Python loop over them (the same
        # elementwise maths, bit for bit; torch picks it by itself only on CUDA)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=cfg.lr, eps=cfg.adam_eps, foreach=True)
        self.updates = 0  # optimizer steps taken
        self.skipped_updates = 0  # steps skipped by the NaN guard

    # ------------------------------------------------------------------ sizes
    @property
    def feature_dim(self) -> int:
        """Width of ``features``: deter + groups * classes."""
        return self.rssm.feature_dim

    # ------------------------------------------------------------------ conversion
    def _tensor(self, x, dtype=None) -> torch.Tensor:
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        return t.to(self.device, dtype=dtype) if dtype is not None else t.to(self.device)

    def targets(self, obs: dict) -> dict[str, torch.Tensor]:
        """Observation in the model's comparison space: images (..., C, S, S) in [0, 1]; vectors in
        symlog, except ``log_senses`` in log(x + log_floor).

        Why log for smell: concentration decays exponentially with path distance,
        c = exp(-d / L) (``embodied.arena.odour``), so a step of length dd changes log c by
        -dd / L wherever the rat is, whereas the change of c itself spans orders of magnitude
        between the food and the far end of the maze. In log space the next-step change is the
        same simple function of the rat's motion everywhere (held-out next-step skill of a
        senses-only head on steps without eating: 0.76 in log space against 0.61 in symlog
        space, ``docs/world_model.md``)."""
        out = {}
        for key in self.image_keys:
            out[key] = prepare_image(self._tensor(obs[key]), self.config.image_size)
        for key in self.vector_keys:
            x = self._tensor(obs[key], torch.float32)
            out[key] = torch.log(x.clamp(min=0) + self.config.log_floor) if key in self.log_keys else symlog(x)
        return out

    def encode(self, obs: dict, targets: dict | None = None) -> dict[str, torch.Tensor]:
        """Per-sense embeddings e_t^s, each (..., embed_dims[s]) (``targets``: ``self.targets(obs)`` if known)."""
        t = self.targets(obs) if targets is None else targets
        out = {}
        for key in self.image_keys:
            out[key] = self.encoders[key](t[key])
        for key in self.vector_keys:
            out[key] = self.encoders[key].out(self.encoders[key].net(t[key]))  # input already in symlog/log space
        return out

    def decode(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-sense reconstructions in the comparison space of ``targets``."""
        return {key: self.decoders[key](features) for key in self.keys}

    def error_unit(self) -> torch.Tensor:
        """Per-sense unit of next-step error: the running copy-last mse, floored (senses in ``keys`` order)."""
        return self.copy_error.nan_to_num(1.0).clamp(min=self.config.copy_error_floor)

    def vector_head_input(
        self, prior_features: torch.Tensor, percept: dict[str, torch.Tensor], change: dict[str, torch.Tensor] | None
    ) -> torch.Tensor:
        """What the vector senses' next-step heads read (``vector_next_inputs``).

        ``"senses"``: x = [o_t^v for every vector sense v, (o_t^v - o_{t-1}^v) / sqrt(u_v)], the
        percepts and their last change in units of the sense's typical change u_v (the running
        copy-last error). ``"latent"``: x = [features of the prior, o_t^v]. Reading the latent,
        the heads learned each training maze's smell field and whisker layout by heart and were
        worse than copy-last on unseen mazes (held-out SS(1) touch -0.82, scent -0.99, where the
        training batches reached 0.4-0.9); how a whisker reading or a smell changes under a motor
        command is local, and a head that sees only the senses generalises (docs/world_model.md).
        """
        vectors = torch.cat([percept[k] for k in self.vector_keys], -1)
        if self.config.vector_next_inputs == "latent":
            return torch.cat([prior_features, vectors], -1)
        unit = self.error_unit()
        scaled = []
        for i, key in enumerate(self.keys):
            if key in self.vector_keys:
                delta = change[key] if change is not None else torch.zeros_like(percept[key])
                scaled.append(delta / unit[i].sqrt())
        return torch.cat([vectors, *scaled], -1)

    def decode_next(
        self,
        prior_features: torch.Tensor,
        percept: dict[str, torch.Tensor],
        action: torch.Tensor,
        change: dict[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Next-step predictions o_hat_{t+1} = o_t + D_s(prior_{t+1}, a_t, percept_t), in the comparison
        space of ``targets``, kept inside the range of values seen in training (open loop, a
        drifting residual would otherwise compound, and symexp would turn the drift exponential).
        Images: warps of the percept (``ImageMotionDecoder``); vectors: first order in the action,
        reading ``vector_head_input`` (``ActionTaylorDecoder``); ``change`` is each vector sense's
        last change (``LatentState.change``; None reads as no change)."""
        out = {}
        head_input = self.vector_head_input(prior_features, percept, change) if self.vector_keys else None
        for key in self.keys:
            if key in self.image_keys:
                context = head_input if self.config.warp_reads_senses else None
                delta = self.next_decoders[key](prior_features, action, percept[key], context)
            else:
                delta = self.next_decoders[key](head_input, action)
            pred = percept[key] + delta
            low, high = getattr(self, f"low_{key}"), getattr(self, f"high_{key}")
            if torch.isfinite(low).all():
                pred = torch.maximum(torch.minimum(pred, high), low)
            out[key] = pred
        return out

    def to_observation_units(self, decoded: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Comparison space -> observation units: images (..., S, S, C) in 0..255 float, vectors symexp'd (exp'd for ``log_senses``)."""
        out = {}
        for key in self.image_keys:
            out[key] = (decoded[key].clamp(0, 1) * 255.0).movedim(-3, -1)
        for key in self.vector_keys:
            out[key] = (
                (decoded[key].exp() - self.config.log_floor).clamp(min=0)
                if key in self.log_keys
                else symexp(decoded[key])
            )
        return out

    def predicted_frame(self, predicted: dict[str, torch.Tensor], key: str | None = None) -> np.ndarray:
        """A predicted image (from ``predict``) as uint8 (..., H, W, C) at the env's resolution, for panels."""
        key = key or self.image_keys[0]
        img = predicted[key]  # (..., S, S, C) 0..255
        h, w = self.observation_space[key].shape[:2]
        lead = img.shape[:-3]
        x = img.reshape(-1, *img.shape[-3:]).permute(0, 3, 1, 2)
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        return x.permute(0, 2, 3, 1).reshape(*lead, h, w, -1).round().clamp(0, 255).to(torch.uint8).cpu().numpy()

    # ------------------------------------------------------------------ acting
    def initial_state(self, batch_size: int) -> LatentState:
        return self.rssm.initial(batch_size, self.device)

    @torch.no_grad()
    def observe(
        self, obs: dict, action_prev, state: LatentState | None, is_first, targets: dict | None = None
    ) -> tuple[LatentState, torch.Tensor]:
        """One env step for a batch of envs: (o_t, a_{t-1}, s_{t-1}, is_first_t) -> (s_t, features_t).

        ``obs[key]`` is (B, *space.shape); ``action_prev`` (B, A); ``is_first`` (B,) bool
        (the state and action are zeroed there). ``state=None`` starts from zeros. ``targets``:
        ``self.targets(obs)`` if the caller has them (they depend on the config, not the weights,
        so a lagged copy can reuse the current model's). The state keeps its percept, embeddings,
        change and the step's (prior, posterior) logits for the intrinsic rewards.
        """
        targets = self.targets(obs) if targets is None else targets
        embed = self.encode(obs, targets)
        batch = next(iter(embed.values())).shape[0]
        state = self.initial_state(batch) if state is None else state
        first = self._tensor(is_first, torch.bool)
        post, _, logits = self._filter_step(
            state, self._tensor(action_prev, torch.float32), first, torch.cat([embed[k] for k in self.keys], -1)
        )
        post.percept, post.embeds, post.logits = targets, embed, logits
        post.change = self._change(targets, state.percept, first)
        return post, post.features

    def _change(self, now: dict, before: dict | None, is_first: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Each vector sense's change now - before (zero without a before, or where ``is_first``);
        any leading shape, ``is_first`` matching it without the value axis."""
        out = {}
        for key in self.vector_keys:
            if before is None:
                out[key] = torch.zeros_like(now[key])
            else:
                delta = now[key] - before[key]
                out[key] = (
                    delta if is_first is None else torch.where(is_first[..., None], torch.zeros_like(delta), delta)
                )
        return out

    def _filter_step(
        self, state: LatentState, action: torch.Tensor, is_first: torch.Tensor, embed: torch.Tensor, sample: bool = True
    ):
        state, action = self.rssm.reset_where(state, action, is_first)
        prior, prior_logits = self.rssm.img_step(state, action, sample)
        post, post_logits = self.rssm.obs_step(prior.deter, embed, sample)
        return post, prior, (prior_logits, post_logits)

    @torch.no_grad()
    def predict(self, state: LatentState, action, sample: bool = False) -> tuple[LatentState, dict[str, torch.Tensor]]:
        """Imagine one step: (s_t, a_t) -> (prior s_{t+1}, predicted o_{t+1} per sense in observation units).

        Images come back as (B, S, S, C) floats 0..255 at ``image_size`` (``predicted_frame``
        turns them into the env-sized uint8 frame); vectors as (B, dim). ``sample=False``
        uses the most likely latent class, the better point prediction.
        """
        if state.percept is None:
            raise ValueError(
                "predict needs a state from observe (or predict): it carries the percept the prediction starts from"
            )
        action = self._tensor(action, torch.float32)
        prior, _ = self.rssm.img_step(state, action, sample)
        prior.percept = self.decode_next(prior.features, state.percept, action, state.change)
        prior.change = self._change(prior.percept, state.percept)
        return prior, self.to_observation_units(prior.percept)

    imagine = predict

    def img_step(self, state: LatentState, action: torch.Tensor, sample: bool = True) -> LatentState:
        """Differentiable prior step for imagination training (no decoding)."""
        return self.rssm.img_step(state, action, sample)[0]

    # ------------------------------------------------------------------ sequences
    def observe_sequence(self, batch: dict, state: LatentState | None = None, sample: bool = True):
        """Filter a (B, T) batch. Returns (posteriors, priors) as LatentState (B, T, ...), the
        (prior_logits, post_logits) pair (B, T, G, C), and the per-sense embeddings (B, T, ...)."""
        embeds = self.encode({k: batch[k] for k in self.keys})
        embed = torch.cat([embeds[k] for k in self.keys], -1)
        actions = self._tensor(batch["action_prev"], torch.float32)
        is_first = self._tensor(batch["is_first"], torch.bool)
        B, T = actions.shape[:2]
        state = self.initial_state(B) if state is None else state
        posts, priors, prior_logits, post_logits = [], [], [], []
        for t in range(T):
            post, prior, (pl, ql) = self._filter_step(state, actions[:, t], is_first[:, t], embed[:, t], sample)
            posts.append(post), priors.append(prior), prior_logits.append(pl), post_logits.append(ql)
            state = post
        stack = LatentState.stack
        return stack(posts), stack(priors), (torch.stack(prior_logits, 1), torch.stack(post_logits, 1)), embeds

    # ------------------------------------------------------------------ training
    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor], LatentState]:
        cfg = self.config
        posts, priors, (prior_logits, post_logits), _ = self.observe_sequence(batch)
        targets = self.targets({k: batch[k] for k in self.keys})
        recon_feats, prior_feats = posts.features, priors.features[:, 1:]
        # a prior at an episode start carries no information, and t = 0 has no percept before it
        valid = (~self._tensor(batch["is_first"], torch.bool)[:, 1:]).float()
        n_valid = valid.sum().clamp(min=1)
        metrics: dict[str, torch.Tensor] = {}
        recon = torch.zeros((), device=self.device)
        nxt = torch.zeros((), device=self.device)
        actions = self._tensor(batch["action_prev"], torch.float32)[
            :, 1:
        ]  # row t+1 holds a_t, which led from o_t to o_{t+1}
        head_input = None
        if self.vector_keys:  # the percepts o_t and changes o_t - o_{t-1} of rows t = 0..T-2 (no change known at t = 0)
            first = self._tensor(batch["is_first"], torch.bool)
            later = self._change(
                {k: targets[k][:, 1:-1] for k in self.vector_keys},
                {k: targets[k][:, :-2] for k in self.vector_keys},
                first[:, 1:-1],
            )
            change = {k: torch.cat([torch.zeros_like(v[:, :1]), v], 1) for k, v in later.items()}
            head_input = self.vector_head_input(prior_feats, {k: targets[k][:, :-1] for k in self.vector_keys}, change)
        for i, key in enumerate(self.keys):
            rec = ((self.decoders[key](recon_feats) - targets[key]) ** 2).flatten(2).mean(-1).mean()
            prev, now = targets[key][:, :-1], targets[key][:, 1:]
            if key in self.image_keys:
                pred = prev + self.next_decoders[key](
                    prior_feats, actions, prev, head_input if cfg.warp_reads_senses else None
                )
            else:
                pred = prev + self.next_decoders[key](head_input, actions)
            with torch.no_grad():
                finite = torch.isfinite(targets[key])
                if finite.all():
                    dims = (0, 1, 3, 4) if key in self.image_keys else (0, 1)
                    low, high = getattr(self, f"low_{key}"), getattr(self, f"high_{key}")
                    low.copy_(torch.minimum(low, targets[key].amin(dim=dims, keepdim=False).reshape(low.shape)))
                    high.copy_(torch.maximum(high, targets[key].amax(dim=dims, keepdim=False).reshape(high.shape)))
            err = ((pred - now) ** 2).flatten(2).mean(-1)
            copy = ((prev - now) ** 2).flatten(2).mean(-1)
            err, copy = (err * valid).sum() / n_valid, (copy * valid).sum() / n_valid
            with torch.no_grad():  # running copy-last error: the unit of the next-step loss
                old = self.copy_error[i]
                new = copy if torch.isnan(old) else cfg.copy_error_decay * old + (1 - cfg.copy_error_decay) * copy
                if torch.isfinite(new):
                    self.copy_error[i] = new
            unit = self.copy_error[i].clamp(min=cfg.copy_error_floor)
            metrics[f"recon_{key}"], metrics[f"next_{key}"] = rec, err / unit
            step_loss = metrics[f"next_{key}"]
            if key in self.vector_keys and cfg.next_huber_delta > 0:  # robust to the rare jumps no sense foresees
                z = (pred - now) / unit.sqrt()
                huber = 2 * F.huber_loss(z, torch.zeros_like(z), delta=cfg.next_huber_delta, reduction="none")
                step_loss = (huber.flatten(2).mean(-1) * valid).sum() / n_valid
            recon = recon + self.loss_scales[key] * rec
            nxt = nxt + self.loss_scales[key] * step_loss
        dyn = categorical_kl(post_logits.detach(), prior_logits)
        rep = categorical_kl(post_logits, prior_logits.detach())
        kl_loss = (
            cfg.kl_dyn_scale * dyn.clamp(min=cfg.free_bits).mean()
            + cfg.kl_rep_scale * rep.clamp(min=cfg.free_bits).mean()
        )
        total = cfg.recon_scale * recon + cfg.next_obs_scale * nxt + kl_loss
        metrics.update(total=total, kl=dyn.mean(), kl_loss=kl_loss, recon=recon, next=nxt)
        return total, metrics, posts

    def train_step(self, batch: dict, return_states: bool = False):
        """One optimiser step on a replay batch (B, T). Returns ``{name: float}`` (stable names
        ``total, kl, kl_loss, recon, next, recon_<sense>, next_<sense>`` (next-step error over
        copy-last error), ``grad_norm, skipped``); with
        ``return_states=True`` also the detached posterior ``LatentState`` (B, T, ...).

        NaN guard: a non-finite loss or gradient is reported (``skipped = 1``) and the step is
        skipped, leaving weights and optimiser moments untouched.
        """
        self.train()
        # bf16 autocast (precision="bf16"): matmuls and convolutions in bfloat16, which tensor cores
        # run several times faster; torch keeps reductions, softmax and norms in float32 under autocast
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16"):
            total, metrics, posts = self.loss(batch)
        total = total.float()
        out = {k: float(v.detach()) for k, v in metrics.items()}
        self.optimizer.zero_grad(set_to_none=True)
        skipped = not math.isfinite(out["total"])
        if not skipped:
            total.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self.parameters(), self.config.grad_clip)
            skipped = not bool(torch.isfinite(grad_norm))
            out["grad_norm"] = float(grad_norm)
        if skipped:
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped_updates += 1
        else:
            self.optimizer.step()
            self.updates += 1
        out["skipped"] = float(skipped)
        self.eval()
        # states leave in float32 whatever the autocast computed them in (the intrinsic heads train on them)
        posts = posts._map(lambda t: t.detach().float() if t.is_floating_point() else t.detach())
        return (out, posts) if return_states else out

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self, *args, **kwargs):
        """Module weights plus ``optimizer.*`` entries and counters; plain tensors only, so the
        file loads with ``torch.load(path, weights_only=True)``."""
        sd = super().state_dict(*args, **kwargs)
        prefix = kwargs.get("prefix", "")
        sd[f"{prefix}_counters"] = torch.tensor([self.updates, self.skipped_updates])
        if self.optimizer is None:
            return sd
        opt = self.optimizer.state_dict()
        for index, moments in opt["state"].items():
            for name, value in moments.items():
                sd[f"{prefix}_optimizer.state.{index}.{name}"] = torch.as_tensor(value)
        return sd

    def load_state_dict(self, state_dict, strict: bool = True):
        sd = dict(state_dict)
        opt_entries = {k: sd.pop(k) for k in list(sd) if k.startswith("_optimizer.")}
        counters = sd.pop("_counters", None)
        result = super().load_state_dict(sd, strict=strict)
        if opt_entries and self.optimizer is not None:
            opt = self.optimizer.state_dict()
            state: dict = {}
            for key, value in opt_entries.items():
                _, _, index, name = key.split(".", 3)
                state.setdefault(int(index), {})[name] = value.to(self.device) if name != "step" else value
            opt["state"] = state
            self.optimizer.load_state_dict(opt)
        if counters is not None:
            self.updates, self.skipped_updates = int(counters[0]), int(counters[1])
        return result

    def copy_frozen(self) -> "WorldModel":
        """A deep copy without gradients (for lagged/slow copies)."""
        optimizer, self.optimizer = self.optimizer, None  # the copy never trains: no optimiser state
        try:
            clone = copy.deepcopy(self)
        finally:
            self.optimizer = optimizer
        for p in clone.parameters():
            p.requires_grad_(False)
        return clone
