"""Training: a real short run moves every loss, resume is exact, configs fail clearly."""

import argparse
import csv
import json

import pytest
import torch
from tiny import TINY_INTRINSIC, TINY_WORLD_MODEL

from embodied import train_command as cli
from embodied.train.checkpoint import CheckpointError, load_checkpoint
from embodied.train.config import ConfigError, TrainConfig, load_config
from embodied.train.loop import train

torch.set_num_threads(1)

TINY = dict(
    num_envs=1,
    vision_size=16,
    total_steps=256,
    episode_steps=64,
    rollout_steps=32,
    learning_starts=32,
    world_model_overrides=TINY_WORLD_MODEL,
    intrinsic_overrides=TINY_INTRINSIC,
    critic_units=32,
    actor_units=16,
    log_every=32,
    checkpoint_every=128,
    video_every=0,
    tensorboard=False,
    min_age=16,
    device="cpu",
)


def rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_short_real_run_moves_every_loss_and_leaves_a_run_folder(tmp_path):
    run = tmp_path / "run"
    summary = train(
        load_config(None, dict(TINY, video_every=256, video_steps=10, tensorboard=True)), run, progress=False
    )
    assert summary["total_steps"] == 256
    metrics = rows(run)
    losses = [k for k in metrics[0] if k.startswith("losses/") and k != "losses/nan_skips"]
    assert {"losses/world_model", "losses/intrinsic", "losses/critic", "losses/actor"} <= set(losses)
    for name in losses:
        values = [float(r[name]) for r in metrics if r.get(name)]
        assert len(values) >= 2 and values[0] != values[-1], name
    for name in (
        "charts/coverage",
        "charts/food_per_1000_steps",
        "dopamine/tonic",
        "population/size",
        "time/steps_per_second",
        "rewards/novelty",
        "rewards/effort",
        "dopamine/rpe_novelty",
        "losses/nan_skips",
    ):
        assert name in metrics[-1], name
    assert float(metrics[-1]["losses/nan_skips"]) == 0
    assert json.loads((run / "config.json").read_text())["run"]["total_steps"] == 256
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
    for part, weights in (("perception", "world_model"), ("dopamine", "critics")):
        x, y = a["agent"][part][weights], b["agent"][part][weights]
        assert all(torch.equal(x[k], y[k]) for k in x)
    assert a["agent"]["basal_ganglia"]["population"]["go"] == b["agent"]["basal_ganglia"]["population"]["go"]


def test_a_finished_run_is_never_written_over_without_resume(tmp_path):
    run = tmp_path / "run"
    train(load_config(None, dict(TINY, total_steps=64, log_every=64)), run, progress=False)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError, match="already holds a run"):
        train(load_config(None, dict(TINY, total_steps=64, log_every=64)), run, progress=False)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    "switch", ["intrinsic=false", "plasticity=false", "scalar_dopamine=true", "fixed_tonic=true", 'task="forage"']
)
def test_ablation_switches_run(tmp_path, switch):
    cfg = load_config(
        None, [f"{k}={json.dumps(v)}" for k, v in dict(TINY, total_steps=64, log_every=64).items()] + [switch]
    )
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
    from embodied.brain.perception.world_model import WorldModelConfig
    from embodied.train.config import field_overrides

    assert field_overrides(WorldModelConfig, ["warp_reads_senses=false", "log_senses=[]", "device=cpu"]) == {
        "warp_reads_senses": False,
        "log_senses": [],
        "device": "cpu",
    }
    with pytest.raises(
        ConfigError, match=r"unknown WorldModelConfig field\(s\) warp_read_senses; known: .*warp_reads_senses"
    ):
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


def test_every_knob_has_help_and_the_default_file_is_the_default_tree():
    """configs/default.json is the tree's defaults written out (regenerate it with
    ``python3 -m embodied.train.config --write-default``): the defaults live in the sections only."""
    from embodied.train.config import FIELDS, default_config_text

    assert all(f.metadata.get("help") for f in FIELDS.values()) and len(FIELDS) > 60
    assert cli.DEFAULT_CONFIG.read_text(encoding="utf-8") == default_config_text()
    assert set(json.loads(default_config_text())) == {"env", "run", "brain"}
    cfg = load_config(cli.DEFAULT_CONFIG, ["total_steps=2000", "intrinsic=false"])
    assert (
        cfg.run.total_steps == 2000
        and cfg.brain.perception.intrinsic is False
        and cfg.env.world == "procedural:9x9"
        and cfg.env.task == "explore"
    )


def test_set_reaches_every_leaf_by_path_or_name_and_validates_it_the_same_way():
    """Every knob is reachable as a dotted path and as its name alone; a path may continue into a
    mapping-valued knob (one entry changes, the others keep their defaults); a knob under the wrong
    section, or a path into a plain value, is refused with its right place named."""
    from embodied.train.config import FIELDS, PATHS, dotted

    defaults = TrainConfig()
    for name in FIELDS:
        value = defaults.get(name)
        by_path = load_config(None, {dotted(name): value}, sources={})
        assert by_path.get(name) == value and by_path.to_dict() == load_config(None, {name: value}).to_dict()
    cfg = load_config(None, ["brain.dopamine.channel_weights.food=3", "run.seed=4", "gamma=0.9"])
    assert cfg.brain.dopamine.channel_weights["food"] == 3 and cfg.brain.dopamine.channel_weights["novelty"] == 1.0
    assert (cfg.run.seed, cfg.brain.dopamine.gamma) == (4, 0.9) and PATHS["gamma"] == ("brain", "dopamine", "gamma")
    with pytest.raises(
        ConfigError, match=r"--set: channel_weights.food=-1(\.0)? must be a finite number in \[0, 1000\]"
    ):
        load_config(None, ["brain.dopamine.channel_weights.food=-1"])
    with pytest.raises(ConfigError, match=r"gamma lives in brain.dopamine.gamma"):
        load_config(None, ["run.gamma=0.9"])
    with pytest.raises(ConfigError, match=r"brain.dopamine.gamma is not a mapping"):
        load_config(None, ["gamma.x=1"])
    with pytest.raises(ConfigError, match=r"did you mean 'brain.dopamine.gamma'"):
        load_config(None, ["brain.dopamine.gama=0.9"])


def test_a_nested_config_file_and_toml_tables_load(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"run": {"seed": 5}, "brain": {"dopamine": {"lam": 0.5}}}))
    (tmp_path / "c.toml").write_text("[run]\nseed = 5\n[brain.dopamine]\nlam = 0.5\n")
    for name in ("c.json", "c.toml"):
        cfg = load_config(tmp_path / name)
        assert (cfg.run.seed, cfg.brain.dopamine.lam, cfg.brain.dopamine.gamma) == (5, 0.5, 0.97)


def test_cli_reports_bad_key_without_traceback(capsys):
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    assert cli.run(parser.parse_args(["--set", "nope=1"])) == 2
    assert "nope" in capsys.readouterr().err


def test_task_options_reach_the_task_and_bad_ones_are_named():
    from embodied.train.collector import make_single_env

    cfg = load_config(
        None,
        [
            "world=conditioning_box",
            "task=conditioning",
            "vision_size=16",
            'task_options={"iti_steps": [120, 300], "omission_prob": 0.2}',
        ],
    )
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
    with pytest.raises(ConfigError, match=r"task_options.omission_prob=2 must be a finite number in \[0, 1\]"):
        load_config(None, ["task=conditioning", 'task_options={"omission_prob": 2}'])


# ---- hostile config values: one clear error naming source, key, value and range -------------------------------
@pytest.mark.parametrize(
    "override, message",
    [
        ("train_ratio=NaN", r"--set: train_ratio=nan must be a finite number in \(0, 4096\]"),
        ("train_ratio=-8", r"--set: train_ratio=-8.0 must be a finite number in \(0, 4096\]"),
        ("train_ratio=0", r"train_ratio=0.0 must be a finite number in \(0, 4096\]"),
        ("train_ratio=0.0001", r"train_ratio=0.0001 gives .* world-model updates over the run"),
        ("actor_lr=Infinity", r"--set: actor_lr=inf must be a finite number in \(0, 1\]"),
        ("critic_lr=-Infinity", r"critic_lr=-inf must be a finite number in \(0, 1\]"),
        ('channel_weights={"food": NaN}', r"--set: channel_weights.food=nan must be a finite number in \[0, 1000\]"),
        ('channel_weights={"food": -1}', r"channel_weights.food=-1 must be a finite number in \[0, 1000\]"),
        (
            'routing={"forward": {"food": 1e300}}',
            r"routing.forward.food=1e\+300 must be a finite number in \[0, 1000\]",
        ),
        ('routing={"dancer": {}}', r"routing names unknown module kind 'dancer'; allowed: forward"),
        ('world_model_overrides={"lr": NaN}', r"world_model_overrides.lr=nan must be a finite number in \(0, 1\]"),
        (
            'world_model_overrides={"batch_size": 0}',
            r"world_model_overrides.batch_size=0 must be a whole number in \[1, 4096\]",
        ),
        ('world_model_overrides={"batch_size": "8"}', r"world_model_overrides.batch_size='8' must be a whole number"),
        ('world_model_overrides={"image_size": 24}', r"must be a power of two"),
        ('world_model_overrides={"device": "cuda"}', r"set from run.device"),
        (
            'intrinsic_overrides={"ensemble_size": 1}',
            r"intrinsic_overrides.ensemble_size=1 must be a whole number in \[2, 64\]",
        ),
        (
            'intrinsic_overrides={"scale_decay": Infinity}',
            r"intrinsic_overrides.scale_decay=inf must be a finite number",
        ),
        ('task_options={"n_food": 0}', r"task_options.n_food=0 must be a whole number in \[1, 64\]"),
        ('task_options={"eat_radius": NaN}', r"task_options.eat_radius=nan must be a finite number in \(0, 1\]"),
        ('task_options={"n_food": 2.5}', r"task_options.n_food=2.5 must be a whole number"),
        ("seed=-1", r"--set: seed=-1 must be a whole number in \[0, 4294967295\]"),
        ("seed=4294967296", r"seed=4294967296 must be a whole number in \[0, 4294967295\]"),
        ('seed="7"', r"seed='7' must be of type int"),
        ("seed=1.5", r"seed=1.5 must be of type int"),
        ("num_envs=0", r"num_envs=0 must be >= 1"),
        ("num_envs=1000", r"num_envs=1000 must be a whole number in \[1, 64\]"),
        ("vision_size=0", r"vision_size=0 must be a whole number in \[8, 512\]"),
        ("total_steps=-5", r"total_steps=-5 must be a whole number"),
        (
            "learning_starts=100000",
            r"learning_starts=100000 is not below total_steps=8192: the world model would never train",
        ),
        ("replay_capacity=10", r"replay_capacity=10 holds 5 steps per env, fewer than one world-model sequence"),
        ("replay_capacity=1000000000", r"needs about .* GiB of memory"),
        ("gamma=NaN", r"gamma=nan must be a finite number in \(0, 1\]"),
        ("critic_taus=[0.5, NaN]", r"critic_taus\[1\]=nan must be a finite number in \(0, 1\)"),
        ("vigour_range=[0.4, Infinity]", r"vigour_range\[1\]=inf must be a finite number in \[0, 100\]"),
        ("mutation_std=-0.1", r"mutation_std=-0.1 must be a finite number in \[0, 100\]"),
        ('device="tpu"', r"device='tpu'; allowed: auto, cpu, cuda, cuda:N"),
        ('world=""', r"world='' must be a name, a file or procedural:WxH"),
        ('intrinsic="maybe"', r"intrinsic='maybe' must be of type bool"),
    ],
)
def test_hostile_config_values_are_named_with_source_and_range(override, message):
    extra = ['task="forage"'] if "task_options" in override else []
    with pytest.raises(ConfigError, match=message):
        load_config(cli.DEFAULT_CONFIG, [*extra, override])


def test_a_bad_value_in_a_config_file_names_the_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"train_ratio": NaN, "seed": 3}')
    with pytest.raises(
        ConfigError, match=rf"config file {path}: train_ratio=nan must be a finite number in \(0, 4096\]"
    ):
        load_config(path)
    toml = tmp_path / "c.toml"
    toml.write_text("actor_lr = inf\n")
    with pytest.raises(ConfigError, match=rf"config file {toml}: actor_lr=inf must be a finite number"):
        load_config(toml)
    with pytest.raises(ConfigError, match=r"default: learning_starts=256 is not below total_steps=100"):
        load_config(None, ["total_steps=100", "num_envs=1"])


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("c.yaml", "seed: 1\n", r"YAML is not supported; use JSON or TOML"),
        ("c.yml", "seed: 1\n", r"YAML is not supported; use JSON or TOML"),
        ("c.json", '{\n  "seed": 1,\n  "task" "forage"\n}\n', r"c.json:3:10: not valid JSON: Expecting ':' delimiter"),
        ("c.json", '{"seed": 1, "seed": 2}', r"not valid JSON: key 'seed' appears twice"),
        ("c.json", "[1, 2]", r"must hold a mapping of key: value, got list"),
        ("c.json", b"\xff\xfe{}", r"is not UTF-8 text \(byte 0\)"),
        ("c.toml", "seed = 1\ntask = \n", r"c.toml:2:8: not valid TOML"),
        ("c.cfg", "seed = 1\n", r"c.cfg:1:1: not valid JSON: .*\(is it TOML\? name it .toml\)"),
        ("big.json", "{" + " " * (2 << 20) + "}", r"is 2097154 bytes; a config file is at most 1048576 bytes"),
    ],
)
def test_config_file_format_errors_are_honest(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_config_paths_that_are_not_files_fail_at_once(tmp_path):
    """A directory, a FIFO (open() would block), /dev/zero (endless), a symlink loop: one line each, no hang."""
    import os

    os.mkfifo(tmp_path / "fifo.json")
    os.symlink(tmp_path / "b.json", tmp_path / "a.json")
    os.symlink(tmp_path / "a.json", tmp_path / "b.json")
    for path, message in (
        (tmp_path, "is a directory"),
        (tmp_path / "fifo.json", "is not a regular file"),
        ("/dev/zero", "is not a regular file"),
        (tmp_path / "a.json", "Too many levels of symbolic links"),
        (tmp_path / "missing.json", "does not exist"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(path)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--set", "train_ratio=NaN"], "embodied train: --set: train_ratio=nan must be a finite number"),
        (
            ["train", "--steps", "-5"],
            "embodied train: --steps: total_steps=-5 must be a whole number in [1, 1000000000]",
        ),
        (["train", "--seed", "-1"], "embodied train: --seed: seed=-1 must be a whole number in [0, 4294967295]"),
        (["train", "--config", "/dev/zero"], "embodied train: config file /dev/zero is not a regular file"),
        (["train", "--resume"], "embodied train: --resume needs --run-dir"),
        (["eval", "--policy", "random", "--seeds", "0"], "embodied eval: --seeds 0: allowed 1..10000"),
        (["eval", "--policy", "random", "--episode-steps", "many"], "embodied eval: --episode-steps 'many'"),
        (["eval", "/dev/null"], "embodied eval: checkpoint /dev/null is not a regular file"),
        (["bench", "--steps", "0"], "embodied bench: --steps 0: allowed 1..1000000"),
        (["lab", "--alpha", "nan"], "embodied lab: --alpha nan: allowed"),
        (["lab", "--protocols", "nope"], "embodied lab: unknown protocol(s) ['nope']"),
    ],
)
def test_cli_user_errors_are_one_line_on_stderr_and_exit_2(capsys, argv, message):
    from embodied.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err and "Traceback" not in err, err


def test_cli_catches_project_errors_but_not_bugs(capsys, monkeypatch):
    from embodied import cli as top
    from embodied import train_command as train_cli

    def bug(args):
        raise ZeroDivisionError("a genuine bug")

    monkeypatch.setattr(train_cli, "run", bug)
    with pytest.raises(ZeroDivisionError):
        top.main(["train"])

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_cli, "run", interrupted)
    assert top.main(["train"]) == 130
    assert capsys.readouterr().err.strip() == "embodied train: interrupted (Ctrl-C)"


def test_bench_measures_env_steps_per_second(capsys):
    from embodied.cli import main

    assert main(["bench", "--steps", "20", "--blocks", "1", "--vision-size", "16", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "env steps/s" in out and float(out.split(" env steps/s")[0].split()[-1]) > 0


def test_the_train_command_writes_the_panel_video(tmp_path, capsys):
    """`embodied train` hands the panel recorder to train() (training itself never imports viz):
    its video has the recorder's frame size, not the plain ego-view fallback's (4x the camera)."""
    import cv2

    from embodied.cli import main
    from embodied.viz.panels import FRAME_H, FRAME_W

    overrides = [f"{k}={json.dumps(v)}" for k, v in dict(TINY, total_steps=64, video_every=64, video_steps=5).items()]
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), "--no-progress", "--set", *overrides]) == 0
    (video,) = (run / "videos").glob("step_*.mp4")
    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape[:2] == (FRAME_H, FRAME_W)
