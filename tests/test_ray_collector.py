"""vector_env=ray: env workers on a real local Ray instance give what the local vector env gives.

One Ray instance for the module (starting one takes seconds). Checked: the Ray vector env returns the
same arrays and infos as gymnasium's SyncVectorEnv step for step, through same-step autoresets; a tiny
training run on two workers writes the same metrics as the same run with ``sync``; a run checkpointed
under ``sync`` resumes under ``ray`` exactly; a worker killed mid-run stops ``embodied train`` with one
line; an unreachable cluster address is a one-line error after ``ray_timeout_s``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from tiny import TINY_INTRINSIC, TINY_WORLD_MODEL  # noqa: E402

from embodied import ENV_ID  # noqa: E402
from embodied.train.checkpoint import load_checkpoint  # noqa: E402
from embodied.train.collector import episode_seeds  # noqa: E402
from embodied.train.config import load_config  # noqa: E402
from embodied.train.loop import train  # noqa: E402
from embodied.train.ray_collector import (  # noqa: E402
    INSTALL_HINT,
    RayCollectionError,
    RayVectorEnv,
    connect,
    probe_address,
)

torch.set_num_threads(1)

TINY = dict(
    num_envs=2,
    vision_size=16,
    total_steps=64,
    episode_steps=16,
    rollout_steps=8,
    learning_starts=32,
    train_ratio=2,
    world_model_overrides=TINY_WORLD_MODEL,
    intrinsic_overrides=TINY_INTRINSIC,
    critic_units=32,
    actor_units=16,
    log_every=16,
    checkpoint_every=32,
    keep_checkpoints=2,
    video_every=0,
    tensorboard=False,
    min_age=16,
    device="cpu",
)
RAY = dict(vector_env="ray", envs_per_worker=1)  # two envs on two workers


@pytest.fixture(scope="module")
def local_ray():
    assert connect("", timeout_s=60, workers=2)  # this module's instance: the runs below join it, never stop it
    yield ray
    ray.shutdown()


def rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in csv.DictReader(f)]


def tensors(state, prefix="") -> dict[str, torch.Tensor]:
    """Every tensor of a nested state dict by its path (the agent's weights and optimiser moments)."""
    if isinstance(state, torch.Tensor):
        return {prefix: state}
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, list) else ()
    return {k: v for key, value in items for k, v in tensors(value, f"{prefix}/{key}").items()}


def same(a, b, where="") -> None:
    """Equal values, dtypes and shapes, down through dicts, tuples, object arrays and dataclasses."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (tuple, list)) or (isinstance(a, np.ndarray) and a.dtype == object):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert type(a) is type(b) and a == b, where


#: episodes truncated every 7 steps (a partial of gym.make: the workers can unpickle it without this module)
short_env = functools.partial(
    gym.make, ENV_ID, world="procedural:5x5", task="forage", vision_size=16, max_episode_steps=7
)


def test_the_ray_vector_env_steps_as_sync_vector_env_does_through_autoresets(local_ray):
    """3 envs on 2 workers (2 + 1), episodes truncated every 7 steps so same-step autoreset happens mid-run."""
    local = gym.vector.SyncVectorEnv([short_env] * 3, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    remote = RayVectorEnv([short_env] * 3, envs_per_worker=2, timeout_s=60)
    try:
        assert [s.stop - s.start for s in remote.slices] == [2, 1]
        assert remote.single_observation_space == local.single_observation_space
        assert remote.action_space == local.action_space
        seeds = episode_seeds(3, 0, 3)
        same(remote.reset(seed=seeds), local.reset(seed=seeds), "reset")
        actions = np.random.default_rng(0).uniform(-1, 1, (16, 3, 3)).astype(np.float32)
        ends = 0
        for t, action in enumerate(actions):
            got, want = remote.step(action), local.step(action)
            same(got, want, f"step {t}")
            ends += int(want[3].sum())
        assert ends == 6  # every env truncated at steps 7 and 14: the final_obs / final_info path was compared
    finally:
        local.close()
        remote.close()


def test_a_ray_run_writes_the_metrics_of_a_sync_run_and_resumes_one(local_ray, tmp_path_factory):
    """Two envs on two Ray workers against SyncVectorEnv: the same metrics rows (timing columns aside) and
    the same final weights; then the sync run's step-32 checkpoint continued under vector_env=ray."""
    tmp = tmp_path_factory.mktemp("runs")
    sync_run, ray_run, resumed = tmp / "sync", tmp / "ray", tmp / "resumed"
    train(load_config(None, TINY), sync_run, progress=False)
    train(load_config(None, dict(TINY, **RAY)), ray_run, progress=False)
    assert len(rows(sync_run)) == 4 and rows(ray_run) == rows(sync_run)
    assert (ray_run / "population.csv").read_text() == (sync_run / "population.csv").read_text()
    a, b = (load_checkpoint(run / "checkpoints" / "latest.pt")["agent"] for run in (sync_run, ray_run))
    assert tensors(a) and tensors(a).keys() == tensors(b).keys()
    for name, tensor in tensors(a).items():  # bit for bit; a NaN (a buffer not yet filled) equals a NaN
        torch.testing.assert_close(tensor, tensors(b)[name], rtol=0, atol=0, equal_nan=True, msg=name)

    shutil.copytree(sync_run, resumed)  # as if the sync run had stopped at its step-32 checkpoint
    for name in ("latest.pt", "step_64.pt"):
        (resumed / "checkpoints" / name).unlink()
    train(load_config(None, dict(TINY, **RAY)), resumed, resume=True, progress=False)
    assert rows(resumed) == rows(sync_run)


def _env_worker_pids() -> list[int]:
    """This process's descendants that are Ray actors of class EnvWorker (Ray titles them ray::EnvWorker)."""
    parents, titles = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                titles[int(entry.name)] = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [p for p, title in titles.items() if title.startswith("ray::EnvWorker") and descends(p)]


def test_a_worker_killed_mid_run_stops_training_with_one_line(local_ray, tmp_path, capsys):
    from embodied.cli import main

    run = tmp_path / "run"
    killed = []

    def kill_a_worker_once_training_runs():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pids = _env_worker_pids()
            if len(pids) >= 2 and (run / "metrics.csv").is_file():  # mid-run: the actors work, steps remain
                os.kill(max(pids), signal.SIGKILL)  # the newest: this run's, not a previous test's leftover
                killed.append(max(pids))
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_worker_once_training_runs, daemon=True)
    killer.start()
    overrides = [f"{k}={json.dumps(v)}" for k, v in dict(TINY, **RAY, total_steps=4096).items()]
    code = main(["train", "--no-progress", "--run-dir", str(run), "--set", *overrides])
    killer.join()
    err = capsys.readouterr().err.strip()
    assert killed and code == 2, err
    assert err.startswith("embodied train: vector_env=ray: env worker") and "died while stepping the envs" in err
    assert "--resume" in err and "\n" not in err and "Traceback" not in err
    assert len(rows(run)) < 4096 // 16  # it stopped mid-run, the rows written so far are kept


def test_an_unreachable_cluster_is_one_line_within_the_timeout():
    """ray.init on an address nobody answers retries for minutes: the probe gives up after ray_timeout_s."""
    cfg = load_config(None, dict(TINY, **RAY, ray_address="127.0.0.1:1", ray_timeout_s=2))
    with pytest.raises(RayCollectionError, match=r"^ray_address=127\.0\.0\.1:1: (no Ray cluster answered|cannot join)"):
        probe_address(cfg.run.ray_address, cfg.run.ray_timeout_s)


def test_without_ray_the_run_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    from embodied.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    overrides = [f"{k}={json.dumps(v)}" for k, v in dict(TINY, **RAY).items()]
    assert main(["train", "--no-progress", "--run-dir", str(tmp_path / "run"), "--set", *overrides]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"embodied train: {INSTALL_HINT}" and "pip install -e '.[ray]'" in err and "\n" not in err, err
