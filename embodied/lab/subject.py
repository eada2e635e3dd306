"""The lab subject: the dopamine module in its tabular/linear mode, plus a striatal
selector for instrumental choices. The same rules the maze agent uses
(``embodied.brain.dopamine.rules``, ``embodied.brain.basal_ganglia.selection``), one 100 ms step at a time.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Hashable, Mapping, Sequence

import numpy as np

from embodied.brain.basal_ganglia.selection import OpponentSelector
from embodied.brain.dopamine.rules import LinearDopamine

#: config keys -> where they go
_DOPAMINE_KEYS = tuple(p for p in inspect.signature(LinearDopamine.__init__).parameters if p != "self")
_SELECTOR_KEYS = {
    "beta": "beta",
    "alpha_go": "alpha_go",
    "alpha_nogo": "alpha_nogo",
    "alpha_critic": "alpha_critic",
    "selection_rule": "rule",
    "selection_baseline": "baseline",
}
CONFIG_KEYS: tuple[str, ...] = _DOPAMINE_KEYS + tuple(_SELECTOR_KEYS)

STEP_SECONDS = 0.1


@dataclass
class SubjectOutput:
    """One step's dopamine readout."""

    rpe: float  # phasic RPE (weighted over channels)
    value: float  # V(s_t)
    tonic: float  # tonic level
    channels: dict[str, float] = field(default_factory=dict)  # per channel / head; "choice": the selector's δ


class DopamineSubject:
    """A virtual animal for conditioning protocols.

    >>> da = DopamineSubject(seed=0, alpha=0.1)
    >>> out = da.step({"light": 1.0}, reward=0.0)
    >>> out.rpe, out.value, out.tonic, out.channels

    Config keys: those of :class:`~embodied.brain.dopamine.LinearDopamine`
    (``alpha``, ``gamma``, ``lam``, ``trace``, ``representation``, ``horizon``, ``taus``,
    ``channels``, ``tonic_*``, ``precision``…) and of the selector (``beta``,
    ``alpha_go``, ``alpha_nogo``, ``alpha_critic``, ``selection_rule``,
    ``selection_baseline``).
    """

    def __init__(self, seed: int = 0, **config):
        unknown = sorted(set(config) - set(CONFIG_KEYS))
        if unknown:
            raise ValueError(f"unknown DopamineSubject config key(s) {unknown}; allowed: {', '.join(CONFIG_KEYS)}")
        self.config = dict(config)
        self.rng = np.random.default_rng(seed)
        self.dopamine = LinearDopamine(**{k: v for k, v in config.items() if k in _DOPAMINE_KEYS})
        self.selector = OpponentSelector(
            rng=self.rng, **{_SELECTOR_KEYS[k]: v for k, v in config.items() if k in _SELECTOR_KEYS}
        )
        self._choice_context: Hashable = None
        self._offered: frozenset = frozenset()

    def step(
        self, stimuli: Mapping[str, float], reward=0.0, learn: bool = True, action: Hashable | None = None
    ) -> SubjectOutput:
        """One 100 ms step: ``stimuli`` present now (name -> intensity), ``reward``
        delivered now (a float, or a dict over channels); ``learn=False`` probes.
        ``action`` names the option chosen by :meth:`choose` whose outcome this is."""
        if not isinstance(stimuli, Mapping):
            raise TypeError(f"stimuli must be a dict name -> intensity, got {type(stimuli).__name__}")
        for name, level in stimuli.items():
            if not isinstance(level, (int, float, np.floating, np.integer)):
                raise TypeError(f"stimulus {name!r} intensity must be a number, got {level!r}")
        out = self.dopamine.step(stimuli, reward, learn)
        channels = dict(out.channels)
        if action is not None:
            total = (
                reward
                if not isinstance(reward, Mapping)
                else sum(self.dopamine.weights_by_channel[c] * r for c, r in reward.items())
            )
            if learn:
                channels["choice"] = self.selector.update(
                    action, reward=float(total), context=self._choice_context, state=self._critic_state()
                )
            else:
                v = self.selector.critic.get(self._critic_state(), self.selector.initial_value)
                channels["choice"] = float(total) - v
        return SubjectOutput(out.rpe, out.value, out.tonic, channels)

    def _critic_state(self):
        """The critic values the situation: the context and the options on offer (OpAL's V(s))."""
        return (self._choice_context, self._offered)

    def end_trial(self, learn: bool = True) -> SubjectOutput:
        """Inter-trial boundary: terminal update, traces and stimulus memory cleared."""
        out = self.dopamine.end_trial(learn)
        self._choice_context = None
        return SubjectOutput(out.rpe, out.value, out.tonic, dict(out.channels))

    def choice_probabilities(self, options: Sequence[Hashable], context: Hashable = None) -> np.ndarray:
        """Softmax over β_G·G − β_N·N, with the tonic level's Go/NoGo tilt."""
        return self.selector.probabilities(list(options), context, float(self.dopamine.tonic.modulation()))

    def choose(self, options: Sequence[Hashable], context: Hashable = None) -> Hashable:
        """Instrumental choice; the next ``step(..., action=choice)`` teaches it."""
        options = list(options)
        if len(options) < 1:
            raise ValueError("choose needs at least one option")
        self._choice_context, self._offered = context, frozenset(options)
        return self.selector.choose(options, context, float(self.dopamine.tonic.modulation()))

    @property
    def tonic(self) -> float:
        return float(self.dopamine.tonic.level)
