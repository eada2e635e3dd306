"""Striatum-like opponent selection: Go (D1) and NoGo (D2) values per option in context.

OpAL, Collins & Frank (2014, Psychological Review 121:337), "Opponent actor learning":

* critic     ``V(c) ← V(c) + α_V δ``,  ``δ = r − V(c)`` (or a δ supplied by the caller)
* Go  (D1)   ``G(c,a) ← G(c,a) + α_G G(c,a) δ``
* NoGo (D2)  ``N(c,a) ← N(c,a) + α_N N(c,a) (−δ)``
* choice     ``p(a) ∝ exp(β_G G(c,a) − β_N N(c,a))``
* dopamine   ``β_G = β (1 + m)``, ``β_N = β (1 − m)`` with tonic modulation m in [−1, 1]
  — high dopamine relies on Go ("choose A"), low dopamine on NoGo ("avoid B")
  (Frank, Seeberger & O'Reilly 2004, Science 306:1940).

``rule="linear"`` swaps the Hebbian (multiplicative) actor updates for the simpler
Frank-style ``G += α_G max(δ, 0)``, ``N += α_N max(−δ, 0)``.

Options are any hashable (usually strings) and contexts any hashable; both appear when
first used and options can be added and removed at run time (module births and prunes).
The critic is keyed by context (OpAL's state value) by default, so options better than
the context's average get positive δ; ``baseline="option"`` keys it by (context, option).
"""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np

RULES = ("opal", "linear")
BASELINES = ("context", "option")


class OpponentSelector:
    """Go/NoGo actor with a critic; see the module docstring for the equations."""

    def __init__(
        self,
        alpha_critic: float = 0.1,
        alpha_go: float = 0.1,
        alpha_nogo: float = 0.1,
        beta: float = 1.0,
        rule: str = "opal",
        baseline: str = "context",
        initial_value: float = 0.0,
        initial_weight: float = 1.0,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ):
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; allowed: {', '.join(RULES)}")
        if baseline not in BASELINES:
            raise ValueError(f"unknown baseline {baseline!r}; allowed: {', '.join(BASELINES)}")
        for name, a in (("alpha_critic", alpha_critic), ("alpha_go", alpha_go), ("alpha_nogo", alpha_nogo)):
            if not 0.0 <= a <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {a}")
        self.alpha_critic, self.alpha_go, self.alpha_nogo = alpha_critic, alpha_go, alpha_nogo
        self.beta, self.rule, self.baseline = beta, rule, baseline
        self.initial_value, self.initial_weight = initial_value, initial_weight
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.critic: dict[Hashable, float] = {}
        self.go: dict[tuple[Hashable, Hashable], float] = {}
        self.nogo: dict[tuple[Hashable, Hashable], float] = {}

    # -- population ---------------------------------------------------------------------
    def add_option(
        self, option: Hashable, context: Hashable = None, go: float | None = None, nogo: float | None = None
    ) -> None:
        """Birth: a new option starts at the initial weights (or given ones, e.g. a parent's)."""
        self.go.setdefault((context, option), self.initial_weight if go is None else go)
        self.nogo.setdefault((context, option), self.initial_weight if nogo is None else nogo)

    def remove_option(self, option: Hashable) -> None:
        """Prune: forget the option in every context."""
        tables = (self.go, self.nogo, self.critic) if self.baseline == "option" else (self.go, self.nogo)
        for table in tables:  # keys there are (context, option)
            for key in [k for k in table if k[1] == option]:
                del table[key]

    def options(self, context: Hashable = None) -> list[Hashable]:
        return [o for (c, o) in self.go if c == context]

    # -- values -------------------------------------------------------------------------
    def _critic_key(self, context, option):
        return context if self.baseline == "context" else (context, option)

    def betas(self, modulation: float = 0.0) -> tuple[float, float]:
        """``(β_G, β_N) = (β(1 + m), β(1 − m))``, m clipped to [−1, 1]."""
        m = float(np.clip(modulation, -1.0, 1.0))
        return self.beta * (1.0 + m), self.beta * (1.0 - m)

    def action_values(
        self, options: Sequence[Hashable], context: Hashable = None, modulation: float = 0.0
    ) -> np.ndarray:
        """``Act(a) = β_G G(c,a) − β_N N(c,a)``."""
        if not options:
            raise ValueError("need at least one option to choose from")
        for o in options:
            self.add_option(o, context)
        beta_go, beta_nogo = self.betas(modulation)
        return np.array([beta_go * self.go[(context, o)] - beta_nogo * self.nogo[(context, o)] for o in options])

    def probabilities(
        self, options: Sequence[Hashable], context: Hashable = None, modulation: float = 0.0
    ) -> np.ndarray:
        """Softmax over ``Act``."""
        act = self.action_values(options, context, modulation)
        p = np.exp(act - act.max())
        return p / p.sum()

    def choose(self, options: Sequence[Hashable], context: Hashable = None, modulation: float = 0.0) -> Hashable:
        """Sample an option (pallidum lets the winner through)."""
        options = list(options)
        p = self.probabilities(options, context, modulation)
        return options[int(self.rng.choice(len(options), p=p))]

    # -- learning -----------------------------------------------------------------------
    def update(
        self,
        option: Hashable,
        reward: float | None = None,
        context: Hashable = None,
        delta: float | None = None,
        state: Hashable = None,
    ) -> float:
        """Learn from the outcome of ``option``; returns the δ used.

        Give ``reward`` (δ = r − V from this selector's critic, which also learns) or
        ``delta`` (an RPE from elsewhere, e.g. the agent's dopamine critics).
        ``state`` keys the critic when it should be finer than the actor's context
        (e.g. the pair of stimuli on offer, while Go/NoGo stay per option); default: context.
        """
        if (reward is None) == (delta is None):
            raise ValueError("give exactly one of reward= or delta=")
        self.add_option(option, context)
        key = self._critic_key(context if state is None else state, option)
        if delta is None:
            v = self.critic.setdefault(key, self.initial_value)
            delta = float(reward) - v
            self.critic[key] = v + self.alpha_critic * delta
        k = (context, option)
        if self.rule == "opal":
            self.go[k] = max(0.0, self.go[k] + self.alpha_go * self.go[k] * delta)
            self.nogo[k] = max(0.0, self.nogo[k] - self.alpha_nogo * self.nogo[k] * delta)
        else:
            self.go[k] += self.alpha_go * max(delta, 0.0)
            self.nogo[k] += self.alpha_nogo * max(-delta, 0.0)
        return float(delta)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Values for logging: ``{"go": {"ctx/opt": G}, "nogo": {...}, "critic": {...}}``."""
        name = lambda k: "/".join(map(str, k)) if isinstance(k, tuple) else str(k)  # noqa: E731
        return {
            "go": {name(k): v for k, v in self.go.items()},
            "nogo": {name(k): v for k, v in self.nogo.items()},
            "critic": {name(k): v for k, v in self.critic.items()},
        }
