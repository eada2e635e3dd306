"""One matplotlib figure per lab protocol (Agg backend; written to PNG)."""

from __future__ import annotations

import numpy as np

from embodied.lab.protocols import MAGNITUDES, PROBABILITIES, STEP_SECONDS_LABEL, TAUS, ProtocolResult


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _trial_trace(ax, trial, title, colour="k"):
    t = (np.arange(len(trial["rpes"])) - trial["onset"]) * 0.1
    ax.plot(t, trial["rpes"], color=colour, drawstyle="steps-mid")
    ax.axvline(0.0, color="tab:orange", ls="--", lw=1, label="cue on")
    ax.axvline((trial["at_reward"] - trial["onset"]) * 0.1, color="tab:green", ls="--", lw=1, label="reward time")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(STEP_SECONDS_LABEL)
    ax.set_ylim(-1.15, 1.15)


def plot(result: ProtocolResult, path, title: str) -> None:
    plt = _plt()
    d = result.data
    if result.name == "schultz":
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
        _trial_trace(axes[0], d["first"], "first trial: burst at the reward")
        _trial_trace(axes[1], d["probe"], "after training: burst at the cue")
        _trial_trace(axes[2], d["omit"], "after training, reward omitted: dip")
        axes[0].set_ylabel("phasic RPE δ")
        axes[0].legend(fontsize=7, loc="lower left")
    elif result.name == "extinction":
        fig, ax = plt.subplots(figsize=(8, 3.4))
        n1, n2 = len(d["acq"]), len(d["ext"])
        ax.plot(np.arange(n1), d["acq"], label="acquisition")
        ax.plot(n1 + np.arange(n2), d["ext"], label="extinction")
        ax.plot(n1 + n2 + np.arange(len(d["rea"])), d["rea"], label="reacquisition")
        ax.axhline(d["threshold"], color="grey", ls=":", label="half asymptote")
        ax.set_xlabel("trial")
        ax.set_ylabel("RPE at cue onset")
        ax.legend(fontsize=8)
    elif result.name == "blocking":
        fig, ax = plt.subplots(figsize=(5, 3.4))
        names = ["A", "B", "X", "Y"]
        labels = ["A (A+ first)", "B (B− first)", "X (blocked)", "Y (control)"]
        ax.bar(labels, [d["probe"][n] for n in names], color=["grey", "grey", "tab:red", "tab:blue"])
        ax.set_ylabel("RPE at cue onset (probe)")
        ax.tick_params(axis="x", labelsize=7)
    elif result.name == "probabilistic":
        fig, ax = plt.subplots(figsize=(5, 3.4))
        ax.plot(PROBABILITIES, d["cue"], "o-", label="cue response")
        ax.plot(PROBABILITIES, d["reward"], "s-", label="reward response (rewarded trials)")
        ax.set_xlabel("reward probability")
        ax.set_ylabel("phasic RPE")
        ax.legend(fontsize=8)
    elif result.name == "selection":
        fig, ax = plt.subplots(figsize=(6, 3.4))
        groups = [g for g in d if g != "snapshot"]
        x = np.arange(len(groups))
        ax.bar(x - 0.2, [d[g][0] for g in groups], 0.4, label='"choose A"')
        ax.bar(x + 0.2, [d[g][1] for g in groups], 0.4, label='"avoid B"')
        for i, g in enumerate(groups):
            ax.scatter(np.full(len(d[g][2]), i - 0.2), d[g][2], s=6, color="k", alpha=0.5)
            ax.scatter(np.full(len(d[g][3]), i + 0.2), d[g][3], s=6, color="k", alpha=0.5)
        ax.set_xticks(x, groups)
        ax.set_ylim(0.4, 1.02)
        ax.axhline(0.5, color="grey", lw=0.5)
        ax.set_ylabel("test accuracy (novel pairs)")
        ax.legend(fontsize=8, loc="lower right")
    elif result.name == "distributional":
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        colours = plt.cm.coolwarm(np.linspace(0, 1, len(TAUS)))
        for c, tau in zip(colours, TAUS):
            x, y = np.array(d["pairs"][tau]).T
            means = [y[np.isclose(x, m * d["scale"])].mean() for m in MAGNITUDES]
            axes[0].plot(MAGNITUDES, means, "o-", color=c, label=f"τ={tau:.1f}")
        axes[0].axhline(0, color="grey", lw=0.5)
        axes[0].set_xscale("log")
        axes[0].set_xlabel("reward magnitude (μl)")
        axes[0].set_ylabel("head RPE at reward")
        axes[0].legend(fontsize=7)
        axes[1].plot(TAUS, d["reversal"], "o-")
        axes[1].set_xlabel("asymmetry τ = α⁺/(α⁺+α⁻)")
        axes[1].set_ylabel("reversal point (μl)")
    else:  # pragma: no cover
        raise KeyError(f"no figure for protocol {result.name!r}")
    verdict = "PASS" if result.passed else "FAIL"
    fig.suptitle(f"{title} — {verdict}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
