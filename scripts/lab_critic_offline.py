"""Is the embodied lab's food critic limited by what it can learn, or by how long it trained?

Takes a finished ``embodied lab --embodied`` run, reads the critic replay memory saved in its
last checkpoint (the critic inputs and reward vectors of the training rat's last
``critic_replay_capacity`` steps per env) and trains a *fresh* critic of the same shape on that
fixed memory, with the same λ-return expectile loss and sequence sampler the agent uses
(``ChannelCritics.loss`` on ``CriticReplay.sample`` windows). Every ``--report`` updates it prints
the food critic's mean value at light onset and in the inter-trial interval next to the training
rat's own discounted food returns at the same steps (on-policy truth for that behaviour), and
the same for the run's own online-trained critic, so one can see whether more updates on the
same data close the gap.

Light onsets are found from the rat's own senses, not from privileged state (the memory holds no
trial bookkeeping): the house light raises the mean of the pooled view by more than
``--onset-jump`` in one step (the script prints how many steps rose that much, to compare with
the onsets found and the number of trials the inter-trial intervals allow). Interval steps are those more than 30 steps before and 200 steps after any onset.
Returns are cut at episode ends, as the critic's λ-returns are. Learning rate and updates are
flags; the result is a diagnosis, not a training method.

    python scripts/lab_critic_offline.py runs/lab_v13 --updates 12000 --report 2000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's package, even from a stale editable install
from embodied.brain.dopamine.critic_input import POOL
from embodied.brain.dopamine.critics import ChannelCritics, CriticReplay
from embodied.train.checkpoint import load_checkpoint, load_policy


def discounted_returns(rewards: np.ndarray, is_first: np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = Σ_k γ^k r_{t+1+k}`` within the episode (row t's reward is for the transition into t)."""
    G = np.zeros(len(rewards) + 1)
    for t in range(len(rewards) - 1, -1, -1):
        G[t] = 0.0 if (t + 1 >= len(rewards) or is_first[t + 1]) else rewards[t + 1] + gamma * G[t + 1]
    return G[:-1]


def light_onsets(brightness: np.ndarray, is_first: np.ndarray, jump: float, tail: int) -> np.ndarray:
    """Steps at which the mean pooled view brightens by more than ``jump`` (first of each 100-step cluster)."""
    rise = np.r_[0.0, np.diff(brightness)]
    on = np.flatnonzero((rise > jump) & ~is_first)
    on = on[(on > 50) & (on < len(brightness) - tail)]
    return on[np.r_[True, np.diff(on) > 100]] if len(on) else on


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="an `embodied lab --embodied --out RUN` folder")
    parser.add_argument("--updates", type=int, default=12000, help="offline critic updates")
    parser.add_argument("--report", type=int, default=2000, help="print every this many updates")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: the run's critic_lr)")
    parser.add_argument(
        "--onset-jump", type=float, default=0.08, help="rise of the mean pooled view that marks light onset"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    checkpoint = args.run / "embodied_run" / "checkpoints" / "latest.pt"
    payload = load_checkpoint(checkpoint)
    memory = payload["agent"]["dopamine"].get("critic_replay")
    if memory is None:
        raise SystemExit(f"{checkpoint}: no critic replay memory (the run had critic_replay_updates=0)")
    agent = load_policy(checkpoint).agent
    cfg, food = agent.cfg, agent.dopamine.channels.index("food")
    capacity, size = memory["features"].shape[0], int(memory["size"])
    order = (int(memory["head"]) - size + np.arange(size)) % capacity  # oldest first
    X = memory["features"].numpy()[order]
    R = memory["rewards"].numpy()[order]
    first = memory["is_first"].numpy()[order]
    steps, envs, dim = X.shape
    vision_at = (
        agent.perception.feature_dim if cfg.dopamine.critic_latent else 0
    )  # the pooled view starts the sense block
    brightness = X[:, :, vision_at : vision_at + POOL**2 * 3].mean(-1)
    rises = int((np.diff(brightness, axis=0) > args.onset_jump).sum())
    print(
        f"{checkpoint}: {steps} steps x {envs} envs, critic input {dim}; {rises} one-step rises of the mean view "
        f"above {args.onset_jump}"
    )

    onset_mask, interval_mask, G = np.zeros((steps, envs), bool), np.zeros((steps, envs), bool), np.zeros((steps, envs))
    eaten = 0
    for b in range(envs):
        G[:, b] = discounted_returns(R[:, b, food], first[:, b], cfg.dopamine.gamma)
        on = light_onsets(brightness[:, b], first[:, b], args.onset_jump, tail=400)
        onset_mask[on, b] = True
        interval_mask[: steps - 400, b] = True
        for o in on:
            interval_mask[max(o - 30, 0) : o + 200, b] = False
        eaten += sum(int((R[o : o + 180, b, food] > 0).any()) for o in on)
    print(
        f"light onsets {int(onset_mask.sum())}, followed by eating within 6 s: {eaten}; "
        f"the training rat's returns: onset {G[onset_mask].mean():.3f}, interval {G[interval_mask].mean():.3f}, "
        f"difference {G[onset_mask].mean() - G[interval_mask].mean():+.3f}"
    )

    def report(critic: ChannelCritics, label: str) -> None:
        with torch.no_grad():
            V = critic.heads(torch.as_tensor(X))[..., food, critic.mean_head].numpy()
        von, vit = V[onset_mask].mean(), V[interval_mask].mean()
        print(f"  {label}: V onset {von:.3f}, V interval {vit:.3f}, learned difference {von - vit:+.3f}", flush=True)

    report(agent.dopamine.critics, "the run's own critic (trained online)")
    fresh = ChannelCritics(
        agent.dopamine.critic_input.dim,
        agent.dopamine.channels,
        cfg.dopamine.critic_taus,
        cfg.dopamine.critic_units,
        args.lr or cfg.dopamine.critic_lr,
        cfg.dopamine.gamma,
        cfg.dopamine.lam,
        cfg.dopamine.precision_eps,
        slow_rate=cfg.dopamine.critic_slow_rate,
        return_norm=cfg.dopamine.critic_return_norm,
    )
    replay = CriticReplay(steps, envs, dim, R.shape[-1])
    replay.add([{"features": X[t], "reward": R[t], "is_first": first[t]} for t in range(steps)])
    rng = np.random.default_rng(args.seed)
    for update in range(1, args.updates + 1):
        feats, rewards, mask = replay.sample(cfg.dopamine.critic_replay_batch, cfg.dopamine.critic_replay_seq, rng)
        loss, _, _ = fresh.loss(
            torch.as_tensor(feats),
            torch.as_tensor(rewards),
            torch.as_tensor(cfg.dopamine.gamma * mask),
            torch.as_tensor(mask),
        )
        fresh.update(loss)
        if update % args.report == 0:
            report(fresh, f"fresh critic after {update} offline updates")


if __name__ == "__main__":
    main()
