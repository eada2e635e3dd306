"""Checkpoints: weights_only loads, clear errors for bad files, the folder left intact, policies."""
import numpy as np
import pytest
import torch

from embodied.train.checkpoint import CheckpointError, load_checkpoint, load_policy, save_checkpoint
from embodied.train.config import load_config
from embodied.train.loop import train
from test_train import TINY

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    train(load_config(None, dict(TINY, total_steps=128, checkpoint_every=64, keep_checkpoints=1)), run_dir, progress=False)
    return run_dir


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_checkpoints_are_atomic_kept_and_load_weights_only(run):
    ckpts = run / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["latest.pt", "step_128.pt"]  # keep_checkpoints=1, no tmp left
    payload = torch.load(ckpts / "latest.pt", weights_only=True)
    assert payload["step"] == 128 and payload["config"]["episode_steps"] == 64
    assert load_checkpoint(ckpts / "latest.pt")["format"] == "embodied.train.checkpoint"


def test_truncated_checkpoint_gives_a_clear_error_and_leaves_the_folder_intact(run, tmp_path):
    bad = run / "checkpoints" / "truncated.pt"
    data = (run / "checkpoints" / "latest.pt").read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    before = snapshot(run)
    try:
        with pytest.raises(CheckpointError, match="truncated.pt.*(truncated|corrupted)"):
            load_checkpoint(bad)
        with pytest.raises(CheckpointError, match="truncated.pt"):
            load_policy(bad)
        assert snapshot(run) == before
    finally:
        bad.unlink()


def test_corrupted_empty_and_foreign_files(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_checkpoint(garbage)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pt.*empty"):
        load_checkpoint(empty)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an embodied training checkpoint"):
        load_checkpoint(foreign)


class Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_objects_that_need_code_to_load_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "embodied.train.checkpoint", "version": 1, "step": 0, "config": {}, "agent": Evil()}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)


def test_save_is_atomic_replace(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"step": 1, "config": {}, "agent": {}})
    save_checkpoint(path, {"step": 2, "config": {}, "agent": {}})
    assert load_checkpoint(path)["step"] == 2 and [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_load_policy_acts_with_extras(run, make_env):
    env = make_env(world="procedural:9x9", task="explore", vision_size=24)  # any vision size: the model resizes
    policy = load_policy(run / "checkpoints" / "latest.pt", env=env, device="cpu")
    obs, _ = env.reset(seed=1)
    policy.reset(num_envs=1)
    for _ in range(3):
        action, extras = policy.act(obs)
        obs, *_ = env.step(action)
    assert action.shape == (3,)
    assert {"predicted_vision", "rpe", "tonic", "module", "rewards"} <= set(extras)
    assert extras["predicted_vision"].shape == (24, 24, 3)
    standalone = load_policy(run / "checkpoints" / "latest.pt", device="auto")  # spaces from the checkpoint's config
    assert standalone.act(obs)[0].shape == (3,)
