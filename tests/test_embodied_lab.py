"""The embodied lab end to end on a tiny budget: trains, probes checkpoints, writes its outputs."""

import json

import cv2
import numpy as np

from embodied.lab.embodied_lab import _responses, run_embodied_lab


def test_responses_align_rpe_to_light_eating_and_omission():
    rows = []
    for t in range(-10, 60):  # one rewarded trial: burst 1.0 at light, eating at step 35
        rows.append(
            {
                "trial_step": t,
                "omitted": False,
                "food_present": 30 <= t < 35,
                "reward": 1.0 if t == 35 else 0.0,
                "rpe": 1.0 if t == 0 else (0.5 if t == 36 else 0.0),
            }
        )
    for t in range(-10, 60):  # one omission trial: dip at the expected food time
        rows.append(
            {"trial_step": t, "omitted": True, "food_present": False, "reward": 0.0, "rpe": -0.6 if t == 30 else 0.0}
        )
    responses = _responses(rows)
    assert np.isclose(responses["cue"], (1.0 / 6 + 0.0) / 2)  # burst in one of the two trials' windows
    assert np.isclose(responses["eat"], 0.5 / 6)  # the reward shows one step after the eating step
    assert np.isclose(responses["omission"], -0.6 / 6)
    assert responses["n_cues"] == 2 and responses["n_eaten"] == 1 and responses["n_omissions"] == 1


def test_embodied_lab_trains_probes_and_writes_outputs(tmp_path):
    summary = run_embodied_lab(
        tmp_path,
        steps=1024,
        seed=0,
        checkpoints=1,  # probes before learning and after it
        trials=2,
        overrides=[
            "episode_steps=256",
            "num_envs=2",
            "vision_size=16",
            "learning_starts=128",
            # the outputs, not the learning, are under test here: a quarter of the world-model updates and
            # of the prediction-success decodes (the suite's budget; the criteria's runs use the defaults)
            "train_ratio=2",
            "brain.perception.intrinsic_overrides.prediction_every=4",
        ],
        video_steps=40,
    )
    for name in ("embodied.png", "embodied.csv", "embodied.json", "embodied.mp4"):
        assert (tmp_path / name).stat().st_size > 0
    video = cv2.VideoCapture(str(tmp_path / "embodied.mp4"))  # the trained rat's video: one frame per step
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 40 == summary["video"]["frames"]
    video.release()
    saved = json.loads((tmp_path / "embodied.json").read_text())
    assert set(saved["checks"]) == {
        "cue response grows with training",
        "eating response shrinks with training",
        "dip at the expected time of omitted food",
    }
    assert len(summary["responses"]) >= 2 and all(r["n_cues"] >= 1 for r in summary["responses"].values())
    assert 0 in summary["responses"]  # the untrained rat is probed first ("before learning")
    from embodied.train.config import leaves_of

    run_config = leaves_of(json.loads((tmp_path / "embodied_run" / "config.json").read_text()))
    assert run_config["critic_senses"] and run_config["critic_replay_updates"] > 0 and run_config["critic_return_norm"]
    assert (
        run_config["critic_sense_delays"] and run_config["task_options"]["omission_prob"] > 0
    )  # omissions in training
    assert run_config["task_options"]["restrained"] is True  # the default design: nose at the feeder
    assert all(r["eat_latency_s"] > 0 or r["n_eaten"] == 0 for r in summary["responses"].values())
    with open(tmp_path / "embodied.csv") as f:
        header = f.readline().strip().split(",")
        naive_values = [float(line.split(",")[header.index("value")]) for line in f if line.startswith("0,")]
    assert naive_values and all(v == 0.0 for v in naive_values)  # the naive critic predicts nothing (zero output layer)
    # the probes run the task the rat was trained in (its config's task_options): intervals of 4-10 s, not 2-5 s
    with open(tmp_path / "embodied.csv") as f:
        header = f.readline().strip().split(",")
        cells = [line.strip().split(",") for line in f]
    starts = {}
    for c in cells:
        key = (c[header.index("checkpoint_step")], c[header.index("trial")])
        starts[key] = min(starts.get(key, 0), int(c[header.index("trial_step")]))
    intervals = [-v for v in starts.values() if v < 0]
    assert len(intervals) >= 3 and all(120 <= i <= 300 for i in intervals), intervals


def test_oracle_bounds_are_the_informed_critics_td_errors():
    """A periodic trace: 10 dark steps, light at 0, pellet delivered at 3 and eaten at 5 (reward on that row);
    every 4th trial omitted. The informed critic's errors follow from the returns in closed form."""
    from embodied.lab.embodied_lab import oracle_bounds

    gamma, rows = 0.9, []
    for trial in range(80):
        omitted = trial % 4 == 3
        for t in range(-10, 10):
            rows.append(
                {
                    "trial_step": t,
                    "omitted": omitted,
                    "food_present": (not omitted) and 3 <= t < 6,
                    "reward": 1.0 if (t == 5 and not omitted) else 0.0,
                }
            )
    bounds = oracle_bounds(rows, gamma)
    rewards = np.array([r["reward"] for r in rows])
    G = np.array([sum(gamma**k * rewards[t + k] for k in range(len(rows) - t)) for t in range(len(rows))])
    ts = np.array([r["trial_step"] for r in rows])
    om = np.array([r["omitted"] for r in rows])
    ok = np.arange(len(rows)) < len(rows) - 300
    expected_cue = G[(ts == 0) & ok].mean() - gamma * G[(ts < 0) & ok].mean()
    expected_omission = gamma * G[(ts == 3) & om & ok].mean() - G[(ts == 2) & ~om & ok].mean()
    assert np.isclose(bounds["cue"], expected_cue) and np.isclose(bounds["omission"], expected_omission)
    assert bounds["cue"] > 0.2 and bounds["omission"] < -0.5  # the light predicts food; its omission disappoints


def test_probe_runs_the_box_the_checkpoint_was_trained_in(tmp_path, monkeypatch):
    """The probe reads the world (and task options) from the checkpoint's config, not a fixed box."""
    import gymnasium as gym

    from embodied.lab import embodied_lab
    from embodied.train.config import load_config

    made = []
    real_make = gym.make

    def recording_make(*args, **kwargs):
        made.append(kwargs)
        return real_make(*args, **kwargs)

    monkeypatch.setattr(embodied_lab.gym, "make", recording_make)
    config = load_config(
        None,
        [
            "world=conditioning_chamber",
            "task=conditioning",
            "vision_size=16",
            "num_envs=1",
            'task_options={"iti_steps": [10, 10], "delay_steps": 5}',
        ],
    )
    embodied_lab._save_naive(config, tmp_path / "step_0.pt")
    made.clear()
    result = embodied_lab.probe(tmp_path / "step_0.pt", trials=1, seed=0, omission_prob=0.0, channel="food")
    assert made[0]["world"] == "conditioning_chamber" and made[0]["vision_size"] == 16
    assert made[0]["task_options"]["iti_steps"] == [10, 10] and result["n_cues"] == 1


def test_the_lab_config_restrains_the_rat_unless_asked_and_overrides_win():
    import argparse

    from embodied.lab.cli import configure
    from embodied.lab.embodied_lab import LAB_TASK_OPTIONS, lab_config

    assert lab_config(1024, 0, 2).env.task_options == {**LAB_TASK_OPTIONS, "restrained": True}
    assert lab_config(1024, 0, 2, restrained=False).env.task_options["restrained"] is False
    assert lab_config(1024, 0, 2, overrides=['task_options={"omission_prob": 0.5}']).env.task_options == {
        "omission_prob": 0.5
    }
    parser = argparse.ArgumentParser()
    configure(parser)
    assert parser.parse_args(["--embodied", "--free-moving"]).free_moving and not parser.parse_args([]).free_moving
