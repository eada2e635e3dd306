"""Stable-Baselines3 PPO on the foraging env: the benchmark the rat's agent must beat by 1.5x.

PPO with ``MultiInputPolicy`` and SB3's defaults (n_steps 2048, batch 64, 10 epochs, lr 3e-4,
NatureCNN on the image key; a 32x32 camera is upsampled 2x by pixel repetition because
NatureCNN needs ≥ 36x36, see ``UpsampleVision``), extrinsic reward only (the forage task's food reward), on the
very env the agent trains on (same world, task, vision size, episode length). Training mazes
come from seeds < 10,000; evaluation uses held-out seeds ≥ 10,000 via ``embodied eval``'s
``evaluate_policy``.

SB3 is an optional benchmark dependency (``pip install -e .[bench]``); it is imported lazily
and a missing install is reported with that command.

    python scripts/ppo_baseline.py --steps 20000 --out runs/ppo_forage
    python scripts/ppo_baseline.py --quick
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import embodied  # noqa: F401  (registers the env)
from embodied import ENV_ID
from embodied.train.evaluate import evaluate_policy, held_out_seeds, summary_line, write_json

TRAIN_SEED_LIMIT = 10_000


def require_sb3():
    try:
        import stable_baselines3
    except ImportError:
        raise SystemExit(
            "stable-baselines3 is not installed: it is an optional benchmark dependency. "
            "Install it with  pip install -e '.[bench]'  (or  pip install stable-baselines3)"
        ) from None
    return stable_baselines3


class _SeededResets(gym.Wrapper):
    """Every reset draws its maze seed from [0, 10,000): PPO never sees a held-out maze."""

    def __init__(self, env, seed: int):
        super().__init__(env)
        self._rng = np.random.default_rng(seed)

    def reset(self, *, seed=None, options=None):
        return self.env.reset(seed=int(self._rng.integers(0, TRAIN_SEED_LIMIT)), options=options)


class UpsampleVision(gym.ObservationWrapper):
    """Nearest-neighbour upsampling of the camera by an integer factor.

    SB3's default image extractor (NatureCNN: 8x8 stride 4, 4x4 stride 2, 3x3) needs images of
    at least 36x36; the agent's default camera is 32x32. Repeating each pixel k times keeps the
    observation's information identical to the agent's while letting PPO keep its defaults.
    """

    def __init__(self, env, factor: int):
        super().__init__(env)
        self.factor = int(factor)
        spaces = dict(env.observation_space.spaces)
        h, w, c = spaces["vision"].shape
        spaces["vision"] = gym.spaces.Box(0, 255, (h * self.factor, w * self.factor, c), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)

    def observation(self, obs):
        obs = dict(obs)
        obs["vision"] = np.repeat(np.repeat(obs["vision"], self.factor, axis=0), self.factor, axis=1)
        return obs


def upsample_factor(vision_size: int) -> int:
    return max(1, -(-36 // int(vision_size)))  # ceil(36 / size): 32 -> 2, 64 -> 1


def make_train_env(world: str, task: str, episode_steps: int, vision_size: int, seed: int):
    from stable_baselines3.common.monitor import Monitor

    env = gym.make(ENV_ID, world=world, task=task, vision_size=vision_size, max_episode_steps=episode_steps)
    env = _SeededResets(env, seed)
    if upsample_factor(vision_size) > 1:
        env = UpsampleVision(env, upsample_factor(vision_size))
    return Monitor(env)


def train_ppo(
    out: Path,
    steps: int,
    world: str = "procedural:9x9",
    task: str = "forage",
    episode_steps: int = 1024,
    vision_size: int = 32,
    seed: int = 0,
    save_every: int = 0,
    device: str = "cpu",
    threads: int = 1,
    ppo_kwargs: dict | None = None,
) -> dict:
    """Train PPO (SB3 defaults) for ``steps`` env steps; saves ``out/ppo_final.zip`` (and every ``save_every``).

    ``ppo_kwargs`` overrides SB3 defaults; only the ``--quick`` smoke run uses it (n_steps=64)."""
    require_sb3()
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import CheckpointCallback

    if threads:
        torch.set_num_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = make_train_env(world, task, episode_steps, vision_size, seed)
    model = PPO("MultiInputPolicy", env, seed=seed, device=device, verbose=0, **(ppo_kwargs or {}))
    callback = CheckpointCallback(save_freq=save_every, save_path=str(out), name_prefix="ppo") if save_every else None
    start = time.time()
    model.learn(total_timesteps=int(steps), callback=callback)
    wall = time.time() - start
    model.save(out / "ppo_final")
    env.close()
    info = {
        "steps": int(model.num_timesteps),
        "torch_threads": threads,
        "ppo_kwargs": ppo_kwargs or {},
        "requested_steps": int(steps),
        "wall_s": wall,
        "world": world,
        "task": task,
        "episode_steps": episode_steps,
        "vision_size": vision_size,
        "seed": seed,
        "model": str(out / "ppo_final.zip"),
        "hyperparameters": "SB3 PPO defaults, MultiInputPolicy",
    }
    write_json(out / "ppo_train.json", info)
    return info


class SB3Policy:
    """Adapts a trained SB3 model to the Policy protocol (``reset``, ``act(obs)``)."""

    def __init__(self, model, deterministic: bool = True):
        self.model, self.deterministic = model, deterministic

    def reset(self, num_envs: int = 1) -> None:
        pass

    def act(self, obs):
        shape = self.model.observation_space["vision"].shape  # (C, H, W) once SB3 transposed it
        height = shape[1] if shape[0] in (1, 3, 4) and shape[-1] not in (1, 3, 4) else shape[0]
        k = height // obs["vision"].shape[0]
        if k > 1:
            obs = dict(obs, vision=np.repeat(np.repeat(obs["vision"], k, axis=0), k, axis=1))
        action, _ = self.model.predict(obs, deterministic=self.deterministic)
        return np.asarray(action, np.float32).reshape(3), {}


def ppo_factory(model_path: str, deterministic: bool = True):
    require_sb3()
    from stable_baselines3 import PPO

    model = PPO.load(model_path, device="cpu")
    policy = SB3Policy(model, deterministic)
    return lambda env, seed: policy


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="PPO training env steps")
    parser.add_argument("--world", default="procedural:9x9")
    parser.add_argument("--task", default="forage")
    parser.add_argument("--episode-steps", type=int, default=1024)
    parser.add_argument("--vision-size", type=int, default=32, help="match the agent's config (default 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-every", type=int, default=0, help="also save a model every N steps")
    parser.add_argument("--eval-seeds", type=int, default=5, help="held-out mazes to evaluate on")
    parser.add_argument("--eval-steps", type=int, default=1024, help="steps per evaluation episode")
    parser.add_argument("--model", help="evaluate this saved model instead of training")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 avoids oversubscribing 2 shared cores)"
    )
    parser.add_argument("--out", default="runs/ppo_baseline")
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 steps (n_steps=64), 2 mazes of 200 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.eval_seeds, args.eval_steps, args.episode_steps = 64, 2, 200, 256
    require_sb3()
    out = Path(args.out)
    if args.model:
        model_path, train_info = args.model, {"model": args.model}
    else:
        print(f"training PPO for {args.steps} env steps on {args.world} ({args.task}) ...", flush=True)
        train_info = train_ppo(
            out,
            args.steps,
            args.world,
            args.task,
            args.episode_steps,
            args.vision_size,
            args.seed,
            args.save_every,
            threads=args.threads,
            ppo_kwargs={"n_steps": 64, "batch_size": 32, "n_epochs": 2} if args.quick else None,
        )
        model_path = train_info["model"]
        print(
            f"trained {train_info['steps']} steps in {train_info['wall_s']:.0f} s "
            f"({train_info['steps'] / train_info['wall_s']:.0f} steps/s)",
            flush=True,
        )
    result = evaluate_policy(
        ppo_factory(model_path),
        args.world,
        args.task,
        held_out_seeds(args.eval_seeds),
        args.eval_steps,
        env_kwargs={"vision_size": args.vision_size},
    )
    print(summary_line("ppo", result))
    write_json(out / "ppo_eval.json", {"train": train_info, "eval": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
