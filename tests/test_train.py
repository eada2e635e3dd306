"""Training: a real short run moves every loss, resume is exact, configs fail clearly."""
import argparse
import csv
import json

import pytest
import torch

from embodied.train import cli
from embodied.train.checkpoint import CheckpointError, load_checkpoint
from embodied.train.config import ConfigError, TrainConfig, load_config
from embodied.train.loop import train

torch.set_num_threads(1)

TINY = dict(num_envs=1, vision_size=16, total_steps=256, episode_steps=64, rollout_steps=32, learning_starts=32,
            world_model_overrides={"image_size": 16, "cnn_depth": 4, "vision_embed": 32, "vector_embed": 8, "mlp_units": 32,
                                   "mlp_layers": 1, "deter": 32, "stoch_groups": 4, "stoch_classes": 4, "hidden": 32,
                                   "batch_size": 4, "seq_len": 8},
            intrinsic_overrides={"ensemble_units": 16, "coherence_units": 16, "episodic_capacity": 256},
            critic_units=32, actor_units=16, log_every=32, checkpoint_every=128, video_every=0, tensorboard=False,
            min_age=16, device="cpu")


def rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_short_real_run_moves_every_loss_and_leaves_a_run_folder(tmp_path):
    run = tmp_path / "run"
    summary = train(load_config(None, dict(TINY, video_every=256, video_steps=10, tensorboard=True)), run, progress=False)
    assert summary["total_steps"] == 256
    metrics = rows(run)
    losses = [k for k in metrics[0] if k.startswith("losses/") and k != "losses/nan_skips"]
    assert {"losses/world_model", "losses/intrinsic", "losses/critic", "losses/actor"} <= set(losses)
    for name in losses:
        values = [float(r[name]) for r in metrics if r.get(name)]
        assert len(values) >= 2 and values[0] != values[-1], name
    for name in ("charts/coverage", "charts/food_per_1000_steps", "dopamine/tonic", "population/size",
                 "time/steps_per_second", "rewards/novelty", "rewards/effort", "dopamine/rpe_novelty", "losses/nan_skips"):
        assert name in metrics[-1], name
    assert float(metrics[-1]["losses/nan_skips"]) == 0
    assert json.loads((run / "config.json").read_text())["total_steps"] == 256
    with open(run / "population.csv", newline="") as f:
        events = list(csv.DictReader(f))
    assert list(events[0]) == ["step", "event", "module", "parent", "strength"]
    assert {"birth", "select"} <= {e["event"] for e in events}
    assert (run / "checkpoints" / "latest.pt").is_file()
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*.pt")) == ["step_128.pt", "step_256.pt"]
    videos = list((run / "videos").glob("step_*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000
    assert list((run / "tb").iterdir())


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(load_config(None, TINY), whole, progress=False)
    train(load_config(None, dict(TINY, total_steps=128)), split, progress=False)
    train(load_config(None, TINY), split, resume=True, progress=False)
    strip = lambda rs: [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rs]  # noqa: E731
    assert strip(rows(whole)) == strip(rows(split))
    assert (whole / "population.csv").read_text() == (split / "population.csv").read_text()
    a, b = load_checkpoint(whole / "checkpoints" / "latest.pt"), load_checkpoint(split / "checkpoints" / "latest.pt")
    for part in ("world_model", "critics"):
        assert all(torch.equal(a["agent"][part][k], b["agent"][part][k]) for k in a["agent"][part])
    assert a["agent"]["population"]["go"] == b["agent"]["population"]["go"]


def test_a_finished_run_is_never_written_over_without_resume(tmp_path):
    run = tmp_path / "run"
    train(load_config(None, dict(TINY, total_steps=64, log_every=64)), run, progress=False)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError, match="already holds a run"):
        train(load_config(None, dict(TINY, total_steps=64, log_every=64)), run, progress=False)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("switch", ["intrinsic=false", "plasticity=false", "scalar_dopamine=true", "fixed_tonic=true",
                                    'task="forage"'])
def test_ablation_switches_run(tmp_path, switch):
    cfg = load_config(None, [f"{k}={json.dumps(v)}" for k, v in dict(TINY, total_steps=64, log_every=64).items()] + [switch])
    train(cfg, tmp_path / "run", progress=False)
    last = rows(tmp_path / "run")[-1]
    if switch == "scalar_dopamine=true":
        assert "dopamine/rpe_total" in last
    if switch == "fixed_tonic=true":
        assert float(last["dopamine/tonic"]) == 0.0
    if switch == "intrinsic=false":
        assert float(last["rewards/novelty"]) == 0.0
    if switch == 'task="forage"':
        assert "rewards/food" in last and "charts/food_per_1000_steps" in last


def test_bad_config_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"total_steps": 100, "totl_steps": 5}))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "totl_steps" in str(err.value) and str(path) in str(err.value) and "total_steps" in str(err.value)
    with pytest.raises(ConfigError, match="bogus"):
        load_config(None, ["bogus=1"])


def test_field_overrides_parse_values_and_name_unknown_fields():
    """A script's --set for any config dataclass: JSON values, and an unknown key named with the known ones."""
    from embodied.brain.world_model import WorldModelConfig
    from embodied.train.config import field_overrides
    assert field_overrides(WorldModelConfig, ["warp_reads_senses=false", "log_senses=[]", "device=cpu"]) == {
        "warp_reads_senses": False, "log_senses": [], "device": "cpu"}
    with pytest.raises(ConfigError, match=r"unknown WorldModelConfig field\(s\) warp_read_senses; known: .*warp_reads_senses"):
        field_overrides(WorldModelConfig, ["warp_read_senses=true"])


def test_bad_config_value_names_key_and_type(tmp_path):
    with pytest.raises(ConfigError, match=r"num_envs=.*int"):
        load_config(None, ["num_envs=two"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"intrinsic": "maybe"}))
    with pytest.raises(ConfigError, match=r"intrinsic.*bool"):
        load_config(path)
    with pytest.raises(ConfigError, match="multiple of rollout_steps"):
        load_config(None, ["episode_steps=50"])
    with pytest.raises(ConfigError, match="critic_epochs=0 must be >= 1"):
        load_config(None, ["critic_epochs=0"])


def test_more_critic_epochs_fit_the_rollout_better(tmp_path):
    """Extra passes over a rollout drive the critic loss lower than one pass does (same data)."""
    losses = {}
    for epochs in (1, 8):
        run = tmp_path / f"epochs{epochs}"
        train(load_config(None, dict(TINY, total_steps=128, log_every=128, critic_epochs=epochs)), run, progress=False)
        losses[epochs] = float(rows(run)[-1]["losses/critic"])
    assert losses[8] < losses[1], losses


def test_every_field_has_help_and_the_default_file_loads():
    import dataclasses
    assert all(f.metadata.get("help") for f in dataclasses.fields(TrainConfig))
    cfg = load_config(cli.DEFAULT_CONFIG, ["total_steps=2000", "intrinsic=false"])
    assert cfg.total_steps == 2000 and cfg.intrinsic is False and cfg.world == "procedural:9x9" and cfg.task == "explore"


def test_cli_reports_bad_key_without_traceback(capsys):
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    assert cli.run(parser.parse_args(["--set", "nope=1"])) == 2
    assert "nope" in capsys.readouterr().err


def test_task_options_reach_the_task_and_bad_ones_are_named():
    from embodied.train.collector import make_single_env

    cfg = load_config(None, ["world=conditioning_box", "task=conditioning", "vision_size=16",
                             'task_options={"iti_steps": [120, 300], "omission_prob": 0.2}'])
    env = make_single_env(cfg)
    try:
        task = env.unwrapped.task
        assert task.iti_steps == (120, 300) and task.omission_prob == 0.2
    finally:
        env.close()
    default = make_single_env(load_config(None, ["world=conditioning_box", "task=conditioning", "vision_size=16"]))
    try:
        assert default.unwrapped.task.iti_steps == (60, 150) and default.unwrapped.task.omission_prob == 0.0
    finally:
        default.close()
    with pytest.raises(ConfigError, match="unknown option.*'nope'"):
        load_config(None, ["task=conditioning", 'task_options={"nope": 1}'])
    with pytest.raises(ConfigError, match="omission_prob must be in"):
        load_config(None, ["task=conditioning", 'task_options={"omission_prob": 2}'])
