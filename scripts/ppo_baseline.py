"""Stable-Baselines3 PPO on the rat's env, plain or with a Random Network Distillation bonus: the agent's peers.

PPO with ``MultiInputPolicy`` and SB3's defaults (n_steps 2048, batch 64, 10 epochs, lr 3e-4, γ 0.99,
NatureCNN on the image key; a 32x32 camera is upsampled 2x by pixel repetition because NatureCNN needs
≥ 36x36, see ``UpsampleVision``), on the very env the agent trains on (same world, task, vision size).
Training mazes come from seeds < 10,000; evaluation uses held-out seeds ≥ 10,000 via ``embodied eval``'s
``evaluate_policy``, and each training seed's result is written (atomically) as ``OUT/seed_<s>/eval.json`` in
the format ``embodied eval --json`` writes (per-maze lists ``seeds``, ``coverage``, ``food_per_1000``,
``steps_to_50``, ``steps_to_90``, ``episodes``, and their CIs), plus ``policy``, ``training_seed``, ``spec``,
``train`` and the commit: the per-maze values pair with the agent's on the same maze seeds 10000.. .

``--bonus none``: extrinsic reward only (the task's; ``explore`` has none, so PPO learns nothing there).
``--bonus rnd``: r = r_e + β·r_i with the RND bonus of Burda, Edwards, Storkey & Klimov (2018),
"Exploration by Random Network Distillation", arXiv:1810.12894 (see :class:`RandomNetworkDistillation` and
:class:`RNDBonus`); β (``--beta``) defaults to 1 with r_e the food reward of +1 per pellet. One critic
sees the sum (SB3's PPO has one value head; the paper has two, with advantages 2·A_e + A_i). Episodes
of this env never terminate, only time out, and SB3 bootstraps a time-out with γ·V(s_T), so both
streams' returns are non-episodic as the paper's intrinsic return is.

``--task explore``: coverage of held-out mazes, ``--eval-steps auto`` = 3x the DFS oracle's steps on those
mazes (as ``embodied eval``); ``--task forage``: food per 1,000 steps, ``auto`` = 2,000 steps.

SB3 is an optional benchmark dependency (``pip install -e .[bench]``); it is imported lazily and a missing
install is reported with that command. No RND library is used: docs/dependencies.md says why.

    python scripts/ppo_baseline.py --steps 20000 --out runs/ppo_forage
    python scripts/ppo_baseline.py --quick --bonus rnd

``--sample-actions`` evaluates with actions sampled from the policy as it acts in training (the default is
its mean action, SB3's evaluation default); the choice is recorded as ``spec.eval_actions``.

Measured once (smoke, commit 026051a): PPO+RND on forage, 16,384 steps (8 rollouts), seed 0, trained at
39 steps/s under ``nice -n 19`` beside other training on the 2 cores. On 3 held-out 9x9 mazes x 2,000 steps
its mean action never left the start cell (coverage 0.032 = 1 of 31 cells on each, 0.00 pellets per 1,000
steps); with sampled actions it covered 0.237 [0.032, 0.344] and ate 0.17 [0.00, 0.50] (one pellet in all).
The raw bonus fell from 2.95 (first rollout, untrained predictor) to 0.19 (eighth). A smoke figure, not a result.

Issue 14's peers at 10x the agent's budget (8,192 env steps -> 81,920), five training seeds, the
mazes and episode length of configs/sweeps/full_agent.json (explore) and the agent's 512-step
training episodes. At 39 steps/s that is ~35 min of training per seed, ~3 h per command on 2 cores.
On ``explore`` plain PPO has no reward at all: it is the issue's "plain SB3 PPO at the same budget",
a policy trained on nothing.

    nice -n 19 python scripts/ppo_baseline.py --bonus rnd --task explore --world procedural:9x9:loops=0.3 \
        --steps 81920 --episode-steps 512 --seeds 0 1 2 3 4 --eval-seeds 5 --out runs/peers/ppo_rnd_explore
    nice -n 19 python scripts/ppo_baseline.py --bonus none --task explore --world procedural:9x9:loops=0.3 \
        --steps 81920 --episode-steps 512 --seeds 0 1 2 3 4 --eval-seeds 5 --out runs/peers/ppo_explore
    nice -n 19 python scripts/ppo_baseline.py --bonus rnd --task forage --world procedural:9x9 \
        --steps 81920 --episode-steps 512 --seeds 0 1 2 3 4 --eval-seeds 5 --out runs/peers/ppo_rnd_forage
    nice -n 19 python scripts/ppo_baseline.py --bonus none --task forage --world procedural:9x9 \
        --steps 81920 --episode-steps 512 --seeds 0 1 2 3 4 --eval-seeds 5 --out runs/peers/ppo_forage

A seed whose ``eval.json`` already holds the same spec is skipped, so a stopped command resumes by rerunning it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import embodied  # noqa: F401  (registers the env)
from embodied import ENV_ID
from embodied.errors import UsageError, UserError
from embodied.experiments.files import git_stamp, read_json_or_none, utc_now, write_json_atomic
from embodied.train.evaluate import (
    dfs_episode_steps,
    evaluate_policy,
    held_out_seeds,
    make_eval_env,
    summary_line,
)

TRAIN_SEED_LIMIT = 10_000
BONUSES = ("none", "rnd")
TASKS = ("explore", "forage")
#: the senses RND sees (scent is left to the policy: the bonus rewards what the rat sees and feels)
RND_VECTOR_KEYS = ("touch", "proprio")


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


# ---- Random Network Distillation ------------------------------------------------------------------
class RunningMeanStd:
    """Mean and variance of every sample seen, merged batch by batch (Chan, Golub & LeVeque 1979):
    with n, μ, σ² so far and a batch of m samples with μ_b, σ²_b, δ = μ_b − μ:
    μ ← μ + δ·m/(n+m),  σ² ← (σ²·n + σ²_b·m + δ²·n·m/(n+m)) / (n+m),  n ← n + m."""

    def __init__(self, shape=()):
        self.mean, self.var, self.count = np.zeros(shape), np.ones(shape), 1e-4  # count ε: no division by 0

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, np.float64).reshape(-1, *self.mean.shape)
        m, mean_b, var_b = batch.shape[0], batch.mean(0), batch.var(0)
        delta, total = mean_b - self.mean, self.count + batch.shape[0]
        self.mean = self.mean + delta * m / total
        self.var = (self.var * self.count + var_b * m + delta**2 * self.count * m / total) / total
        self.count = total


class RandomNetworkDistillation:
    """The RND bonus of Burda, Edwards, Storkey & Klimov (2018), arXiv:1810.12894, on the rat's senses.

    A fixed, randomly initialised target network f and a predictor f̂ trained to match it read the same
    normalised observation ô = clip((o − μ_o)/σ_o, −5, 5) (per pixel and per feature, running mean/std);
    the prediction error e(o) = ‖f̂(ô) − f(ô)‖² / d (the mean over the d = 128 features, as the paper's
    code) is large on observations unlike those the predictor was trained on: a novelty bonus.

    Inputs: the camera at the env's resolution (32x32 RGB; PPO's 2x upsampled copy carries the same
    pixels) through a small conv net (4x4 stride 2, 3x3 stride 2, 3x3 stride 1: the paper's three
    layers resized for 32x32 instead of 84x84), and touch (20) and proprio (10) through one linear
    layer, concatenated. The target maps that to 128 features with one linear layer; the predictor has
    two more hidden layers of 256 (the paper's predictor is deeper than its target, 512 wide). Leaky
    ReLU in the convolutions, orthogonal initialisation with gain √2, Adam lr 1e-4 (the paper's).
    """

    def __init__(self, vision_shape, vector_size: int, seed: int = 0, features: int = 128, lr: float = 1e-4):
        import torch
        from torch import nn

        self.torch = torch
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)  # the target's random weights are the bonus's definition: seed them
        h, w, c = vision_shape

        def trunk():
            convs = nn.Sequential(
                nn.Conv2d(c, 32, 4, stride=2),
                nn.LeakyReLU(),
                nn.Conv2d(32, 64, 3, stride=2),
                nn.LeakyReLU(),
                nn.Conv2d(64, 64, 3, stride=1),
                nn.LeakyReLU(),
                nn.Flatten(),
            )
            flat = convs(torch.zeros(1, c, h, w)).shape[1]
            return convs, nn.Sequential(nn.Linear(vector_size, 64), nn.LeakyReLU()), flat + 64

        def network(hidden_layers: int):
            convs, vectors, width = trunk()
            layers, size = [], width
            for _ in range(hidden_layers):
                layers += [nn.Linear(size, 256), nn.ReLU()]
                size = 256
            head = nn.Sequential(*layers, nn.Linear(size, features))
            modules = nn.ModuleDict({"convs": convs, "vectors": vectors, "head": head})
            for module in modules.modules():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.init.orthogonal_(module.weight, math.sqrt(2))
                    nn.init.zeros_(module.bias)
            return modules

        self.target, self.predictor = network(0), network(2)
        self.target.requires_grad_(False)
        torch.random.set_rng_state(generator_state)
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=lr)
        self.vision_rms, self.vector_rms = RunningMeanStd((c, h, w)), RunningMeanStd((vector_size,))

    def update_normalisation(self, vision: np.ndarray, vectors: np.ndarray) -> None:
        """Fold a batch (vision (N, H, W, C) uint8, vectors (N, D)) into the running observation statistics."""
        self.vision_rms.update(np.moveaxis(np.asarray(vision, np.float64), -1, 1))
        self.vector_rms.update(vectors)

    def _normalised(self, vision: np.ndarray, vectors: np.ndarray):
        torch = self.torch
        image = (np.moveaxis(np.asarray(vision, np.float64), -1, 1) - self.vision_rms.mean) / np.sqrt(
            self.vision_rms.var + 1e-8
        )
        vector = (np.asarray(vectors, np.float64) - self.vector_rms.mean) / np.sqrt(self.vector_rms.var + 1e-8)
        return (
            torch.as_tensor(np.clip(image, -5, 5), dtype=torch.float32),
            torch.as_tensor(np.clip(vector, -5, 5), dtype=torch.float32),
        )

    def _features(self, network, image, vector):
        return network["head"](self.torch.cat([network["convs"](image), network["vectors"](vector)], dim=1))

    def _squared_error(self, image, vector):
        target = self._features(self.target, image, vector)
        return (self._features(self.predictor, image, vector) - target).pow(2).mean(dim=1)

    def prediction_error(self, vision: np.ndarray, vectors: np.ndarray, chunk: int = 512) -> np.ndarray:
        """e(o) for each observation of the batch (no learning): the raw, unnormalised bonus."""
        errors = []
        with self.torch.no_grad():
            for start in range(0, len(vision), chunk):
                image, vector = self._normalised(vision[start : start + chunk], vectors[start : start + chunk])
                errors.append(self._squared_error(image, vector).numpy())
        return np.concatenate(errors).astype(np.float64)

    def train_predictor(self, vision, vectors, epochs: int, batch_size: int, rng: np.random.Generator) -> float:
        """``epochs`` passes of Adam over the batch in shuffled minibatches, minimising the mean of e(o);
        returns the last epoch's mean loss."""
        image, vector = self._normalised(vision, vectors)
        losses = []
        for _ in range(int(epochs)):
            losses = []
            for index in np.array_split(rng.permutation(len(image)), max(1, len(image) // int(batch_size))):
                loss = self._squared_error(image[index], vector[index]).mean()
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                losses.append(loss.item())
        return float(np.mean(losses)) if losses else float("nan")


def senses_for_rnd(obs: dict, vision_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(vision (N, S, S, C) uint8 at the env's resolution, touch ‖ proprio (N, 30)) from a batch of the
    observations SB3 hands over: channel-first after its VecTransposeImage, upsampled by ``UpsampleVision``."""
    vision = np.asarray(obs["vision"])
    if vision.shape[-1] not in (1, 3, 4):  # channel-first (N, C, H, W): SB3 transposed it
        vision = np.moveaxis(vision, 1, -1)
    step = vision.shape[1] // int(vision_size)  # undo the pixel repetition exactly
    vision = vision[:, ::step, ::step]
    vectors = np.concatenate([np.asarray(obs[key], np.float32).reshape(len(vision), -1) for key in RND_VECTOR_KEYS], 1)
    return vision, vectors


def _rnd_callback_class():
    from stable_baselines3.common.callbacks import BaseCallback

    class RNDBonus(BaseCallback):
        """Adds β·r_i to the rewards of each PPO rollout, then trains the RND predictor on that rollout.

        During the rollout it keeps each step's next observation o_{t+1} (the time-out's last observation
        where an episode ended). At the rollout's end, before PPO's update:
          1. the first rollout initialises the observation statistics (the paper steps a random agent first);
          2. r_i,t = e(o_{t+1}) with the statistics of earlier rollouts;
          3. the non-episodic intrinsic return R_t = r_i,t + γ_i·R_{t−1} (γ_i = 0.99, never reset: the
             paper's reward forward filter) updates a running variance σ²_R, and r_i ← r_i / σ_R;
          4. rewards ← rewards + β·r_i, and SB3's returns and GAE advantages are recomputed from them;
          5. the observation statistics take in the rollout, and the predictor trains on its observations
             for PPO's epochs and minibatch size (the paper trains it beside PPO on the same batches).
        ``history`` keeps per-rollout means (raw e, normalised r_i, the rewards PPO then learns from, the
        predictor's loss) for ppo_train.json.
        """

        def __init__(self, vision_size: int, beta: float, seed: int, gamma_intrinsic: float = 0.99):
            super().__init__(verbose=0)
            self.vision_size, self.beta, self.seed, self.gamma_intrinsic = (
                int(vision_size),
                float(beta),
                seed,
                gamma_intrinsic,
            )
            self.rnd = None
            self.return_rms, self.return_filter = RunningMeanStd(()), None
            self.rng = np.random.default_rng(seed)
            self.vision, self.vectors = [], []
            self.history = {"raw_error": [], "intrinsic_reward": [], "reward_mean": [], "predictor_loss": []}

        def _on_step(self) -> bool:
            new_obs, dones, infos = self.locals["new_obs"], self.locals["dones"], self.locals["infos"]
            obs = {key: np.array(new_obs[key]) for key in ("vision", *RND_VECTOR_KEYS)}
            for i, done in enumerate(dones):
                if done and infos[i].get("terminal_observation") is not None:  # o_{t+1} before the auto-reset
                    for key in obs:
                        obs[key][i] = infos[i]["terminal_observation"][key]
            vision, vectors = senses_for_rnd(obs, self.vision_size)
            self.vision.append(vision)
            self.vectors.append(vectors)
            return True

        def _on_rollout_end(self) -> None:
            buffer = self.model.rollout_buffer
            steps, envs = buffer.rewards.shape
            if len(self.vision) != steps:
                raise RuntimeError(f"RND kept {len(self.vision)} observations for a rollout of {steps} steps")
            vision = np.stack(self.vision).reshape(steps * envs, *self.vision[0].shape[1:])
            vectors = np.stack(self.vectors).reshape(steps * envs, -1)
            self.vision, self.vectors = [], []
            first = self.rnd is None
            if first:
                self.rnd = RandomNetworkDistillation(vision.shape[1:], vectors.shape[1], seed=self.seed)
                self.rnd.update_normalisation(vision, vectors)
                self.return_filter = np.zeros(envs)
            raw = self.rnd.prediction_error(vision, vectors).reshape(steps, envs)
            returns = np.empty_like(raw)
            for t in range(steps):
                self.return_filter = self.return_filter * self.gamma_intrinsic + raw[t]
                returns[t] = self.return_filter
            self.return_rms.update(returns.reshape(-1))
            intrinsic = raw / np.sqrt(self.return_rms.var + 1e-8)
            buffer.rewards += (self.beta * intrinsic).astype(buffer.rewards.dtype)
            buffer.compute_returns_and_advantage(last_values=self.locals["values"], dones=self.locals["dones"])
            if not first:  # the first rollout is in the statistics already
                self.rnd.update_normalisation(vision, vectors)
            loss = self.rnd.train_predictor(vision, vectors, self.model.n_epochs, self.model.batch_size, self.rng)
            for key, value in (
                ("raw_error", raw.mean()),
                ("intrinsic_reward", intrinsic.mean()),
                ("reward_mean", buffer.rewards.mean()),  # r_e + β·r_i: what PPO's update sees
                ("predictor_loss", loss),
            ):
                self.history[key].append(float(value))
                self.logger.record(f"rnd/{key}", float(value))

    return RNDBonus


# ---- training and evaluation ---------------------------------------------------------------------
def _save_model_atomic(model, path: Path) -> Path:
    """SB3's zip through ``.<name>.tmp.zip`` and os.replace: a crash leaves the old file or none, never half."""
    tmp = path.with_name(f".{path.stem}.tmp.zip")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


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
    bonus: str = "none",
    beta: float = 1.0,
) -> dict:
    """Train PPO (SB3 defaults) for ``steps`` env steps; saves ``out/ppo_final.zip`` (and every ``save_every``).

    ``bonus="rnd"`` adds β times the RND bonus to the rewards (:class:`RNDBonus`). ``ppo_kwargs`` overrides
    SB3 defaults; only the ``--quick`` smoke run uses it (n_steps=64)."""
    if bonus not in BONUSES:
        raise UsageError(f"bonus {bonus!r}: allowed {', '.join(BONUSES)}")
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
    callbacks = [CheckpointCallback(save_freq=save_every, save_path=str(out), name_prefix="ppo")] if save_every else []
    rnd = _rnd_callback_class()(vision_size, beta, seed) if bonus == "rnd" else None
    callbacks += [rnd] if rnd else []
    start = time.time()
    model.learn(total_timesteps=int(steps), callback=callbacks or None)
    wall = time.time() - start
    model_path = _save_model_atomic(model, out / "ppo_final.zip")
    env.close()
    info = {
        "steps": int(model.num_timesteps),
        "torch_threads": threads,
        "ppo_kwargs": ppo_kwargs or {},
        "requested_steps": int(steps),
        "wall_s": wall,
        "steps_per_s": model.num_timesteps / max(wall, 1e-9),
        "world": world,
        "task": task,
        "episode_steps": episode_steps,
        "vision_size": vision_size,
        "seed": seed,
        "model": str(model_path),
        "hyperparameters": "SB3 PPO defaults, MultiInputPolicy",
        "bonus": bonus,
    }
    if rnd is not None:
        info["rnd"] = {
            "beta": beta,
            "gamma_intrinsic": rnd.gamma_intrinsic,
            "senses": ["vision", *RND_VECTOR_KEYS],
            "reference": "Burda, Edwards, Storkey & Klimov 2018, arXiv:1810.12894",
            "per_rollout": rnd.history,
        }
    write_json_atomic(out / "ppo_train.json", info)
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
    """``make_policy(env, seed)`` for :func:`evaluate_policy`: the model's mean action (``deterministic``, SB3's
    evaluation default) or actions sampled from its Gaussian as in training, torch's generator seeded by the maze
    seed so a sampled evaluation repeats."""
    require_sb3()
    import torch
    from stable_baselines3 import PPO

    model = PPO.load(model_path, device="cpu")
    policy = SB3Policy(model, deterministic)

    def make(env, seed):
        if not deterministic:
            torch.manual_seed(int(seed))
        return policy

    return make


# ---- command line --------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse whose errors are a UsageError: one line on stderr and exit 2, as embodied's commands."""

    def error(self, message):
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ppo_baseline.py", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="PPO training env steps per seed")
    parser.add_argument("--bonus", default="none", help=f"exploration bonus: {' | '.join(BONUSES)}")
    parser.add_argument("--beta", type=float, default=1.0, help="weight β of the RND bonus: r = r_e + β r_i")
    parser.add_argument("--world", default="procedural:9x9", help="layout name, file, or procedural:WxH[:loops=F]")
    parser.add_argument("--task", default="forage", help=f"{' | '.join(TASKS)}")
    parser.add_argument("--episode-steps", type=int, default=1024, help="training episode length")
    parser.add_argument("--vision-size", type=int, default=32, help="match the agent's config (default 32)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds, each its own run")
    parser.add_argument("--save-every", type=int, default=0, help="also save a model every N steps")
    parser.add_argument("--eval-seeds", type=int, default=5, help="held-out mazes to evaluate on (10000..)")
    parser.add_argument(
        "--eval-steps",
        default="auto",
        help="steps per evaluation episode; 'auto' = 3x the DFS oracle's (explore) or 2000 (forage), as embodied eval",
    )
    parser.add_argument(
        "--sample-actions",
        action="store_true",
        help="evaluate with actions sampled from the policy, as it acts in training (default: its mean action)",
    )
    parser.add_argument("--model", help="evaluate this saved model instead of training (writes OUT/eval.json)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 avoids oversubscribing 2 shared cores)"
    )
    parser.add_argument("--out", default="runs/ppo_baseline")
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 steps (n_steps=64), 2 mazes of 200 steps")
    return parser


def _checked(args) -> int:
    """The evaluation episode length (0 for auto) once every argument is checked; UsageError names the bad one."""
    if args.bonus not in BONUSES:
        raise UsageError(f"--bonus {args.bonus!r}: allowed {', '.join(BONUSES)}")
    if args.task not in TASKS:
        raise UsageError(f"--task {args.task!r}: allowed {', '.join(TASKS)}")
    if not (math.isfinite(args.beta) and args.beta >= 0):
        raise UsageError(f"--beta {args.beta}: a finite number ≥ 0")
    for flag, value, low, high in (
        ("--steps", args.steps, 1, 100_000_000),
        ("--episode-steps", args.episode_steps, 1, 10_000_000),
        ("--vision-size", args.vision_size, 8, 256),
        ("--eval-seeds", args.eval_seeds, 1, 10_000),
        ("--save-every", args.save_every, 0, 100_000_000),
        ("--threads", args.threads, 0, 1024),
    ):
        if not low <= value <= high:
            raise UsageError(f"{flag} {value}: allowed {low}..{high}")
    if any(not 0 <= s < 2**32 for s in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        raise UsageError(f"--seeds {' '.join(map(str, args.seeds))}: distinct whole numbers in [0, 2^32 - 1]")
    if args.model and not Path(args.model).is_file():
        raise UsageError(f"--model {args.model}: no such file")
    if args.eval_steps == "auto":
        return 0
    try:
        steps = int(args.eval_steps)
    except ValueError:
        raise UsageError(f"--eval-steps {args.eval_steps!r}: a whole number 1..10000000 or 'auto'") from None
    if not 1 <= steps <= 10_000_000:
        raise UsageError(f"--eval-steps {steps}: allowed 1..10000000 or 'auto'")
    return steps


def _run(args) -> int:
    if args.quick:
        args.steps, args.eval_seeds, args.eval_steps, args.episode_steps = 64, 2, "200", 256
    eval_steps = _checked(args)
    make_eval_env(args.world, args.task, 1, {"vision_size": args.vision_size}).close()  # a bad --world fails here
    require_sb3()
    out, env_kwargs = Path(args.out), {"vision_size": args.vision_size}
    mazes = held_out_seeds(args.eval_seeds)
    if not eval_steps:
        if args.task == "explore":
            eval_steps = dfs_episode_steps(args.world, mazes, env_kwargs)["episode_steps"]
            print(f"evaluation episodes of {eval_steps} steps = 3 x the DFS oracle's mean on mazes {mazes}", flush=True)
        else:
            eval_steps = 2000

    def evaluate(model_path: str) -> dict:
        make = ppo_factory(model_path, deterministic=not args.sample_actions)
        return evaluate_policy(make, args.world, args.task, mazes, eval_steps, env_kwargs=env_kwargs)

    name = "ppo+rnd" if args.bonus == "rnd" else "ppo"
    if args.model:
        result = evaluate(args.model)
        print(summary_line(name, result))
        actions = "sampled" if args.sample_actions else "mean"
        write_json_atomic(
            out / "eval.json", {**result, "policy": name, "model": args.model, "eval_actions": actions, **git_stamp()}
        )
        return 0
    results = []
    for seed in args.seeds:
        spec = {
            "bonus": args.bonus,
            "beta": args.beta if args.bonus == "rnd" else None,
            "task": args.task,
            "world": args.world,
            "steps": args.steps,
            "episode_steps": args.episode_steps,
            "vision_size": args.vision_size,
            "mazes": mazes,
            "eval_steps": eval_steps,
            "eval_actions": "sampled" if args.sample_actions else "mean",
            "quick": args.quick,
        }
        seed_dir = out / f"seed_{seed}"
        done = read_json_or_none(seed_dir / "eval.json")
        if done and done.get("spec") == spec:
            print(f"seed {seed}: {seed_dir / 'eval.json'} already holds this spec; skipped", flush=True)
            results.append(done)
            continue
        print(f"seed {seed}: training {name} for {args.steps} env steps on {args.world} ({args.task}) ...", flush=True)
        info = train_ppo(
            seed_dir,
            args.steps,
            args.world,
            args.task,
            args.episode_steps,
            args.vision_size,
            seed,
            args.save_every,
            threads=args.threads,
            ppo_kwargs={"n_steps": 64, "batch_size": 32, "n_epochs": 2} if args.quick else None,
            bonus=args.bonus,
            beta=args.beta,
        )
        print(
            f"  trained {info['steps']} steps in {info['wall_s']:.0f} s ({info['steps_per_s']:.1f} steps/s)", flush=True
        )
        result = evaluate(info["model"])
        record = {**result, "policy": name, "training_seed": seed, "spec": spec, "train": info}
        write_json_atomic(seed_dir / "eval.json", {**record, "date": utc_now(), **git_stamp()})
        print("  " + summary_line(f"{name} seed {seed}", result), flush=True)
        results.append(record)
    if len(results) > 1:
        for key in ("coverage", "food_per_1000"):
            per_seed = [float(np.mean(r[key])) for r in results]
            print(f"{name} {key}: per training seed {np.round(per_seed, 3).tolist()}, mean {np.mean(per_seed):.3f}")
    return 0


def main(argv=None) -> int:
    try:
        return _run(_parser().parse_args(argv))
    except UserError as err:
        print(f"ppo_baseline.py: {' | '.join(str(err).splitlines())}", file=sys.stderr)
        return int(err.exit_code)


if __name__ == "__main__":
    sys.exit(main())
