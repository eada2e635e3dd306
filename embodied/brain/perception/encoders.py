"""Per-sense encoders and decoders of the world model.

Keys are routed by rank, as in DreamerV3: rank-3 observations (H, W, C images) go through a
CNN, rank-1 vectors through symlog and an MLP. Images are resized inside the model to
``image_size`` (area interpolation) and scaled to [0, 1]: on 2 CPU cores a 32x32 frame is
about 3.5x cheaper than 64x64 (FIELD-NOTES) and still shows walls, landmarks and doors.

symlog(x) = sign(x) * log(1 + |x|) (Hafner et al. 2023, DreamerV3): vector senses with
different units (m/s, rad, m/s^2, concentrations) come into a similar range without
hand-set statistics; decoders predict in symlog space and ``symexp`` inverts it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from embodied.brain.nets import mlp, symlog


def prepare_image(image: torch.Tensor, size: int) -> torch.Tensor:
    """(..., H, W, C) uint8 or float 0..255 -> (..., C, size, size) float in [0, 1]."""
    lead = image.shape[:-3]
    x = image.reshape(-1, *image.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.reshape(*lead, *x.shape[1:])


class ImageEncoder(nn.Module):
    """Strided 4x4 convolutions halving the image until 4x4, channels doubling from ``depth``."""

    def __init__(self, channels: int, size: int, depth: int, embed_dim: int) -> None:
        super().__init__()
        if size < 8 or size & (size - 1):
            raise ValueError(f"image_size must be a power of two >= 8, got {size}")
        stages = int(math.log2(size // 4))
        layers: list[nn.Module] = []
        in_ch, out_ch = channels, depth
        for _ in range(stages):
            layers += [nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1), nn.GroupNorm(1, out_ch), nn.SiLU()]
            in_ch, out_ch = out_ch, out_ch * 2
        self.conv = nn.Sequential(*layers)
        self.out = nn.Sequential(nn.Linear(in_ch * 16, embed_dim), nn.LayerNorm(embed_dim), nn.SiLU())
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., C, S, S) in [0, 1]
        lead = x.shape[:-3]
        h = self.conv(x.reshape(-1, *x.shape[-3:]) - 0.5)
        return self.out(h.flatten(1)).reshape(*lead, -1)


class ImageDecoder(nn.Module):
    """Mirror of ``ImageEncoder``: features -> 4x4 map -> transposed convolutions -> image in [0, 1]."""

    def __init__(self, feat_dim: int, channels: int, size: int, depth: int, offset: float = 0.5) -> None:
        super().__init__()
        self.offset = offset
        stages = int(math.log2(size // 4))
        top = depth * 2 ** (stages - 1)
        self.top = top
        self.inp = nn.Linear(feat_dim, top * 16)
        layers: list[nn.Module] = []
        ch = top
        for i in range(stages):
            last = i == stages - 1
            out_ch = channels if last else ch // 2
            layers.append(nn.ConvTranspose2d(ch, out_ch, 4, stride=2, padding=1))
            if not last:
                layers += [nn.GroupNorm(1, out_ch), nn.SiLU()]
            ch = out_ch
        self.deconv = nn.Sequential(*layers)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:  # -> (..., C, S, S), unbounded (mean of [0,1] pixels)
        lead = feat.shape[:-1]
        x = self.inp(feat.reshape(-1, feat.shape[-1])).reshape(-1, self.top, 4, 4)
        x = self.deconv(x) + self.offset
        return x.reshape(*lead, *x.shape[1:])


class VectorEncoder(nn.Module):
    """symlog then an MLP."""

    def __init__(self, dim: int, units: int, layers: int, embed_dim: int) -> None:
        super().__init__()
        self.net = mlp(dim, units, layers - 1, None) if layers > 1 else nn.Identity()
        in_dim = units if layers > 1 else dim
        self.out = nn.Sequential(nn.Linear(in_dim, embed_dim), nn.LayerNorm(embed_dim), nn.SiLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(symlog(x)))


class VectorDecoder(nn.Module):
    """MLP predicting the sense in symlog space."""

    def __init__(self, feat_dim: int, dim: int, units: int, layers: int) -> None:
        super().__init__()
        self.net = mlp(feat_dim, units, layers, dim)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.net(feat)


class ImageMotionDecoder(nn.Module):
    """Next frame as the previous frame moved: K affine warps blended by masks, plus a residual.

        theta_k      = I + A_k(x)                       (2x3 affine, x = [features, action, context])
        W_k          = grid_sample(I_prev, affine_grid(theta_k))
        m            = softmax_k(mask logits(features))  (per pixel)
        I_next - I_prev = sum_k m_k * W_k + R(features) - I_prev

    A head-fixed camera that turns shifts the image sideways; one that walks forward zooms it:
    both are warps of the last frame, which a decoder from the latent alone can only redraw
    blurred (measured on held-out mazes: the best single shift-and-zoom of the last 32x32
    frame removes 71 % of the copy-last error). This is the spatial-transformer predictor
    (STP) of Finn, Goodfellow & Levine 2016 ("Unsupervised learning for physical interaction
    through video prediction"), built on the spatial transformer of Jaderberg et al. 2015.
    Their generated-pixel channel was tried and left out: it let the model fit a screen of
    random colours, and the learning-progress signal there became several times noisier.
    All output layers start at zero, so the head starts as copy-last (identity warps,
    uniform masks, no residual). Returns the *change* from the percept, like the other
    next-step heads. ``context`` (width ``context_dim``, default none) is extra input for the
    warps only, e.g. the body's own senses: how the camera moves is a matter of the body's motion.
    """

    def __init__(
        self,
        feat_dim: int,
        action_dim: int,
        channels: int,
        size: int,
        depth: int,
        units: int,
        transforms: int,
        context_dim: int = 0,
    ) -> None:
        super().__init__()
        self.transforms = transforms
        self.theta = mlp(feat_dim + action_dim + context_dim, units, 1, 6 * transforms)
        self.canvas = ImageDecoder(feat_dim, channels + transforms, size, depth, offset=0.0)  # residual + mask logits
        self.register_buffer("identity", torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
        for layer in (self.theta[-1], self.canvas.deconv[-1]):
            nn.init.zeros_(layer.weight), nn.init.zeros_(layer.bias)

    def forward(
        self, feat: torch.Tensor, action: torch.Tensor, percept: torch.Tensor, context: torch.Tensor | None = None
    ) -> torch.Tensor:
        lead, (C, S) = feat.shape[:-1], percept.shape[-3:-1]
        n, K = lead.numel(), self.transforms
        x = torch.cat([feat, action] if context is None else [feat, action, context], -1)
        theta = self.identity + self.theta(x).reshape(n * K, 2, 3)
        frame = percept.reshape(n, C, S, S)
        frames = frame.unsqueeze(1).expand(n, K, C, S, S).reshape(n * K, C, S, S)
        grid = F.affine_grid(theta, [n * K, C, S, S], align_corners=False)
        warped = F.grid_sample(frames, grid, padding_mode="border", align_corners=False).reshape(n, K, C, S, S)
        canvas = self.canvas(feat).reshape(n, C + K, S, S)
        masks = canvas[:, C:].softmax(1).unsqueeze(2)  # (n, K, 1, S, S)
        moved = (masks * warped).sum(1) + canvas[:, :C]
        return (moved - frame).reshape(*lead, C, S, S)


class ActionTaylorDecoder(nn.Module):
    """A vector sense's next-step change, first order in the action:

        o_{t+1} - o_t = b(x) + J(x) a_t,     x = [features, percepts of the vector senses]

    At 30 Hz a step is short, so the change is nearly linear in the motor command, with a
    state-dependent Jacobian J (how a turn moves each whisker depends on where the walls are):
    a first-order Taylor expansion in a_t, as in locally linear latent dynamics (E2C, Watter
    et al. 2015). The output layer starts at zero (copy-last).
    """

    def __init__(self, in_dim: int, action_dim: int, dim: int, units: int, layers: int) -> None:
        super().__init__()
        self.dim, self.action_dim = dim, action_dim
        self.net = mlp(in_dim, units, layers, dim * (1 + action_dim))
        nn.init.zeros_(self.net[-1].weight), nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        out = self.net(x).reshape(*x.shape[:-1], 1 + self.action_dim, self.dim)
        return out[..., 0, :] + (out[..., 1:, :] * action.unsqueeze(-1)).sum(-2)
