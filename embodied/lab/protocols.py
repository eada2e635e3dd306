"""Classic dopamine experiments, each a function ``run_<name>(seed, alpha) -> ProtocolResult``.

Time is in 100 ms steps. A Pavlovian trial is: a random inter-trial interval with no
stimuli (so cue onsets cannot be predicted), the cue for ``DELAY`` steps, the reward on
the step the cue goes off, a few empty steps, then ``end_trial()``.

Every protocol states its pass criterion and source in ``PROTOCOLS`` (and docs/lab.md);
``passed`` is computed from the measured numbers, never set by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.stats import spearmanr

from embodied.lab.subject import DopamineSubject

DELAY = 10  # cue-reward interval: 1 s
ITI = (5, 16)  # random pre-cue interval: 0.5-1.5 s
POST = 3  # empty steps after the reward
STEP_SECONDS_LABEL = "time from cue onset (s)"


@dataclass
class ProtocolResult:
    name: str
    passed: bool
    metrics: dict[str, float]
    checks: dict[str, bool]
    rows: list[dict] = field(default_factory=list)  # per-step trace
    data: dict = field(default_factory=dict)  # what the figure draws


class Recorder:
    """Collects per-step rows for the CSV trace (only when asked: tests skip it)."""

    def __init__(self, enabled: bool = True):
        self.enabled, self.rows = enabled, []

    def add(self, phase, trial, step, stimuli, reward, out, **extra):
        if self.enabled:
            row = {
                "phase": phase,
                "trial": trial,
                "step": step,
                "stimuli": ";".join(f"{k}={v:g}" for k, v in stimuli.items() if v > 0),
                "reward": reward,
                "rpe": out.rpe,
                "value": out.value,
                "tonic": out.tonic,
            }
            row.update({f"ch:{k}": v for k, v in out.channels.items()})
            row.update(extra)
            self.rows.append(row)


def pavlovian_trial(
    da: DopamineSubject,
    rng: np.random.Generator,
    cues: Sequence[str],
    reward: float,
    learn: bool = True,
    rec: Recorder | None = None,
    phase: str = "",
    trial: int = 0,
    delay: int = DELAY,
) -> dict[str, float]:
    """Run one trial; returns the RPE at cue onset (``cue``), at the (expected) reward
    time (``reward``, on rewarded and omitted trials alike) and the full RPE list."""
    rpes, channels, step = [], [], 0

    def one(stimuli, r):
        nonlocal step
        out = da.step(stimuli, r, learn)
        if rec is not None:
            rec.add(phase, trial, step, stimuli, r, out)
        rpes.append(out.rpe)
        channels.append(out.channels)
        step += 1

    for _ in range(int(rng.integers(*ITI))):
        one({}, 0.0)
    onset = len(rpes)
    for _ in range(delay if cues else 0):
        one({c: 1.0 for c in cues}, 0.0)
    at_reward = len(rpes)
    one({}, reward)
    for _ in range(POST):
        one({}, 0.0)
    da.end_trial(learn)
    return {
        "cue": rpes[onset] if cues else 0.0,
        "reward": rpes[at_reward],
        "rpes": rpes,
        "onset": onset,
        "at_reward": at_reward,
        "reward_channels": channels[at_reward],
    }


# ---------------------------------------------------------------------------------------
def run_schultz(seed: int = 0, alpha: float = 0.1, record: bool = False, n_train: int = 150) -> ProtocolResult:
    """Schultz, Dayan & Montague 1997: the burst moves from reward to cue; omission dips."""
    da, rng, rec = DopamineSubject(seed=seed, alpha=alpha), np.random.default_rng(seed), Recorder(record)
    before = [pavlovian_trial(da, rng, [], 1.0, rec=rec, phase="unexpected", trial=i) for i in range(5)]
    first = pavlovian_trial(da, rng, ["light"], 1.0, rec=rec, phase="training", trial=0)
    for i in range(1, n_train):
        pavlovian_trial(da, rng, ["light"], 1.0, rec=rec, phase="training", trial=i)
    probe = pavlovian_trial(da, rng, ["light"], 1.0, learn=False, rec=rec, phase="probe_rewarded")
    omit = pavlovian_trial(da, rng, ["light"], 0.0, learn=False, rec=rec, phase="probe_omitted")
    m = {
        "unexpected_reward_rpe": float(np.mean([t["reward"] for t in before])),
        "first_trial_cue_rpe": first["cue"],
        "first_trial_reward_rpe": first["reward"],
        "trained_cue_rpe": probe["cue"],
        "trained_reward_rpe": probe["reward"],
        "omission_rpe_at_expected_time": omit["reward"],
        "omission_min_step_offset": int(np.argmin(omit["rpes"])) - omit["at_reward"],
    }
    checks = {
        "burst to unexpected reward (> 0.5)": m["unexpected_reward_rpe"] > 0.5,
        "trained: burst at cue (> 0.5)": m["trained_cue_rpe"] > 0.5,
        "trained: no reward response (|rpe| < 0.2 and < 25% of cue)": abs(m["trained_reward_rpe"]) < 0.2
        and abs(m["trained_reward_rpe"]) < 0.25 * m["trained_cue_rpe"],
        "omission: dip < -0.5 at the expected reward time": m["omission_rpe_at_expected_time"] < -0.5
        and m["omission_min_step_offset"] == 0,
    }
    data = {"first": first, "probe": probe, "omit": omit, "before": before[0]}
    return ProtocolResult("schultz", all(checks.values()), m, checks, rec.rows, data)


def _trials_to(curve: Sequence[float], threshold: float) -> int:
    hits = np.flatnonzero(np.asarray(curve) >= threshold)
    return int(hits[0]) + 1 if hits.size else len(curve) + 1


def run_extinction(
    seed: int = 0, alpha: float = 0.1, record: bool = False, n_acq: int = 100, n_ext: int = 60, n_reacq: int = 100
) -> ProtocolResult:
    """Acquisition, extinction (reward withheld), reacquisition; savings measured as
    trials to reach half the asymptotic cue response."""
    da, rng, rec = DopamineSubject(seed=seed, alpha=alpha), np.random.default_rng(seed), Recorder(record)
    acq = [pavlovian_trial(da, rng, ["tone"], 1.0, rec=rec, phase="acquisition", trial=i) for i in range(n_acq)]
    ext = [pavlovian_trial(da, rng, ["tone"], 0.0, rec=rec, phase="extinction", trial=i) for i in range(n_ext)]
    rea = [pavlovian_trial(da, rng, ["tone"], 1.0, rec=rec, phase="reacquisition", trial=i) for i in range(n_reacq)]
    cue = lambda ts: [t["cue"] for t in ts]  # noqa: E731
    asymptote = float(np.mean(cue(acq)[-10:]))
    threshold = 0.5 * asymptote
    m = {
        "acquired_cue_rpe": asymptote,
        "first_extinction_reward_rpe": ext[0]["reward"],
        "extinguished_cue_rpe": float(np.mean(cue(ext)[-5:])),
        "trials_to_half_acquisition": _trials_to(cue(acq), threshold),
        "trials_to_half_reacquisition": _trials_to(cue(rea), threshold),
    }
    # strict savings is reported, not required: linear TD(λ) unlearns the same weights it
    # learned, so it shows savings only while extinction leaves residual strength
    m["savings_trials"] = m["trials_to_half_acquisition"] - m["trials_to_half_reacquisition"]
    checks = {
        "acquisition: cue response > 0.5": asymptote > 0.5,
        "extinction: dip (< -0.5) at the omitted reward on the first extinction trial": m["first_extinction_reward_rpe"]
        < -0.5,
        "extinction: cue response falls below 25% of acquired": m["extinguished_cue_rpe"] < 0.25 * asymptote,
        "reacquisition no slower than acquisition (trials to half-asymptote)": m["trials_to_half_reacquisition"]
        <= m["trials_to_half_acquisition"],
    }
    data = {"acq": cue(acq), "ext": cue(ext), "rea": cue(rea), "threshold": threshold}
    return ProtocolResult("extinction", all(checks.values()), m, checks, rec.rows, data)


def run_blocking(
    seed: int = 0, alpha: float = 0.1, record: bool = False, n_phase1: int = 100, n_phase2: int = 60
) -> ProtocolResult:
    """Waelti, Dickinson & Schultz 2001: A+ / B- then AX+ / BY+; probe X (blocked) and Y (control)."""
    da, rng, rec = DopamineSubject(seed=seed, alpha=alpha), np.random.default_rng(seed), Recorder(record)
    for i in range(n_phase1):
        for cues, r in sorted([(["A"], 1.0), (["B"], 0.0)], key=lambda _: rng.random()):
            pavlovian_trial(da, rng, cues, r, rec=rec, phase="pretraining", trial=i)
    for i in range(n_phase2):
        for cues, r in sorted([(["A", "X"], 1.0), (["B", "Y"], 1.0)], key=lambda _: rng.random()):
            pavlovian_trial(da, rng, cues, r, rec=rec, phase="compound", trial=i)
    probe = {c: pavlovian_trial(da, rng, [c], 0.0, learn=False, rec=rec, phase=f"probe_{c}")["cue"] for c in "ABXY"}
    m = {f"cue_rpe_{c}": float(v) for c, v in probe.items()}
    m["blocked_over_control"] = probe["X"] / max(probe["Y"], 1e-9)
    checks = {
        "control cue Y acquires a response (> 0.2)": probe["Y"] > 0.2,
        "blocked cue X response < 50% of control Y": probe["X"] < 0.5 * probe["Y"],
    }
    return ProtocolResult("blocking", all(checks.values()), m, checks, rec.rows, {"probe": probe})


PROBABILITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def run_probabilistic(seed: int = 0, alpha: float = 0.1, record: bool = False, n_per_cue: int = 120) -> ProtocolResult:
    """Fiorillo, Tobler & Schultz 2003: five cues predicting reward with p = 0 … 1.
    Responses are averaged over the second half of training, as over recorded trials."""
    da, rng, rec = DopamineSubject(seed=seed, alpha=alpha), np.random.default_rng(seed), Recorder(record)
    cues = [f"cue_p{p:.2f}" for p in PROBABILITIES]
    order = np.repeat(np.arange(len(cues)), n_per_cue)
    rng.shuffle(order)
    cue_resp = {c: [] for c in cues}
    rew_resp = {c: [] for c in cues}
    for i, k in enumerate(order):
        rewarded = rng.random() < PROBABILITIES[k]
        t = pavlovian_trial(da, rng, [cues[k]], float(rewarded), rec=rec, phase="training", trial=i)
        if i >= len(order) // 2:
            cue_resp[cues[k]].append(t["cue"])
            if rewarded:
                rew_resp[cues[k]].append(t["reward"])
    cue_mean = [float(np.mean(cue_resp[c])) for c in cues]
    # p = 0 is never rewarded: probe its reward response without learning (an unexpected reward)
    rew_mean = [
        float(np.mean(rew_resp[c])) if rew_resp[c] else pavlovian_trial(da, rng, [c], 1.0, learn=False)["reward"]
        for c in cues
    ]
    rho_cue = float(spearmanr(PROBABILITIES, cue_mean)[0])
    rho_rew = float(spearmanr(PROBABILITIES, rew_mean)[0])
    m = {
        **{f"cue_rpe_p{p:.2f}": v for p, v in zip(PROBABILITIES, cue_mean)},
        **{f"reward_rpe_p{p:.2f}": v for p, v in zip(PROBABILITIES, rew_mean)},
        "spearman_cue_vs_p": rho_cue,
        "spearman_reward_vs_p": rho_rew,
    }
    checks = {
        "cue response grows with p (Spearman >= 0.9)": rho_cue >= 0.9,
        "reward response shrinks with p (Spearman <= -0.9)": rho_rew <= -0.9,
        "p=1 cue response exceeds p=0 by > 0.4": cue_mean[-1] - cue_mean[0] > 0.4,
    }
    return ProtocolResult(
        "probabilistic", all(checks.values()), m, checks, rec.rows, {"cue": cue_mean, "reward": rew_mean}
    )


PST_PAIRS = {("A", "B"): (0.8, 0.2), ("C", "D"): (0.7, 0.3), ("E", "F"): (0.6, 0.4)}
PST_GROUPS = {"low DA": -0.4, "normal": 0.0, "high DA": 0.4}


def _pst_subject(seed: int, alpha: float, shift: float, n_trials: int, rec: Recorder, group: str, beta: float):
    da = DopamineSubject(
        seed=seed,
        alpha=alpha,
        alpha_critic=alpha,
        alpha_go=alpha,
        alpha_nogo=alpha,
        beta=beta,
        tonic_reference=0.5,
        tonic_scale=0.5,
        tonic_shift=shift,
        tonic_rate=0.05,
        representation=("presence",),
    )
    rng = np.random.default_rng(seed + 10_007)
    pairs = list(PST_PAIRS)
    for i in range(n_trials):
        pair = pairs[int(rng.integers(len(pairs)))]
        choice = da.choose(list(pair))
        p = PST_PAIRS[pair][pair.index(choice)]
        r = float(rng.random() < p)
        out = da.step({pair[0]: 1.0, pair[1]: 1.0}, r, action=choice)
        rec.add(group, i, 0, {pair[0]: 1.0, pair[1]: 1.0}, r, out, action=choice)
        da.end_trial()
    others = ["C", "D", "E", "F"]
    choose_a = float(np.mean([da.choice_probabilities(["A", o])[0] for o in others]))
    avoid_b = float(np.mean([da.choice_probabilities(["B", o])[1] for o in others]))
    return choose_a, avoid_b, da.selector.snapshot(), float(da.dopamine.tonic.modulation())


def run_selection(
    seed: int = 0,
    alpha: float = 0.1,
    record: bool = False,
    n_trials: int = 360,
    n_subjects: int = 10,
    beta: float = 1.0,
) -> ProtocolResult:
    """Frank et al. 2004 probabilistic selection with OpAL (Collins & Frank 2014): train
    AB/CD/EF, test novel pairs with A ("choose A") and with B ("avoid B"). Each group
    (tonic shift low / none / high, like off / on L-DOPA) is ``n_subjects`` simulated
    subjects; the criterion compares group means, as the patient study did."""
    rec = Recorder(record)
    res = {}
    for g, shift in PST_GROUPS.items():
        runs = [
            _pst_subject(seed * 1000 + s, alpha, shift, n_trials, rec if s == 0 else Recorder(False), g, beta)
            for s in range(n_subjects)
        ]
        res[g] = (
            float(np.mean([r[0] for r in runs])),
            float(np.mean([r[1] for r in runs])),
            runs[0][2],
            float(np.mean([r[3] for r in runs])),
            [r[0] for r in runs],
            [r[1] for r in runs],
        )
    m = {}
    for g, (ca, ab, _, mod, _, _) in res.items():
        key = g.replace(" ", "_")
        m[f"choose_A_{key}"], m[f"avoid_B_{key}"], m[f"modulation_{key}"] = ca, ab, mod
    hi, lo = res["high DA"], res["low DA"]
    checks = {
        "high DA chooses A more than low DA": hi[0] > lo[0],
        "low DA avoids B more than high DA": lo[1] > hi[1],
        "learning: normal group chooses A and avoids B above chance": res["normal"][0] > 0.5 and res["normal"][1] > 0.5,
    }
    data = {g: (v[0], v[1], v[4], v[5]) for g, v in res.items()}
    data["snapshot"] = res["normal"][2]
    return ProtocolResult("selection", all(checks.values()), m, checks, rec.rows, data)


MAGNITUDES = (0.1, 0.3, 1.2, 2.5, 5.0, 10.0, 20.0)  # μl, Dabney et al. 2020 variable-magnitude task
TAUS = (0.1, 0.3, 0.5, 0.7, 0.9)


def run_distributional(seed: int = 0, alpha: float = 0.1, record: bool = False, n_trials: int = 300) -> ProtocolResult:
    """Dabney et al. 2020: one cue, reward magnitude drawn from seven values; each
    distributional head's reversal point is where its reward RPE changes sign, found by
    regressing its reward-time RPE on magnitude over the second half of trials."""
    scale = 1.0 / 10.0  # μl -> reward units
    da = DopamineSubject(seed=seed, alpha=alpha, taus=TAUS)
    rng, rec = np.random.default_rng(seed), Recorder(record)
    pairs = {tau: [] for tau in TAUS}
    for i in range(n_trials):
        mag = float(rng.choice(MAGNITUDES)) * scale
        t = pavlovian_trial(da, rng, ["odour"], mag, rec=rec, phase="training", trial=i)
        if i >= n_trials // 2:
            for tau in TAUS:
                pairs[tau].append((mag, t["reward_channels"][f"reward/tau={tau:.2f}"]))
    reversal = []
    for tau in TAUS:
        x, y = np.array(pairs[tau]).T
        slope, intercept = np.polyfit(x, y, 1)
        reversal.append(float(-intercept / slope / scale))
    rho = float(spearmanr(TAUS, reversal)[0])
    m = {**{f"reversal_tau{t:.1f}": r for t, r in zip(TAUS, reversal)}, "spearman_tau_vs_reversal": rho}
    checks = {
        "reversal points rise with optimism (Spearman >= 0.9)": rho >= 0.9,
        "most optimistic reversal > most pessimistic": reversal[-1] > reversal[0],
    }
    return ProtocolResult(
        "distributional",
        all(checks.values()),
        m,
        checks,
        rec.rows,
        {"pairs": pairs, "reversal": reversal, "scale": scale},
    )


@dataclass(frozen=True)
class Protocol:
    run: Callable[..., ProtocolResult]
    title: str
    criterion: str
    source: str


PROTOCOLS: Mapping[str, Protocol] = {
    "schultz": Protocol(
        run_schultz,
        "Reward prediction error: burst moves to the cue, omission dips",
        "before training the reward evokes a burst (> 0.5); after training the cue evokes a burst "
        "(> 0.5) and the predicted reward none (|δ| < 0.2 and < 25 % of the cue burst); an "
        "omitted reward gives a dip (< −0.5) exactly at the expected time",
        "Schultz, Dayan & Montague 1997, Science 275:1593",
    ),
    "extinction": Protocol(
        run_extinction,
        "Extinction and reacquisition",
        "omission dip on the first extinction trial (< −0.5); cue response extinguishes to "
        "< 25 % of acquired; reacquisition reaches half the acquired cue response in no more "
        "trials than acquisition (strict savings is reported, not required: see docs/lab.md)",
        "Pan, Schmidt, Wickens & Hyland 2005 (J Neurosci 25:6235); savings: Napier, Macrae & "
        "Kehoe 1992 (JEP:ABP 18:182)",
    ),
    "blocking": Protocol(
        run_blocking,
        "Kamin blocking",
        "after A+ then AX+ (and B− then BY+), the blocked cue X evokes < 50 % of the control "
        "cue Y's response, and Y > 0.2",
        "Waelti, Dickinson & Schultz 2001, Nature 412:43",
    ),
    "probabilistic": Protocol(
        run_probabilistic,
        "Reward probability",
        "cue response rises with p ∈ {0, .25, .5, .75, 1} (Spearman ≥ 0.9), reward response "
        "falls with p (Spearman ≤ −0.9)",
        "Fiorillo, Tobler & Schultz 2003, Science 299:1898",
    ),
    "selection": Protocol(
        run_selection,
        "Opponent Go/NoGo: probabilistic selection task",
        "high tonic DA chooses A more than low DA; low DA avoids B more than high DA; the "
        "normal group learns both above chance",
        "Frank, Seeberger & O'Reilly 2004, Science 306:1940; Collins & Frank 2014, Psych Rev 121:337",
    ),
    "distributional": Protocol(
        run_distributional,
        "Distributional dopamine: reversal points",
        "heads with more optimistic asymmetry τ = α⁺/(α⁺+α⁻) have higher reversal points (Spearman(τ, reversal) ≥ 0.9)",
        "Dabney et al. 2020, Nature 577:671",
    ),
}
