"""Pathways: a population of policy modules with striatal selection and structural plasticity.

Brain words -> code
-------------------
cortex proposes        each module proposes an action: an innate reflex program reading the
                       whiskers (``reflexes.make_program``) or a learned Gaussian actor reading the
                       world model's latent features (``GaussianActor``)
striatal context       a locality-sensitive hash of the latent (signs of ``bits`` fixed random
                       projections, Charikar 2002): nearby latent states share a context, so
                       Go/NoGo values generalise, and 2^bits contexts keep the tables small
                       enough to learn in a few thousand steps
striatum / pallidum    Go (D1) and NoGo (D2) values per (context, module) in
                       :class:`~embodied.brain.selection.OpponentSelector` (OpAL, Collins &
                       Frank 2014); softmax over β_G·G − β_N·N with β scaled by 1/temperature;
                       tonic dopamine's modulation m tilts β_G = β(1 + m), β_N = β(1 − m)
motor program          a selected module keeps control for ``option_steps`` steps (an option)
local reward           each module kind receives its own mix of channel RPEs (routing matrix):
                       ``r_module = Σ_c routing[kind][c] · δ̄_c`` (δ̄: mean over the option); it
                       trains the module's own actor (``route``)
option RPE             selection's outcome is the option's mean *global* phasic RPE
                       ``r = Σ_c w_c δ̄_c`` (the agent passes it as a float: one currency for every
                       module); OpAL's own step on it: ``δ = r − V(context)``, with the
                       context critic ``V(c) ← V(c) + α_V δ``. A young dopamine critic lags (every
                       early RPE is positive while it learns the return scale); the context
                       baseline removes that common bias, so a module is reinforced for being
                       better than what is usual *here*
structural plasticity  each module's strength s is a running average of its credit when it is
                       selected, ``s ← s + η (1 + g·δ − s)`` (δ the option RPE above), and decays when unused, ``s ← s · decay^steps``; modules with
                       s < prune_threshold are pruned (never below ``min_modules``, and never
                       an innate reflex: the genome's repertoire stays; its copies may go), modules
                       with s > spawn_threshold spawn a copy with Gaussian-perturbed weights
                       (never beyond ``max_modules``) and share their strength with it —
                       "copy the best performers and let the copies vary"

Innate reflexes (``embodied.brain.basal_ganglia.reflexes``) are honest biology (a newborn rat already runs,
turns away from a touched whisker and hugs walls) and give exploration something to select
among on a CPU budget; they read only the observation, and which of them acts, where, is
learned from dopamine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from embodied.brain.basal_ganglia.averaging import WeightAverage, restore
from embodied.brain.basal_ganglia.config import BasalGangliaConfig
from embodied.brain.basal_ganglia.mirror import Mirror
from embodied.brain.basal_ganglia.reflexes import ReflexProgram, make_program
from embodied.brain.basal_ganglia.selection import OpponentSelector
from embodied.brain.nets import mlp

MODULE_KINDS = ("forward", "turn", "wall_follow", "chemotaxis", "explorer", "forager", "motor")
REFLEX_KINDS = ("forward", "turn", "wall_follow", "chemotaxis")


def base_name(name: str) -> str:
    return name.split("#", 1)[0]


def kind_of(name: str) -> str:
    """``turn_left#3`` -> ``turn``; ``wall_follow_right#1`` -> ``wall_follow``; ``explorer#2`` -> ``explorer``."""
    base = base_name(name)
    if base.startswith("turn"):
        return "turn"
    return "wall_follow" if base.startswith("wall_follow") else base


class GaussianActor(nn.Module):
    """A learned cortical module: latent features -> N(μ, σ) over the 3 action dims. With a
    ``mirror`` (``actor_mirror_symmetric``) the mean is mirror-equivariant,
    ``μ(s) = tanh(½ [f(s) + M_a f(M_s s)])`` (``mirror.py``)."""

    def __init__(self, feature_dim: int, units: int, action_dim: int = 3, mirror: Mirror | None = None):
        super().__init__()
        self.net = mlp(feature_dim, units, 2, action_dim)
        nn.init.uniform_(self.net[-1].weight, -1e-3, 1e-3)
        self.log_std = nn.Parameter(torch.full((action_dim,), -0.5))
        self.mirror = mirror

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.net(features)
        if self.mirror is not None:
            raw = 0.5 * (raw + self.mirror.actions(self.net(self.mirror.inputs(features))))
        return torch.tanh(raw), self.log_std.clamp(-3.0, 1.0).exp()

    def log_prob(self, features: torch.Tensor, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = self(features)
        dist = torch.distributions.Normal(mean, std)
        return dist.log_prob(raw).sum(-1), dist.entropy().sum(-1)


@dataclass
class Module:
    """One pathway: its program, its lineage and its reinforcement strength."""

    name: str
    kind: str
    parent: str = ""
    strength: float = 1.0
    selections: int = 0
    born: int = 0
    reflex: ReflexProgram | None = None
    actor: GaussianActor | None = None
    optimizer: torch.optim.Optimizer | None = field(default=None, repr=False)
    average: WeightAverage | None = field(default=None, repr=False)  # θ̄ (``actor_average``)


@dataclass(frozen=True)
class PlasticityConfig:
    """The structural-plasticity knobs of ``brain.basal_ganglia`` (no defaults of its own:
    :meth:`from_config` reads them from :class:`BasalGangliaConfig`, their one source)."""

    enabled: bool
    strength_rate: float
    strength_gain: float
    strength_decay: float
    prune_threshold: float
    spawn_threshold: float
    mutation_std: float
    min_modules: int
    max_modules: int
    min_age: int

    @classmethod
    def from_config(cls, cfg: BasalGangliaConfig) -> "PlasticityConfig":
        return cls(
            enabled=cfg.plasticity,
            strength_rate=cfg.strength_rate,
            strength_gain=cfg.strength_gain,
            strength_decay=cfg.strength_decay,
            prune_threshold=cfg.prune_threshold,
            spawn_threshold=cfg.spawn_threshold,
            mutation_std=cfg.mutation_std,
            min_modules=cfg.min_modules,
            max_modules=cfg.max_modules,
            min_age=cfg.min_age,
        )


def starting_modules(cfg: BasalGangliaConfig) -> list[str]:
    """``initial_modules``, without the reflex kinds when ``innate_reflexes`` is false (a newborn
    without reflexes: everything it does must be learned)."""
    return [m for m in cfg.initial_modules if cfg.innate_reflexes or kind_of(m) not in REFLEX_KINDS]


class PathwayPopulation:
    """The module population, its Go/NoGo selector and its births and prunes, built from the
    ``brain.basal_ganglia`` section (starting modules, routing, context bits, selector and actor
    knobs, plasticity). ``scalar``: one scalar RPE reaches every module as is (no routing).
    Contexts hash the latent (``feature_dim``); actors read ``actor_input_dim`` numbers (the latent,
    then any senses of ``actor_senses``), mirror-equivariant when a ``mirror`` is given."""

    def __init__(
        self,
        feature_dim: int,
        cfg: BasalGangliaConfig,
        rng: np.random.Generator,
        device="cpu",
        scalar: bool = False,
        actor_input_dim: int | None = None,
        mirror: Mirror | None = None,
    ):
        self.feature_dim, self.routing, self.rng, self.device = feature_dim, cfg.routing, rng, device
        self.actor_input_dim = feature_dim if actor_input_dim is None else actor_input_dim  # latent (⊕ senses)
        self.plasticity = PlasticityConfig.from_config(cfg)
        self.actor_units, self.actor_lr, self.scalar = cfg.actor_units, cfg.actor_lr, scalar
        self.actor_bias_std, self.actor_average = cfg.actor_bias_std, cfg.actor_average  # τ 0: no θ̄ kept
        self.mirror = mirror  # shared by every actor: mirror-equivariant means (None: plain MLPs)
        self.beta = cfg.selector_beta
        bits = cfg.context_bits
        self.projection = rng.normal(size=(feature_dim, bits)) if bits > 0 else np.zeros((feature_dim, 0))
        self.selector = OpponentSelector(
            alpha_critic=cfg.selector_baseline_rate,
            alpha_go=cfg.selector_alpha,
            alpha_nogo=cfg.selector_alpha,
            beta=cfg.selector_beta,
            rule="opal",
            rng=rng,
        )
        self.modules: dict[str, Module] = {}
        self.next_id = 0
        self.births = self.prunes = 0
        self.events: list[tuple[int, str, str, str, float]] = []  # (step, event, module, parent, strength)
        for base in starting_modules(cfg):
            self._add(self._new_module(base, born=0), step=0, log=True)

    # -- population -------------------------------------------------------------------------
    def _new_module(self, base: str, born: int, parent: Module | None = None) -> Module:
        name = f"{base}#{self.next_id}"
        self.next_id += 1
        kind = kind_of(base)
        module = Module(name=name, kind=kind, parent=parent.name if parent else "", born=born)
        if kind in REFLEX_KINDS:
            module.reflex = make_program(base, parent.reflex.params if parent else None)
        else:
            module.actor = GaussianActor(self.actor_input_dim, self.actor_units, mirror=self.mirror).to(self.device)
            if parent is not None:
                module.actor.load_state_dict(parent.actor.state_dict())
            elif self.actor_bias_std > 0:  # motor babbling: this newborn module's own mean action
                bias = self.rng.normal(0.0, self.actor_bias_std, module.actor.net[-1].bias.shape)
                with torch.no_grad():
                    module.actor.net[-1].bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
            module.average = WeightAverage.of(module.actor) if self.actor_average > 0 else None
            module.optimizer = torch.optim.Adam(module.actor.parameters(), lr=self.actor_lr, eps=1e-6)
        return module

    def average_weights(self, name: str) -> None:
        """After an update of ``name``'s actor: its averaged weights follow (``averaging.py``)."""
        if (average := self.modules[name].average) is not None:
            average.update(self.modules[name].actor, self.actor_average)

    def _add(self, module: Module, step: int, log: bool) -> None:
        self.modules[module.name] = module
        if log:
            self.events.append((step, "birth", module.name, module.parent, module.strength))

    @property
    def names(self) -> list[str]:
        return list(self.modules)

    def __len__(self) -> int:
        return len(self.modules)

    # -- context and selection ----------------------------------------------------------------
    def context(self, features: np.ndarray) -> np.ndarray:
        """LSH context per row: the integer whose bits are the signs of the projections."""
        bits = (np.asarray(features) @ self.projection) > 0
        return (bits * (1 << np.arange(bits.shape[-1]))).sum(-1).astype(np.int64)

    def probabilities(self, context: int, modulation: float = 0.0, temperature: float = 1.0) -> np.ndarray:
        self.selector.beta = self.beta / max(float(temperature), 1e-3)
        return self.selector.probabilities(self.names, int(context), float(modulation))

    def choose(self, context: int, modulation: float = 0.0, temperature: float = 1.0) -> str:
        """Pallidum: sample a module with p ∝ exp(β_G G − β_N N) at this temperature."""
        self.selector.beta = self.beta / max(float(temperature), 1e-3)
        return self.selector.choose(self.names, int(context), float(modulation))

    def route(self, name: str, channel_rpe: dict[str, float]) -> float:
        """The RPE that reaches a module: its kind's weighted mix of the channels (scalar: as is)."""
        if self.scalar:
            return float(sum(channel_rpe.values()))
        weights = self.routing[self.modules[name].kind if name in self.modules else kind_of(name)]
        return float(sum(weights.get(c, 0.0) * float(v) for c, v in channel_rpe.items()))

    # -- acting ------------------------------------------------------------------------------
    def act(
        self, name: str, obs: dict, features: np.ndarray, t: np.ndarray, noise: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Actions ``[n, 3]`` of module ``name`` for n rows, and the raw Gaussian samples (actors):
        ``raw = μ(f) + σ ⊙ ε`` with ε the given standard-normal ``noise [n, 3]`` (fresh white
        noise when None)."""
        module = self.modules[name]
        if module.reflex is not None:
            action = module.reflex.act(obs, t, self.rng)
            return action, action.copy()
        with torch.no_grad():
            mean, std = module.actor(torch.as_tensor(features, dtype=torch.float32, device=self.device))
        eps = self.rng.standard_normal(mean.shape) if noise is None else noise
        raw = mean.cpu().numpy() + std.cpu().numpy() * eps
        return np.clip(raw, -1, 1).astype(np.float32), raw.astype(np.float32)

    # -- learning ----------------------------------------------------------------------------
    def reinforce(self, name: str, context: int, channel_rpe: dict[str, float] | float, step: int = 0) -> float:
        """End of an option: Go/NoGo learn from the option's RPE, the strength from the credit.

        ``channel_rpe`` is the option's outcome: a float (the agent passes the global phasic RPE)
        or a per-channel dict, then routed by the module's kind. The outcome (clipped to [−1, 1],
        the range OpAL's multiplicative rule tolerates) minus the context critic is the δ that
        moves Go (δ > 0) or NoGo (δ < 0). Returns δ.
        """
        if name not in self.modules:
            return 0.0
        routed = float(channel_rpe) if not isinstance(channel_rpe, dict) else self.route(name, channel_rpe)
        routed = float(np.clip(routed, -1.0, 1.0))
        delta = self.selector.update(name, reward=routed, context=int(context))
        module = self.modules[name]
        module.selections += 1
        p = self.plasticity
        module.strength += p.strength_rate * (1.0 + p.strength_gain * delta - module.strength)
        self.events.append((step, "select", name, module.parent, module.strength))
        return delta

    def tick(self, step: int, active: set[str], n_steps: int) -> None:
        """``n_steps`` passed: unused modules decay; then prune the weak and copy the strong."""
        p = self.plasticity
        for module in self.modules.values():
            if module.name not in active:
                module.strength *= p.strength_decay**n_steps
        if not p.enabled:
            return
        for module in sorted(self.modules.values(), key=lambda m: m.strength):
            if len(self.modules) <= p.min_modules:
                break
            innate = module.reflex is not None and not module.parent  # the genome's repertoire stays
            if module.strength < p.prune_threshold and step - module.born >= p.min_age and not innate:
                self.prune(module.name, step)
        for module in sorted(self.modules.values(), key=lambda m: -m.strength):
            if len(self.modules) >= p.max_modules:
                break
            if module.strength > p.spawn_threshold and step - module.born >= p.min_age:
                self.spawn(module.name, step)

    def prune(self, name: str, step: int) -> None:
        module = self.modules.pop(name)
        self.selector.remove_option(name)
        self.prunes += 1
        self.events.append((step, "prune", name, module.parent, module.strength))

    def spawn(self, name: str, step: int) -> str:
        """Copy a module, perturb the copy (Gaussian noise), split the parent's strength."""
        parent = self.modules[name]
        child = self._new_module(base_name(name), born=step, parent=parent)
        std = self.plasticity.mutation_std
        if child.reflex is not None:
            child.reflex.params = child.reflex.params + self.rng.normal(0.0, std, child.reflex.params.shape)
        else:
            with torch.no_grad():
                for param in child.actor.parameters():
                    noise = self.rng.normal(0.0, std, tuple(param.shape))
                    param.add_(torch.as_tensor(noise, dtype=param.dtype, device=param.device))
            child.average = WeightAverage.of(child.actor) if self.actor_average > 0 else None
        parent.strength /= 2.0
        child.strength = parent.strength
        for (ctx, option), go in list(self.selector.go.items()):  # the copy inherits its parent's striatal values
            if option == name:
                self.selector.add_option(child.name, ctx, go=go, nogo=self.selector.nogo[(ctx, option)])
        self._add(child, step, log=True)
        self.births += 1
        return child.name

    def actors(self) -> dict[str, Module]:
        return {n: m for n, m in self.modules.items() if m.actor is not None}

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Plain tensors, numbers, strings, lists and dicts only (``torch.load(weights_only=True)``)."""
        modules = []
        for m in self.modules.values():
            modules.append(
                {
                    "name": m.name,
                    "kind": m.kind,
                    "parent": m.parent,
                    "strength": float(m.strength),
                    "selections": int(m.selections),
                    "born": int(m.born),
                    "reflex": m.reflex.params.tolist() if m.reflex is not None else None,
                    "actor": m.actor.state_dict() if m.actor is not None else None,
                    "optimizer": m.optimizer.state_dict() if m.optimizer is not None else None,
                    **(m.average.entry() if m.average is not None else {"average": None, "updates": 0}),
                }
            )
        table = lambda t: [[int(c), str(o), float(v)] for (c, o), v in t.items()]  # noqa: E731
        return {
            "modules": modules,
            "go": table(self.selector.go),
            "nogo": table(self.selector.nogo),
            "critic": [[int(c), float(v)] for c, v in self.selector.critic.items()],
            "projection": torch.as_tensor(self.projection),
            "next_id": self.next_id,
            "births": self.births,
            "prunes": self.prunes,
        }

    def load_state_dict(self, state: dict, acting: bool = False) -> None:
        """Restore the population. ``acting``: a policy that only acts (evaluation, videos); with
        ``actor_average`` > 0 its actors take the averaged weights θ̄ where the checkpoint has them
        (older checkpoints, or ``actor_average`` = 0: the live weights θ)."""
        self.modules = {}
        for entry in state["modules"]:
            m = Module(
                name=entry["name"],
                kind=entry["kind"],
                parent=entry["parent"],
                strength=entry["strength"],
                selections=entry["selections"],
                born=entry["born"],
            )
            if entry["reflex"] is not None:
                m.reflex = make_program(base_name(m.name), entry["reflex"])
            else:
                m.actor = GaussianActor(self.actor_input_dim, self.actor_units, mirror=self.mirror).to(self.device)
                m.average = restore(entry, m.actor, self.actor_average, acting, self.device)
                m.optimizer = torch.optim.Adam(m.actor.parameters(), lr=self.actor_lr, eps=1e-6)
                if entry["optimizer"] is not None:
                    m.optimizer.load_state_dict(entry["optimizer"])
            self.modules[m.name] = m
        self.selector.go = {(int(c), o): float(v) for c, o, v in state["go"]}
        self.selector.nogo = {(int(c), o): float(v) for c, o, v in state["nogo"]}
        self.selector.critic = {int(c): float(v) for c, v in state["critic"]}
        self.projection = state["projection"].cpu().numpy()
        self.next_id, self.births, self.prunes = int(state["next_id"]), int(state["births"]), int(state["prunes"])
        self.events = []


def finite(x: float) -> bool:
    return math.isfinite(float(x))
