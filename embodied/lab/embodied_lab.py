"""The embodied conditioning lab: the rat's own dopamine in the conditioning box.

The rat (the same agent ``embodied train`` trains) lives in ``worlds/conditioning_box.maze``
with the ``conditioning`` task: a light, then food at the feeder ``delay_steps`` later.
It is trained for ``steps`` env steps; checkpoints along the way are probed with learning
off, and its phasic dopamine (the agent's RPE: food channel and the weighted total) is
aligned to light onset and to food delivery, on rewarded and omission trials.

Criteria (Schultz, Dayan & Montague 1997; Schultz 1998), comparing the last probe to the first,
with margins so that noise around zero cannot pass (``MARGIN`` of the first eating response):
* the response at light onset grows by more than the margin and is positive (the burst moves
  to the earliest reliable cue);
* the response at eating shrinks by more than the margin (food becomes predicted);
* on omission trials of the trained rat, dopamine at the expected food time dips below −margin.
These are measured, not assumed: the summary says PASS or FAIL with the numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from .. import ENV_ID
from ..driver import Driver
from .traces import write_trace_csv

#: the lab's own training settings (``embodied train``'s defaults stay as they are); ``--set`` overrides them
LAB_CONFIG = (
    # a hungry rat: food weighs more and curiosity less than in the maze defaults (Schultz's monkeys
    # and lab rats work food- or water-restricted); with the defaults the rat stops visiting the feeder
    'channel_weights={"prediction_success": 0.1, "novelty": 0.2, "coherence": 0.05, "food": 10.0, "effort": 0.1}',
    # the critics read the rat's own senses and memory traces of them, besides the world-model latent,
    # which after a few thousand steps does not yet encode the light or the pellet (linear probe: chance)
    "critic_senses=true",
    # the tabular lab's time scale: γ = 0.98 and λ = 0.9 per 100 ms are 0.9933 and 0.965 per 1/30 s step
    # (the maze default γ = 0.97 per step discounts a 1 s cue-food delay by 0.4, the tabular one by 0.82)
    "gamma=0.9933",
    "lam=0.965",
    # replayed λ-return updates and per-channel return normalisation (rare food vs dense novelty)
    "critic_replay_updates=16",
    "critic_return_norm=true",
    # the critics time the light: a delay line of the senses (s_{t-5} ... s_{t-45}, 1.5 s), the serial
    # compound of TD models of dopamine, from the rat's own view; one slow trace (2 s) for context
    "critic_sense_delays=[5, 10, 15, 20, 25, 30, 35, 40, 45]",
    "critic_sense_traces=[64]",
    # longer episodes (34 s): each episode start is a reset, and its first interval is not a real one
    "episode_steps=1024",
)
#: the task's design (``task_options``; ``run_embodied_lab(restrained=...)`` sets ``restrained``): the classic
#: design of Schultz 1997 — random inter-trial intervals of several seconds (4-10 s), so the light is worth
#: much more than the interval before it; some omission trials during training, so that "no pellet at the
#: food time" gets a value of its own; a feeder the rat reaches from a nose length closer
LAB_TASK_OPTIONS = {"iti_steps": [120, 300], "omission_prob": 0.2, "eat_radius": 0.12}
WINDOW = 6  # steps (0.2 s) after an event over which the phasic response is averaged
MARGIN = 0.2  # changes must exceed this fraction of the untrained rat's response to food


def probe(
    checkpoint: Path,
    trials: int,
    seed: int,
    omission_prob: float,
    channel: str,
    task_options: dict | None = None,
    progress: bool = False,
) -> dict:
    """Run a checkpoint (learning off) for ``trials`` trials; RPE traces aligned to events.

    The task and box are the ones the checkpoint was trained in (its config's ``world`` and
    ``task_options``; or ``task_options`` when given), with omission trials at ``omission_prob``;
    a tqdm bar of trials when ``progress``."""
    env, policy, options = _trained_rat(checkpoint, omission_prob, task_options)
    bar = tqdm(total=trials, unit="trial", desc=f"probe {checkpoint.name}", disable=not progress, leave=False)
    policy.predict = False  # the probe reads dopamine, not the predicted frame (3x faster)
    rows = []
    longest = int(options.get("iti_steps", (60, 150))[1]) + 400  # steps a trial can take (interval + trial)

    def row(step) -> None:
        info, rpe = step.info, step.extras.get("rpe", {})
        rows.append(
            {
                "step": len(rows),
                "trial": info["trial"],
                "trial_step": info["trial_step"],
                "cue_on": info["cue_on"],
                "food_present": info["food_present"],
                "omitted": info["omitted"],
                "rpe": rpe.get(channel, np.nan),
                "rpe_total": step.extras.get("phasic", sum(rpe.values())),
                "value": _value(policy, channel),
                "tonic": step.extras.get("tonic", np.nan),
                "reward": step.reward,
            }
        )
        bar.update(min(step.next_info["trial"], trials) - bar.n)

    driver = Driver(env, policy, on_step=[row])
    driver.reset(seed=seed)
    driver.run(steps=trials * longest, until=lambda: driver.info["trial"] >= trials)
    bar.close()
    env.close()
    return {"rows": rows, **_responses(rows)}


def _trained_rat(checkpoint: Path, omission_prob: float, task_options: dict | None = None):
    """``(env, policy, task options)``: the checkpoint's rat, learning off, in the box and task it was
    trained in (its config's ``world`` and ``task_options``, or ``task_options`` when given), with
    omission trials at ``omission_prob``; episodes never end."""
    from ..train.checkpoint import load_policy

    config = _config(checkpoint)
    options = dict(config.get("task_options") or {}) if task_options is None else dict(task_options)
    options["omission_prob"] = omission_prob
    env = gym.make(
        ENV_ID,
        world=config.get("world", "conditioning_box"),
        task="conditioning",
        vision_size=int(config.get("vision_size", 64)),
        max_episode_steps=10**7,
        task_options=options,
    )
    return env, load_policy(checkpoint, env=env), options


def record_video(
    checkpoint: Path,
    path: Path,
    steps: int,
    seed: int,
    omission_prob: float = 0.25,
    channels: tuple[str, ...] = ("food",),
    progress: bool = False,
) -> dict:
    """A rollout video of the checkpoint's rat in its box (``embodied record``'s panels: the map, its
    view, the predicted view, whiskers, scent, the dopamine trace of ``channels`` (all when empty) and
    tonic; the status names the light and the pellet), learning off, omission trials at ``omission_prob``."""
    from ..viz.record import record_rollout

    env, policy, _ = _trained_rat(checkpoint, omission_prob)
    try:
        return record_rollout(
            env, _ChannelFilter(policy, channels) if channels else policy, steps, path, seed=seed, progress=progress
        )
    finally:
        env.close()


class _ChannelFilter:
    """A policy whose reported RPEs are only ``channels`` (so the food burst is not lost among the
    intrinsic channels in a video); acting is the wrapped policy's."""

    def __init__(self, policy, channels: tuple[str, ...]):
        self.policy, self.channels = policy, channels

    def reset(self) -> None:
        self.policy.reset()

    def act(self, obs: dict):
        action, extras = self.policy.act(obs)
        rpe = extras.get("rpe") or {}
        return action, {**extras, "rpe": {c: rpe[c] for c in self.channels if c in rpe}}

    def observe_reward(self, reward: float) -> None:
        listen = getattr(self.policy, "observe_reward", None)
        if listen is not None:
            listen(reward)


def _value(policy, channel: str) -> float:
    """The critic's V_channel(s_t) for the step just taken (NaN for policies without critics)."""
    agent = getattr(policy, "agent", None)
    if agent is None or channel not in agent.dopamine.channels:
        return float("nan")
    return float(agent.dopamine.value_estimate(channel)[0])


def _config(checkpoint: Path) -> dict:
    from ..train.checkpoint import load_checkpoint
    from ..train.config import leaves_of

    return leaves_of(load_checkpoint(checkpoint).get("config", {}), f"checkpoint {checkpoint}")


def _responses(rows: list[dict]) -> dict:
    """Mean RPE in WINDOW steps after light onset, after eating, and at expected food on omissions.

    The RPE the agent reports at step t is for the transition into the observation at t, so an
    event seen at step t shows in the row of step t (light) or t+1 (eating, the reward arrives
    with the next observation).
    """
    rpe = np.array([r["rpe"] for r in rows], float)
    trial_step = np.array([r["trial_step"] for r in rows])
    omitted = np.array([r["omitted"] for r in rows])
    reward = np.array([r.get("reward", 0.0) for r in rows])
    cue_idx = np.flatnonzero(trial_step == 0)
    eat_idx = np.flatnonzero(reward > 0) + 1
    delay = _delay(rows)
    omit_idx = np.flatnonzero((trial_step == delay) & omitted)

    def mean_after(indices):
        values = [rpe[i : i + WINDOW].mean() for i in indices if i + WINDOW <= len(rpe)]
        return float(np.mean(values)) if values else float("nan")

    eaten_at = trial_step[eat_idx - 1]  # trial step of each eating (the row whose action earned the pellet)
    return {
        "cue": mean_after(cue_idx),
        "eat": mean_after(eat_idx),
        "omission": mean_after(omit_idx),
        "n_cues": int(len(cue_idx)),
        "n_eaten": int(len(eat_idx)),
        "n_omissions": int(len(omit_idx)),
        "eat_latency_s": float(np.median(eaten_at)) / 30.0 if len(eaten_at) else float("nan"),
    }


def oracle_bounds(rows: list[dict], gamma: float) -> dict:
    """Raw TD errors of an *informed* critic on a probe trace — a reference, never a learner.

    From the probe's privileged trial bookkeeping (metrics only): the discounted return
    ``G_t = Σ_k γ^k r_{t+k}`` of every step, then the values a critic would hold if it knew the
    trial events but not the future — ``E[G | light onset]``, ``E[G | inter-trial step]`` (it
    cannot time the random interval), ``E[G | waiting at the food time − 1]`` on rewarded trials
    and ``E[G | food time]`` on omission trials — and the TD errors at the two events:

    * cue:      ``δ* = E[G | onset] − γ E[G | inter-trial]``
    * omission: ``δ* = γ E[G | food time, omitted] − E[G | food time − 1, rewarded]``

    In the units of the naive eating error (a reward of 1 against V = 0). The last 300 steps
    (returns cut off by the end of the probe) are left out. If ``δ*`` of the cue is small, no
    critic can give a large light response with this rat's eating times and these intervals.
    """
    reward = np.array([r.get("reward", 0.0) for r in rows], float)
    trial_step = np.array([r["trial_step"] for r in rows])
    omitted = np.array([r["omitted"] for r in rows], bool)
    returns, acc = np.zeros(len(rows)), 0.0
    for t in reversed(range(len(rows))):
        acc = reward[t] + gamma * acc
        returns[t] = acc
    ok = np.arange(len(rows)) < len(rows) - 300
    delay = _delay(rows)

    def mean(mask):
        return float(returns[mask & ok].mean()) if (mask & ok).any() else float("nan")

    return {
        "cue": mean(trial_step == 0) - gamma * mean(trial_step < 0),
        "omission": gamma * mean((trial_step == delay) & omitted) - mean((trial_step == delay - 1) & ~omitted),
    }


def _delay(rows):
    food_steps = [r["trial_step"] for r in rows if r["food_present"]]
    return int(min(food_steps)) if food_steps else 30


def run_embodied_lab(
    out: Path,
    steps: int,
    seed: int,
    checkpoints: int = 2,
    trials: int = 32,
    channel: str = "food",
    overrides: list[str] | None = None,
    video_steps: int = 900,
    restrained: bool = True,
) -> dict:
    """Train in the conditioning box, probe each checkpoint, write figure, CSV, summary and (with
    ``video_steps`` > 0) a video of the last checkpoint's rat, ``embodied.mp4``.

    ``restrained`` (default): the rat's body is held with its nose at the feeder, so food comes 1 s
    after the light on every trial (the design of dopamine recordings in head-fixed animals);
    ``restrained=False``: the rat walks to the feeder (measured in docs/lab.md: the cue criterion is
    not met there). ``overrides`` (``--set``) come last and win, ``task_options`` included."""
    from ..train.loop import train
    from ..viz.record import record_rollout

    out = Path(out)
    run_dir = out / "embodied_run"
    config = lab_config(steps, seed, checkpoints, restrained, overrides)
    train(
        config, run_dir, progress=True, overwrite=True, recorder=record_rollout
    )  # the lab's own folder: a rerun replaces it
    _save_naive(config, run_dir / "checkpoints" / "step_0.pt")
    ckpts = sorted((run_dir / "checkpoints").glob("step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    probes = {}
    for ckpt in ckpts:
        probes[int(ckpt.stem.split("_")[1])] = probe(
            ckpt, trials, seed + 1, omission_prob=0.25, channel=channel, progress=True
        )
    for pr in probes.values():
        pr["oracle"] = oracle_bounds(pr["rows"], config.brain.dopamine.gamma)
    first, last = probes[min(probes)], probes[max(probes)]
    margin = MARGIN * abs(first["eat"]) if np.isfinite(first["eat"]) and first["eat"] != 0 else 0.05
    checks = {
        "cue response grows with training": last["cue"] > max(0.0, first["cue"]) + margin,
        "eating response shrinks with training": last["eat"] < first["eat"] - margin,
        "dip at the expected time of omitted food": last["omission"] < -margin,
    }
    summary = {
        "steps": steps,
        "seed": seed,
        "channel": channel,
        "margin": margin,
        "checks": checks,
        "passed": all(checks.values()),
        "responses": {step: {k: v for k, v in pr.items() if k != "rows"} for step, pr in probes.items()},
    }
    write_trace_csv(
        [{"checkpoint_step": step, **row} for step, pr in probes.items() for row in pr["rows"]], out / "embodied.csv"
    )
    _figure(out / "embodied.png", probes, channel, world=config.env.world)
    if video_steps > 0:
        summary["video"] = record_video(ckpts[-1], out / "embodied.mp4", video_steps, seed + 2, progress=True)
    (out / "embodied.json").write_text(json.dumps(summary, indent=2))
    return summary


def lab_config(steps: int, seed: int, checkpoints: int, restrained: bool = True, overrides: list[str] | None = None):
    """The lab's training config: the conditioning box, ``LAB_CONFIG``, ``LAB_TASK_OPTIONS`` with
    ``restrained``, checkpoints every ``steps // checkpoints``; ``overrides`` last."""
    from ..train.config import load_config

    return load_config(
        None,
        overrides=[
            "world=conditioning_box",
            "task=conditioning",
            f"total_steps={steps}",
            f"seed={seed}",
            f"checkpoint_every={max(500, steps // checkpoints)}",
            f"keep_checkpoints={checkpoints + 1}",
            "video_every=0",
            *LAB_CONFIG,
            f"task_options={json.dumps({**LAB_TASK_OPTIONS, 'restrained': bool(restrained)})}",
            *(overrides or []),
        ],
    )


def _save_naive(config, path: Path) -> None:
    """The untrained rat as a checkpoint: the agent ``train`` starts from (same config and seed,
    so the same initial weights), probed first as the "before learning" condition of Schultz et al."""
    from ..brain.agent import Agent
    from ..train.checkpoint import save_checkpoint
    from ..train.collector import make_single_env

    env = make_single_env(config)
    try:
        agent = Agent(
            config.brain,
            env.observation_space,
            env.action_space,
            num_envs=config.run.num_envs,
            seed=config.run.seed,
            device=config.run.device,
        )
    finally:
        env.close()
    save_checkpoint(path, {"step": 0, "config": config.to_dict(), "agent": agent.state_dict()})


def _figure(path: Path, probes: dict, channel: str, world: str = "conditioning_box") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    colours = plt.cm.viridis(np.linspace(0.1, 0.9, len(probes)))
    for colour, (step, pr) in zip(colours, sorted(probes.items())):
        rows = pr["rows"]
        rpe = np.array([r["rpe"] for r in rows], float)
        ts = np.array([r["trial_step"] for r in rows])
        omitted = np.array([r["omitted"] for r in rows])
        for ax, mask, title in ((axes[0], ~omitted, "rewarded trials"), (axes[1], omitted, "omission trials")):
            span = np.arange(-15, 90)
            mean = [np.nanmean(rpe[(ts == t) & mask]) if ((ts == t) & mask).any() else np.nan for t in span]
            ax.plot(span / 30.0, mean, color=colour, label=f"after {step} steps")
            ax.set_title(title)
    delay = _delay(next(iter(probes.values()))["rows"])
    for ax in axes:
        ax.axvline(0, color="gold", lw=2, label="light on")
        ax.axvline(delay / 30.0, color="tab:orange", ls="--", label="food due")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("time from light onset (s)")
    axes[0].set_ylabel(f"phasic dopamine (RPE, {channel} channel)")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"The rat's own dopamine in the {Path(world).stem.replace('_', ' ')}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
