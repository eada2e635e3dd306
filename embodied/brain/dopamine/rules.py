"""Dopamine: reward prediction errors, their learning rules and the tonic level.

One module, two modes that share the same rules:

* **deep mode** (torch, batched): the maze agent's critics call :func:`td_error`,
  :func:`lambda_returns`, :func:`expectile_loss`, :func:`precision_weighted` and
  :func:`phasic_dopamine` on tensors shaped ``[T, B, ...]`` and keeps one
  :class:`TonicDopamine` whose ``level`` has one entry per environment;
* **tabular/linear mode** (numpy, one subject): :class:`LinearDopamine` runs linear
  critics over stimulus features with eligibility traces, used by ``embodied.lab``.

Brain words -> code
-------------------
phasic dopamine     the TD error ``δ = r + γ V(s') − V(s)`` (Schultz, Dayan & Montague 1997)
eligibility trace   ``e ← γλ e + x`` (backward view) or λ-returns (forward view; Sutton 1988)
distributional DA   expectile heads with asymmetric rates α⁺/α⁻ (Dabney et al. 2020)
tonic dopamine      slow running average of reward rate (Niv, Daw, Joel & Dayan 2007)
precision           RPE divided by the critic's uncertainty (Friston et al. 2012;
                    adaptive coding: Tobler, Fiorillo & Schultz 2005)
channels            one critic per reward channel; a weight vector mixes their RPEs
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

try:  # torch is optional for the tabular mode
    import torch
except ImportError:  # pragma: no cover - torch is a project dependency
    torch = None  # type: ignore[assignment]

#: the agent's reward channels (docs/architecture.md)
REWARD_CHANNELS: tuple[str, ...] = ("prediction_success", "novelty", "coherence", "food", "effort")


# ---------------------------------------------------------------------------------------
# Shared rules (numpy arrays and torch tensors alike)
# ---------------------------------------------------------------------------------------


def td_error(reward, value, next_value, gamma: float, done=0.0):
    """Temporal-difference reward prediction error (phasic dopamine).

    ``δ = r + γ (1 − done) V(s') − V(s)``  (Sutton 1988; Schultz, Dayan & Montague 1997).

    Works element-wise on floats, numpy arrays and torch tensors (broadcasting).
    ``done`` is 1 where ``s'`` is terminal, so nothing is bootstrapped past it.
    """
    if not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    return reward + gamma * (1.0 - done) * next_value - value


def lambda_returns(rewards, values, discounts, lam: float):
    """λ-returns, the batch (forward-view) form of eligibility traces (Sutton 1988).

    ``G_t = r_t + d_t [(1 − λ) V_{t+1} + λ G_{t+1}]``,  ``G_T = V_T`` (bootstrap),
    where ``d_t = γ (1 − done_t)``.  λ = 0 gives one-step TD targets
    ``r_t + d_t V_{t+1}``; λ = 1 gives Monte-Carlo returns bootstrapped at the end.

    Args:
        rewards:   ``[T, ...]`` tensor.
        values:    ``[T + 1, ...]`` tensor, critic values of s_0 .. s_T.
        discounts: ``[T, ...]`` tensor of ``γ (1 − done)``.
        lam:       λ in [0, 1].
    Returns: ``[T, ...]`` tensor of targets (no gradient flows into them only if the
    caller detaches ``values``; we do not detach so that callers decide).
    """
    if torch is None:  # pragma: no cover
        raise RuntimeError("lambda_returns needs torch")
    if not 0.0 <= float(lam) <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam}")
    rewards, values, discounts = (
        torch.as_tensor(x, dtype=torch.float32) if not torch.is_tensor(x) else x for x in (rewards, values, discounts)
    )
    if values.shape[0] != rewards.shape[0] + 1:
        raise ValueError(f"values needs T+1={rewards.shape[0] + 1} entries along dim 0, got {values.shape[0]}")
    if discounts.shape != rewards.shape:
        raise ValueError(f"discounts shape {tuple(discounts.shape)} must equal rewards shape {tuple(rewards.shape)}")
    out = []
    ret = values[-1]
    for t in reversed(range(rewards.shape[0])):
        ret = rewards[t] + discounts[t] * ((1.0 - lam) * values[t + 1] + lam * ret)
        out.append(ret)
    return torch.stack(out[::-1])


def expectile_taus(n: int) -> np.ndarray:
    """``n`` evenly spread asymmetries τ_k = (k + ½)/n — pessimistic to optimistic."""
    if n < 1:
        raise ValueError(f"need at least one head, got n={n}")
    return (np.arange(n) + 0.5) / n


def asymmetric_rates(taus, base_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-head learning rates for positive and negative RPEs (Dabney et al. 2020).

    ``α⁺ = 2 α τ``, ``α⁻ = 2 α (1 − τ)``, so ``τ = α⁺ / (α⁺ + α⁻)`` and τ = ½ is the
    symmetric (classic) critic with rate α.
    """
    taus = np.asarray(taus, dtype=float)
    if np.any((taus <= 0) | (taus >= 1)):
        raise ValueError(f"every tau must lie strictly in (0, 1), got {taus.tolist()}")
    return 2.0 * base_rate * taus, 2.0 * base_rate * (1.0 - taus)


def expectile_update(values, target, alpha_pos, alpha_neg):
    """Tabular distributional rule: each head moves towards the target asymmetrically.

    ``δ_k = target − V_k``;  ``V_k ← V_k + α⁺_k δ_k`` if ``δ_k > 0`` else ``V_k + α⁻_k δ_k``.
    Head k converges to the τ_k = α⁺_k/(α⁺_k + α⁻_k) expectile of the target
    distribution (Dabney et al. 2020, Nature 577:671). Returns ``(new_values, δ)``.
    """
    values = np.asarray(values, dtype=float)
    delta = np.asarray(target, dtype=float) - values
    rate = np.where(delta > 0, alpha_pos, alpha_neg)
    return values + rate * delta, delta


def expectile_loss(pred, target, taus):
    """Expectile regression loss for distributional critics (torch).

    ``L = mean_k |τ_k − 1[u_k < 0]| u_k²`` with ``u_k = target − pred_k``. Its gradient
    step is exactly :func:`expectile_update` with α⁺ ∝ τ, α⁻ ∝ 1 − τ (Dabney et al. 2020;
    Rowland et al. 2019, "Statistics and samples in distributional RL").

    Args: ``pred [..., K]``, ``target [...]`` (broadcast over K; detach it yourself),
    ``taus [K]``.
    """
    taus = torch.as_tensor(taus, dtype=pred.dtype, device=pred.device)
    if pred.shape[-1] != taus.shape[-1]:
        raise ValueError(f"pred has {pred.shape[-1]} heads in its last dim but {taus.shape[-1]} taus were given")
    u = target.unsqueeze(-1) - pred
    weight = torch.abs(taus - (u < 0).to(pred.dtype))
    return (weight * u.pow(2)).mean()


def precision_weighted(delta, variance, eps: float = 1e-2):
    """Precision-weighted RPE: ``δ / sqrt(var + ε)``.

    The broadcast error is scaled by the critic's confidence (precision = 1/variance;
    Friston et al. 2012, "Dopamine, affordance and active inference"); dopamine neurons
    do rescale their responses to the spread of expected reward (Tobler, Fiorillo &
    Schultz 2005, Science 307:1642). ``variance`` can be a running RPE variance, the
    variance across ensemble members or across distributional heads
    (:func:`head_spread`). Works for numpy and torch.
    """
    if torch is not None and torch.is_tensor(variance):
        return delta / torch.sqrt(variance + eps)
    return delta / np.sqrt(np.asarray(variance) + eps)


def head_spread(values, axis: int = -1):
    """Variance across distributional heads or ensemble members (uncertainty estimate)."""
    if torch is not None and torch.is_tensor(values):
        return values.var(dim=axis, unbiased=False)
    return np.var(values, axis=axis)


def phasic_dopamine(channel_deltas: Mapping[str, Any], weights: Mapping[str, float]):
    """Mix per-channel RPEs into one phasic dopamine signal.

    ``DA = Σ_c w_c δ_c``. Returns ``(scalar, channels)`` where ``channels`` is the dict
    of per-channel RPEs (the ``rpe`` extras / ``dopamine/rpe_<channel>`` metrics).
    Channels missing from ``weights`` get weight 0 (they still appear in the dict: a
    local sub-circuit RPE routed only to some modules).
    """
    unknown = set(weights) - set(channel_deltas)
    if unknown:
        raise KeyError(f"weights name unknown channel(s) {sorted(unknown)}; channels are {sorted(channel_deltas)}")
    total = sum(weights.get(name, 0.0) * delta for name, delta in channel_deltas.items())
    return total, dict(channel_deltas)


# ---------------------------------------------------------------------------------------
# Tonic dopamine
# ---------------------------------------------------------------------------------------


class TonicDopamine:
    """Slow running average of reward rate, the tonic dopamine level.

    ``ρ ← ρ + κ (r − ρ)`` — the average reward ρ of average-reward RL; Niv, Daw, Joel &
    Dayan (2007, Psychopharmacology 191:507) argue tonic dopamine reports it and that it
    is the opportunity cost of time, so a richer world calls for faster (more vigorous)
    responding.

    ``level`` is a scalar, or an array with one entry per environment (deep mode:
    ``TonicDopamine(num_envs=B)``; ``update`` takes ``[B]`` rewards).

    The normalised signal ``m = tanh((ρ + shift − reference) / scale)`` in (−1, 1)
    drives:

    * ``vigour()`` = ``lo + (hi − lo)(1 + m)/2`` — a top-speed multiplier, monotone
      increasing in ρ (Niv et al. 2007);
    * ``temperature()`` = ``base · exp(−gain · m)`` — exploration, decreasing with ρ:
      a rich world is exploited, a poor one explored (our design choice, in the spirit
      of the opportunity-cost argument);
    * ``modulation()`` = m — the Go/NoGo tilt of :class:`~embodied.brain.selection.OpponentSelector`
      (Collins & Frank 2014: high dopamine weights Go, low weights NoGo).

    ``shift`` models a pharmacological offset (L-DOPA > 0, Parkinson's/off-meds < 0).
    """

    def __init__(
        self,
        rate: float = 0.01,
        reference: float = 0.0,
        scale: float = 1.0,
        shift: float = 0.0,
        vigour_range: tuple[float, float] = (0.5, 1.0),
        base_temperature: float = 1.0,
        temperature_gain: float = 1.0,
        num_envs: int | None = None,
        initial: float | None = None,
    ):
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"tonic rate must lie in (0, 1], got {rate}")
        if scale <= 0:
            raise ValueError(f"tonic scale must be positive, got {scale}")
        lo, hi = vigour_range
        if not 0.0 <= lo <= hi:
            raise ValueError(f"vigour_range must be (lo, hi) with 0 <= lo <= hi, got {vigour_range}")
        self.rate, self.reference, self.scale, self.shift = rate, reference, scale, shift
        self.vigour_range = (lo, hi)
        self.base_temperature, self.temperature_gain = base_temperature, temperature_gain
        start = reference if initial is None else initial
        self.level = float(start) if num_envs is None else np.full(num_envs, float(start))

    def update(self, reward):
        """One step: ``ρ ← ρ + κ (r − ρ)``; returns the new level."""
        if isinstance(self.level, np.ndarray):
            self.level = self.level + self.rate * (np.asarray(reward, dtype=float) - self.level)
        else:
            self.level = self.level + self.rate * (float(reward) - self.level)
        return self.level

    def reset(self, env_ids=None):
        """Back to the reference level (all envs, or only ``env_ids`` in deep mode)."""
        if isinstance(self.level, np.ndarray) and env_ids is not None:
            self.level[np.asarray(env_ids)] = self.reference
        elif isinstance(self.level, np.ndarray):
            self.level[:] = self.reference
        else:
            self.level = float(self.reference)

    def modulation(self):
        """``m = tanh((ρ + shift − reference) / scale)`` in (−1, 1)."""
        return np.tanh((self.level + self.shift - self.reference) / self.scale)

    def vigour(self):
        """Top-speed multiplier in ``vigour_range``, increasing with the level."""
        lo, hi = self.vigour_range
        return lo + (hi - lo) * (1.0 + self.modulation()) / 2.0

    def temperature(self):
        """Exploration temperature, decreasing with the level."""
        return self.base_temperature * np.exp(-self.temperature_gain * self.modulation())


# ---------------------------------------------------------------------------------------
# Stimulus timing representations (tabular mode)
# ---------------------------------------------------------------------------------------

REPRESENTATIONS: tuple[str, ...] = ("csc", "microstimuli", "presence")


class StimulusFeatures:
    """Turns the stimuli present each step into a feature vector.

    * ``"csc"`` complete serial compound: one feature per (stimulus, steps since its
      onset) for 0 .. horizon−1; the element keeps running after offset as a memory
      trace until the horizon or the trial boundary (Sutton & Barto 1990; Schultz,
      Dayan & Montague 1997).
    * ``"microstimuli"``: a decaying memory trace ``y = decay^t`` read out by ``n``
      Gaussian basis functions ``y · exp(−(y − μ_i)² / 2σ²)`` with μ_i evenly spaced
      in (0, 1] (Ludvig, Sutton & Kehoe 2008, Neural Computation 20:3034).
    * ``"presence"``: 1 while the stimulus is on. With delay conditioning the cue's
      offset marks the reward time, so an omitted reward still gives a dip then.

    Stimuli are discovered as they appear; each gets its own block of features.
    """

    def __init__(
        self,
        representation: Sequence[str] = ("csc",),
        horizon: int = 30,
        n_microstimuli: int = 8,
        trace_decay: float = 0.9,
        sigma: float = 0.08,
    ):
        if isinstance(representation, str):
            representation = (representation,)
        bad = [r for r in representation if r not in REPRESENTATIONS]
        if bad or not representation:
            raise ValueError(f"unknown representation {bad or representation!r}; allowed: {', '.join(REPRESENTATIONS)}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1 step, got {horizon}")
        self.representation = tuple(representation)
        self.horizon, self.n_micro = int(horizon), int(n_microstimuli)
        self.trace_decay, self.sigma = float(trace_decay), float(sigma)
        self.centres = np.linspace(1.0, 0.0, self.n_micro, endpoint=False)[::-1] if self.n_micro else np.zeros(0)
        self.block = (
            ("csc" in self.representation) * self.horizon
            + ("microstimuli" in self.representation) * self.n_micro
            + ("presence" in self.representation) * 1
        )
        self.stimuli: list[str] = []  # discovery order -> block index
        self._since_onset: dict[str, int] = {}
        self._was_on: set[str] = set()

    @property
    def size(self) -> int:
        return self.block * len(self.stimuli)

    def reset(self) -> None:
        """Trial boundary: memory traces end."""
        self._since_onset.clear()
        self._was_on.clear()

    def __call__(self, stimuli: Mapping[str, float]) -> np.ndarray:
        for name in stimuli:
            if name not in self.stimuli:
                self.stimuli.append(name)
        on = {name for name, level in stimuli.items() if level > 0}
        for name in list(self._since_onset):
            self._since_onset[name] += 1
            if self._since_onset[name] >= self.horizon and name not in on:
                del self._since_onset[name]
        for name in on - self._was_on:  # onsets restart the clock
            self._since_onset[name] = 0
        self._was_on = on
        x = np.zeros(self.size)
        for i, name in enumerate(self.stimuli):
            base, t = i * self.block, self._since_onset.get(name)
            intensity = float(stimuli.get(name, 0.0)) if name in on else 1.0
            if "csc" in self.representation:
                if t is not None and t < self.horizon:
                    x[base + t] = intensity
                base += self.horizon
            if "microstimuli" in self.representation:
                if t is not None:
                    y = self.trace_decay**t
                    x[base : base + self.n_micro] = y * np.exp(-((y - self.centres) ** 2) / (2 * self.sigma**2))
                base += self.n_micro
            if "presence" in self.representation:
                x[base] = float(stimuli.get(name, 0.0)) if name in on else 0.0
        return x


# ---------------------------------------------------------------------------------------
# Tabular / linear mode
# ---------------------------------------------------------------------------------------

TRACE_KINDS = ("accumulating", "replacing")


@dataclass
class DopamineOutput:
    """What one step of :class:`LinearDopamine` reports."""

    rpe: float  # phasic dopamine: weighted sum of channel RPEs
    value: float  # weighted sum of channel values V(s_t)
    tonic: float  # tonic level after this step
    channels: dict[str, float] = field(default_factory=dict)  # per channel and per head


class LinearDopamine:
    """Linear TD(λ) critics over stimulus features, one per reward channel, each with a
    symmetric (mean) head plus optional distributional expectile heads; a tonic level.

    Per step t with features x_t and reward vector r_t, for channel c and head k
    (head 0 the mean critic, τ = ½):

    * ``δ_{c,k} = r_{c,t} + γ w_{c,k}·x_t − w_{c,k}·x_{t−1}``   (Schultz, Dayan & Montague 1997)
    * ``e ← γλ e + x_{t−1}`` (accumulating) or ``e ← max(γλ e, x_{t−1})`` (replacing)
      — the backward view of TD(λ) (Sutton 1988; Singh & Sutton 1996)
    * ``w_{c,k} ← w_{c,k} + α_{k}^{sign δ} δ_{c,k} e``  with α⁺ = 2ατ, α⁻ = 2α(1−τ)
      (Dabney et al. 2020)
    * phasic DA ``= Σ_c weight_c δ_{c,0}``, optionally precision-weighted by a running
      RPE variance (``precision=True``: ``δ / sqrt(var + ε)``, Tobler et al. 2005); the
      critics always learn from the raw δ.
    * tonic ``ρ ← ρ + κ (Σ_c weight_c r_c − ρ)`` (Niv et al. 2007).

    ``end_trial()`` is a terminal transition: ``δ = 0 − V(x_last)`` is learned, then
    traces and stimulus memory are cleared.
    """

    def __init__(
        self,
        channels: Mapping[str, float] | Sequence[str] = ("reward",),
        taus: Sequence[float] = (),
        alpha: float = 0.1,
        gamma: float = 0.98,
        lam: float = 0.9,
        trace: str = "accumulating",
        representation: Sequence[str] = ("csc",),
        horizon: int = 30,
        n_microstimuli: int = 8,
        tonic_rate: float = 0.01,
        tonic_reference: float = 0.0,
        tonic_scale: float = 1.0,
        tonic_shift: float = 0.0,
        precision: bool = False,
        precision_rate: float = 0.05,
        precision_eps: float = 1e-2,
    ):
        if isinstance(channels, str):
            channels = (channels,)
        self.weights_by_channel = dict(channels) if isinstance(channels, Mapping) else {c: 1.0 for c in channels}
        if not self.weights_by_channel:
            raise ValueError("need at least one reward channel")
        if trace not in TRACE_KINDS:
            raise ValueError(f"unknown trace {trace!r}; allowed: {', '.join(TRACE_KINDS)}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
        if not 0.0 <= lam <= 1.0 or not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma and lam must lie in [0, 1], got gamma={gamma}, lam={lam}")
        self.channel_names = list(self.weights_by_channel)
        self.taus = np.concatenate([[0.5], np.asarray(taus, dtype=float)])
        self.alpha_pos, self.alpha_neg = asymmetric_rates(self.taus, alpha)
        self.alpha, self.gamma, self.lam, self.trace = alpha, gamma, lam, trace
        self.features = StimulusFeatures(representation, horizon, n_microstimuli)
        self.tonic = TonicDopamine(rate=tonic_rate, reference=tonic_reference, scale=tonic_scale, shift=tonic_shift)
        self.precision, self.precision_rate, self.precision_eps = precision, precision_rate, precision_eps
        n_c, n_k = len(self.channel_names), len(self.taus)
        self.w = np.zeros((n_c, n_k, 0))  # [channel, head, feature]
        self.e = np.zeros(0)  # eligibility trace over features
        self.rpe_variance = np.ones(n_c)  # running E[δ²] per channel (precision)
        self._x_prev = np.zeros(0)

    # -- helpers ------------------------------------------------------------------------
    def _grow(self, n: int) -> None:
        extra = n - self.w.shape[2]
        if extra > 0:
            self.w = np.concatenate([self.w, np.zeros(self.w.shape[:2] + (extra,))], axis=2)
            self.e = np.concatenate([self.e, np.zeros(extra)])
            self._x_prev = np.concatenate([self._x_prev, np.zeros(extra)])

    def _rewards(self, reward) -> np.ndarray:
        if isinstance(reward, Mapping):
            unknown = set(reward) - set(self.channel_names)
            if unknown:
                raise KeyError(f"unknown reward channel(s) {sorted(unknown)}; channels are {self.channel_names}")
            return np.array([float(reward.get(c, 0.0)) for c in self.channel_names])
        if len(self.channel_names) != 1:
            raise ValueError(f"a scalar reward needs exactly one channel; give a dict over {self.channel_names}")
        return np.array([float(reward)])

    def values(self, x: np.ndarray) -> np.ndarray:
        """``V[channel, head] = w·x``."""
        return self.w @ x

    def _learn(self, delta: np.ndarray, x_prev: np.ndarray) -> None:
        decay = self.gamma * self.lam
        self.e = np.maximum(decay * self.e, x_prev) if self.trace == "replacing" else decay * self.e + x_prev
        rate = np.where(delta > 0, self.alpha_pos[None, :], self.alpha_neg[None, :])  # [C, K]
        self.w += (rate * delta)[:, :, None] * self.e[None, None, :]

    def _report(self, delta: np.ndarray, v_now: np.ndarray, learn: bool) -> DopamineOutput:
        weights = np.array([self.weights_by_channel[c] for c in self.channel_names])
        broadcast = delta[:, 0]
        channels: dict[str, float] = {}
        if self.precision:
            if learn:
                self.rpe_variance += self.precision_rate * (broadcast**2 - self.rpe_variance)
            broadcast = precision_weighted(broadcast, self.rpe_variance, self.precision_eps)
        for ci, name in enumerate(self.channel_names):
            channels[name] = float(broadcast[ci])
            for ki in range(1, len(self.taus)):
                channels[f"{name}/tau={self.taus[ki]:.2f}"] = float(delta[ci, ki])
        rpe, _ = phasic_dopamine({c: channels[c] for c in self.channel_names}, self.weights_by_channel)
        return DopamineOutput(
            rpe=float(rpe), value=float(weights @ v_now[:, 0]), tonic=float(self.tonic.level), channels=channels
        )

    # -- the step -----------------------------------------------------------------------
    def step(self, stimuli: Mapping[str, float], reward=0.0, learn: bool = True) -> DopamineOutput:
        """One 100 ms step: stimuli present now, reward delivered now."""
        x = self.features(stimuli)
        self._grow(x.size)
        r = self._rewards(reward)
        v_prev, v_now = self.values(self._x_prev), self.values(x)
        delta = td_error(r[:, None], v_prev, v_now, self.gamma)  # [C, K]
        if learn:
            self._learn(delta, self._x_prev)
            self.tonic.update(float(np.dot([self.weights_by_channel[c] for c in self.channel_names], r)))
        out = self._report(delta, v_now, learn)
        self._x_prev = x
        return out

    def end_trial(self, learn: bool = True) -> DopamineOutput:
        """Terminal transition (``δ = −V(x_last)``), then clear traces and memory."""
        v_prev = self.values(self._x_prev)
        delta = td_error(np.zeros((len(self.channel_names), 1)), v_prev, 0.0, self.gamma, done=1.0)
        if learn:
            self._learn(delta, self._x_prev)
        out = self._report(delta, np.zeros_like(v_prev), learn)
        self.features.reset()
        self.e[:] = 0.0
        self._x_prev = np.zeros_like(self._x_prev)
        return out

    def head_values(self, stimuli_sequence: Sequence[Mapping[str, float]]) -> np.ndarray:
        """Values ``[time, channel, head]`` along a stimulus sequence, without learning
        (the feature memory is saved and restored)."""
        saved = (dict(self.features._since_onset), set(self.features._was_on))
        self.features.reset()
        out = []
        for stim in stimuli_sequence:
            x = self.features(stim)
            self._grow(x.size)
            out.append(self.values(x))
        self.features._since_onset, self.features._was_on = saved
        return np.array(out)
