"""Train the world model on procedural mazes, then score it on held-out mazes.

    python scripts/eval_world_model.py --train-minutes 15 --checkpoint runs/world_model/wm.pt

1. Data: ``--train-seeds`` procedural 9x9 forage mazes (seeds 0..N-1), each driven for
   ``--steps-per-maze`` steps by a *wander* policy that uses only the rat's own senses
   (drive forward, turn away from whisker contacts, random turn bursts, a wandering head).
2. Training: uniform sequence replay, ``train_step`` until ``--train-minutes`` run out
   (skipped with ``--train-minutes 0`` when ``--checkpoint`` exists: evaluate it as it is).
3. Evaluation on mazes never trained on (seeds 10_000+): after ``--burn-in`` filtering steps
   the model predicts open loop with the true actions for 10 steps. Per sense,

       SS(k) = 1 - MSE(model's k-step prediction, o_{t+k}) / MSE(o_t, o_{t+k})

   (copy-last-observation baseline), errors in observation units (vision at the model's
   image size, 0..1). Also: the same with actions shuffled across windows (ratio of errors,
   k = 1..10 averaged), and ridge probes from the features to position (x, y) and heading
   (cos, sin), fitted on half the held-out mazes and scored (R^2) on the other half.
   ``info['position']``/``info['heading']`` are read only here, for the probe.

   In ``forage`` a pellet the rat eats respawns at a random cell at least 3 cells away, and the
   food smell everywhere changes at once. Those steps (0.6 % of them) carry most of the
   copy-last error of scent, and no model of the rat's own senses can foresee where the pellet
   reappears. SS(k) is therefore reported twice: over all windows, and over the windows with no
   food event between the last filtered step and the horizon (``info['food_eaten']``, read
   only here to choose windows).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's package, even from a stale editable install
import embodied  # noqa: F401  (registers the env)
from embodied.brain.perception.world_model import WorldModel, WorldModelConfig
from embodied.brain.replay import SequenceReplay
from embodied.train.config import field_overrides

KS = (1, 5, 10)


class Wander:
    """Forward drive, turning away from whisker contact; uses only touch (no privileged info)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.burst, self.burst_turn, self.head = rng, 0, 0.0, 0.0

    def __call__(self, obs: dict) -> np.ndarray:
        touch = obs["touch"]
        n = (len(touch) - 4) // 2
        left, right = touch[:n], touch[n : 2 * n]
        front = max(left[:3].max(initial=0), right[:3].max(initial=0), touch[2 * n])
        if self.burst > 0:
            self.burst -= 1
        elif self.rng.random() < 0.02 or front > 0.6:
            self.burst, self.burst_turn = int(self.rng.integers(8, 30)), float(self.rng.choice([-1, 1]))
        turn = 2.0 * (right.mean() - left.mean()) + (self.burst_turn if self.burst else 0.3 * self.rng.normal())
        forward = 1.0 - 1.2 * front if not self.burst else 0.2
        self.head = float(np.clip(0.9 * self.head + 0.3 * self.rng.normal(), -1, 1))
        return np.clip(np.array([forward, turn, self.head], np.float32), -1, 1)


def rollout(env, seed: int, steps: int, rng: np.random.Generator):
    """One episode of ``steps`` wander steps; returns stacked obs, action_prev, is_first, positions, headings."""
    policy = Wander(rng)
    obs, info = env.reset(seed=seed)
    rows = {k: [] for k in obs}
    actions, firsts, pos, head, eaten = [], [], [], [], []
    action_prev = np.zeros(env.action_space.shape, np.float32)
    for t in range(steps):
        for k, v in obs.items():
            rows[k].append(v)
        actions.append(action_prev), firsts.append(t == 0)
        pos.append(info["position"]), head.append(info["heading"]), eaten.append(info.get("food_eaten", 0))
        action_prev = policy(obs)
        obs, _, terminated, truncated, info = env.step(action_prev)
        if terminated or truncated:
            break
    out = {k: np.stack(v) for k, v in rows.items()}
    out.update(action_prev=np.stack(actions), is_first=np.array(firsts), food_eaten=np.array(eaten))
    return out, np.array(pos), np.array(head)


@torch.no_grad()
def open_loop_errors(
    wm: WorldModel,
    episodes: list[dict],
    burn_in: int,
    horizon: int,
    windows_per_episode: int,
    rng: np.random.Generator,
    shuffle_actions: bool = False,
) -> dict[str, np.ndarray]:
    """Mean squared errors per sense and k = 1..horizon: ``model``, ``copy`` (copy-last) over all
    windows, and ``model_quiet``, ``copy_quiet`` over the windows without a food event in the
    predicted stretch (see the module docstring)."""
    batch = {k: [] for k in episodes[0]}
    for ep in episodes:
        T = len(ep["is_first"])
        for start in rng.integers(1, T - burn_in - horizon, size=windows_per_episode):
            for k in batch:
                batch[k].append(ep[k][start : start + burn_in + horizon])
    batch = {k: np.stack(v) for k, v in batch.items()}
    eaten = batch.pop("food_eaten")
    quiet = torch.as_tensor(eaten[:, -1] == eaten[:, burn_in - 1])  # no pellet eaten (and respawned) while predicting
    batch["is_first"][:, 0] = True  # the window starts from a zero state
    B = batch["is_first"].shape[0]
    obs_keys = wm.keys
    state = wm.initial_state(B)
    for t in range(burn_in):
        state, _ = wm.observe(
            {k: batch[k][:, t] for k in obs_keys}, batch["action_prev"][:, t], state, batch["is_first"][:, t]
        )
    last = {
        k: v.cpu()
        for k, v in wm.to_observation_units(wm.targets({k: batch[k][:, burn_in - 1] for k in obs_keys})).items()
    }
    actions = batch["action_prev"][:, burn_in:]
    if shuffle_actions:
        actions = actions[rng.permutation(B)]
    errors = {name: {k: np.zeros(horizon) for k in obs_keys} for name in ("model", "copy", "model_quiet", "copy_quiet")}
    for i in range(horizon):
        state, pred = wm.predict(state, actions[:, i])
        truth = {
            k: v.cpu()
            for k, v in wm.to_observation_units(wm.targets({k: batch[k][:, burn_in + i] for k in obs_keys})).items()
        }
        for k in obs_keys:
            scale = 255.0 if k in wm.image_keys else 1.0
            for name, guess in (("model", pred[k].cpu()), ("copy", last[k])):
                per_window = (((guess - truth[k]) / scale) ** 2).flatten(1).mean(1)
                errors[name][k][i] = float(per_window.mean())
                errors[f"{name}_quiet"][k][i] = float(per_window[quiet].mean()) if quiet.any() else float("nan")
    errors["quiet_fraction"] = float(quiet.float().mean())
    return errors


def ridge_r2(x_train, y_train, x_test, y_test, alpha: float = 1.0) -> float:
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    a, b = (x_train - mu) / sd, (x_test - mu) / sd
    ym = y_train.mean(0)
    w = np.linalg.solve(a.T @ a + alpha * len(a) * 1e-3 * np.eye(a.shape[1]), a.T @ (y_train - ym))
    pred = b @ w + ym
    return float(1 - ((pred - y_test) ** 2).sum() / ((y_test - y_test.mean(0)) ** 2).sum())


@torch.no_grad()
def probe(wm: WorldModel, episodes, positions, headings) -> dict[str, float]:
    feats = []
    for ep in episodes:
        state, fs = None, []
        for t in range(len(ep["is_first"])):
            state, f = wm.observe(
                {k: ep[k][t : t + 1] for k in wm.keys}, ep["action_prev"][t : t + 1], state, ep["is_first"][t : t + 1]
            )
            fs.append(f[0].cpu().numpy())
        feats.append(np.stack(fs)[20:])  # skip the first steps after reset
    pos = [p[20:] for p in positions]
    head = [np.stack([np.cos(h[20:]), np.sin(h[20:])], -1) for h in headings]
    half = len(episodes) // 2
    cat = np.concatenate
    return {
        "position_r2": ridge_r2(cat(feats[:half]), cat(pos[:half]), cat(feats[half:]), cat(pos[half:])),
        "heading_r2": ridge_r2(cat(feats[:half]), cat(head[:half]), cat(feats[half:]), cat(head[half:])),
    }


def save_model(wm: WorldModel, path: Path) -> None:
    """Write the weights atomically (a crash mid-write leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(wm.state_dict(), tmp)
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--train-minutes", type=float, default=15.0, help="wall-clock training budget (0: evaluate --checkpoint as is)"
    )
    ap.add_argument("--train-updates", type=int, default=None, help="also stop training after this many updates")
    ap.add_argument(
        "--snapshot-minutes",
        type=float,
        default=0,
        help="also save the model every this many training minutes "
        "(<checkpoint stem>_<updates>.pt), to score it later with --train-minutes 0",
    )
    ap.add_argument(
        "--checkpoint",
        default="runs/world_model/wm.pt",
        help="where to save (and, with --train-minutes 0, load) the model",
    )
    ap.add_argument("--preset", default="cpu", choices=["cpu", "gpu"], help="WorldModelConfig preset")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="WorldModelConfig fields over the preset, e.g. --set warp_reads_senses=false warp_transforms=4",
    )
    ap.add_argument("--train-seeds", type=int, default=24, help="training mazes: procedural seeds 0..N-1")
    ap.add_argument("--steps-per-maze", type=int, default=1500, help="wander steps collected in each training maze")
    ap.add_argument("--eval-seeds", type=int, default=8, help="held-out mazes: seeds 10_000..10_000+N-1")
    ap.add_argument("--eval-steps", type=int, default=600, help="wander steps per held-out maze")
    ap.add_argument("--burn-in", type=int, default=16, help="filtering steps before open-loop prediction")
    ap.add_argument("--windows", type=int, default=24, help="open-loop windows per held-out maze")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--world", default="procedural:9x9", help="env world")
    ap.add_argument("--task", default="forage", help="env task (forage gives the food smell something to do)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        cfg = WorldModelConfig.preset(
            args.preset, **dict(field_overrides(WorldModelConfig, args.set), device=args.device)
        )
    except (TypeError, ValueError) as err:
        ap.error(f"--set: {err}")
    env = gymnasium.make("embodied/RodentMaze-v0", world=args.world, task=args.task, max_episode_steps=10**9)
    wm = WorldModel(env.observation_space, env.action_space, cfg)
    ckpt = Path(args.checkpoint)
    report: dict = {"config": cfg.to_dict(), "args": vars(args)}

    if args.train_minutes > 0:
        t0 = time.time()
        replay = SequenceReplay(
            env.observation_space, env.action_space, capacity_steps=args.train_seeds * args.steps_per_maze
        )
        rng = np.random.default_rng(0)
        for seed in range(args.train_seeds):
            ep, _, _ = rollout(env, seed, args.steps_per_maze, rng)
            for t in range(len(ep["is_first"])):
                replay.add(
                    {k: ep[k][t : t + 1] for k in wm.keys}, ep["action_prev"][t : t + 1], ep["is_first"][t : t + 1]
                )
        collect_s = time.time() - t0
        print(
            f"collected {len(replay)} steps from {args.train_seeds} mazes in {collect_s:.0f} s "
            f"({replay.bytes_per_step} bytes/step, {replay.nbytes / 2**20:.0f} MiB)",
            flush=True,
        )
        t0, deadline = time.time(), time.time() + 60 * args.train_minutes
        next_snapshot = t0 + 60 * args.snapshot_minutes
        while time.time() < deadline and (args.train_updates is None or wm.updates < args.train_updates):
            losses = wm.train_step(replay.sample(cfg.batch_size, cfg.seq_len, rng))
            if args.snapshot_minutes > 0 and time.time() >= next_snapshot:
                save_model(wm, ckpt.with_name(f"{ckpt.stem}_{wm.updates}.pt"))
                next_snapshot += 60 * args.snapshot_minutes
            if wm.updates % 100 == 0:
                print(
                    f"update {wm.updates}  {time.time() - t0:.0f}s  "
                    + "  ".join(f"{k}={v:.4f}" for k, v in sorted(losses.items())),
                    flush=True,
                )
        train_s = time.time() - t0
        report["training"] = dict(
            steps_collected=len(replay),
            collect_seconds=collect_s,
            train_seconds=train_s,
            updates=wm.updates,
            frames_per_second=wm.updates * cfg.batch_size * cfg.seq_len / train_s,
            replay_bytes_per_step=replay.bytes_per_step,
            final_losses=losses,
        )
        save_model(wm, ckpt)
        ckpt.with_suffix(".json").write_text(json.dumps(cfg.to_dict(), indent=1))
        del replay
    else:
        wm.load_state_dict(torch.load(ckpt, weights_only=True, map_location=wm.device))
    wm.eval()

    rng = np.random.default_rng(12345)
    episodes, positions, headings = [], [], []
    for i in range(args.eval_seeds):
        ep, pos, head = rollout(env, 10_000 + i, args.eval_steps, rng)
        episodes.append(ep), positions.append(pos), headings.append(head)
    true = open_loop_errors(wm, episodes, args.burn_in, max(KS), args.windows, np.random.default_rng(1))
    shuf = open_loop_errors(
        wm, episodes, args.burn_in, max(KS), args.windows, np.random.default_rng(1), shuffle_actions=True
    )

    def skill_scores(model, copy):
        return {k: {f"SS({n})": float(1 - model[k][n - 1] / max(copy[k][n - 1], 1e-12)) for n in KS} for k in wm.keys}

    skill, quiet = skill_scores(true["model"], true["copy"]), skill_scores(true["model_quiet"], true["copy_quiet"])
    ratio = {k: float(shuf["model"][k].mean() / max(true["model"][k].mean(), 1e-12)) for k in wm.keys}
    report.update(
        skill=skill,
        skill_without_food_events=quiet,
        windows_without_food_events=true["quiet_fraction"],
        shuffled_over_true=ratio,
        probe=probe(wm, episodes, positions, headings),
        mse={
            k: {name: true[name][k].tolist() for name in ("model", "copy", "model_quiet", "copy_quiet")}
            for k in wm.keys
        },
    )
    print(
        f"\nheld-out mazes: {args.eval_seeds} x {args.eval_steps} steps (seeds 10000..), windows {args.windows}/maze, burn-in {args.burn_in}"
        f"; {100 * true['quiet_fraction']:.0f} % of windows without a food event"
    )
    print(
        f"{'sense':<8} "
        + " ".join(f"{'SS(%d)' % n:>7}" for n in KS)
        + f" {'shuffled/true':>14}   without food events: "
        + " ".join(f"{'SS(%d)' % n:>7}" for n in KS)
    )
    for k in wm.keys:
        print(
            f"{k:<8} "
            + " ".join(f"{skill[k][f'SS({n})']:7.3f}" for n in KS)
            + f" {ratio[k]:14.2f}   {'':>21}"
            + " ".join(f"{quiet[k][f'SS({n})']:7.3f}" for n in KS)
        )
    print("probe R^2: " + ", ".join(f"{k}={v:.3f}" for k, v in report["probe"].items()))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
