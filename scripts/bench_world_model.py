"""World-model speed: training throughput and per-step inference latency, on CPU and CUDA.

    python scripts/bench_world_model.py [--threads 2] [--updates 10] [--steps 200]

- training: frames per second of one full update (world model ``train_step`` on a
  ``batch_size x seq_len`` replay batch, then the intrinsic heads' ``train_step``);
- acting: milliseconds per env step of ``observe`` + ``IntrinsicRewards.step`` for 1 and 8 envs.

Observations are random arrays of the env's documented spaces (no simulator in the loop:
``scripts/bench_sim.py`` measures that). Medians over repeats; the first repeats warm up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium
import numpy as np
import torch

from embodied.brain.perception.intrinsic import IntrinsicConfig, IntrinsicRewards
from embodied.brain.perception.world_model import WorldModel, WorldModelConfig


def spaces():
    obs = gymnasium.spaces.Dict(
        {
            "vision": gymnasium.spaces.Box(0, 255, (64, 64, 3), np.uint8),
            "touch": gymnasium.spaces.Box(0, 1, (20,), np.float32),
            "proprio": gymnasium.spaces.Box(-10, 10, (10,), np.float32),
            "scent": gymnasium.spaces.Box(0, 1, (4,), np.float32),
        }
    )
    return obs, gymnasium.spaces.Box(-1, 1, (3,), np.float32)


def sample(space, lead, rng):
    return {
        k: rng.uniform(s.low.min(), s.high.max(), size=(*lead, *s.shape)).astype(s.dtype)
        for k, s in space.spaces.items()
    }


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(preset: str, device: str, updates: int, steps: int, precision: str | None = None) -> dict:
    obs_space, act_space = spaces()
    cfg = WorldModelConfig.preset(preset, device=device, **({"precision": precision} if precision else {}))
    wm = WorldModel(obs_space, act_space, cfg)
    ir = IntrinsicRewards(wm, IntrinsicConfig(), num_envs=1)
    rng = np.random.default_rng(0)
    B, T = cfg.batch_size, cfg.seq_len
    batch = sample(obs_space, (B, T), rng)
    batch.update(action_prev=rng.uniform(-1, 1, (B, T, 3)).astype(np.float32), is_first=np.zeros((B, T), bool))
    times = []
    for i in range(updates + 2):
        sync(wm.device)
        t0 = time.perf_counter()
        _, posts = wm.train_step(batch, return_states=True)
        ir.train_step(batch, posts)
        sync(wm.device)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    out = {
        "preset": preset,
        "precision": cfg.precision,
        "device": str(wm.device),
        "params": sum(p.numel() for p in wm.parameters()),
        "update_s": statistics.median(times),
        "frames_per_s": B * T / statistics.median(times),
    }
    for envs in (1, 8):
        ir.reset(envs)
        state, lat = None, []
        action = np.zeros((envs, 3), np.float32)
        for i in range(steps + 5):
            o = sample(obs_space, (envs,), rng)
            first = np.full(envs, i == 0)
            sync(wm.device)
            t0 = time.perf_counter()
            new, _ = wm.observe(o, action, state, first)
            ir.step(o, action, first, state, new)
            sync(wm.device)
            state = new
            if i >= 5:
                lat.append(time.perf_counter() - t0)
        out[f"step_ms_{envs}env"] = 1000 * statistics.median(lat)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--updates", type=int, default=10, help="timed training updates")
    ap.add_argument("--steps", type=int, default=200, help="timed acting steps")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = [("cpu", "cpu", None)]
    if torch.cuda.is_available():  # the gpu preset trains in bf16; float32 beside it shows what autocast gives
        runs += [("cpu", "cuda", None), ("gpu", "cuda", "float32"), ("gpu", "cuda", "bf16")]
    print(
        f"{'preset':<7}{'precision':<10}{'device':<8}{'params':>10}{'update s':>10}{'frames/s':>10}"
        f"{'step ms (1 env)':>17}{'step ms (8 envs)':>18}"
    )
    for preset, device, precision in runs:
        r = bench(preset, device, args.updates, args.steps, precision)
        print(
            f"{r['preset']:<7}{r['precision']:<10}{r['device']:<8}{r['params']:>10,}{r['update_s']:>10.3f}"
            f"{r['frames_per_s']:>10.0f}"
            f"{r['step_ms_1env']:>17.2f}{r['step_ms_8env']:>18.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
