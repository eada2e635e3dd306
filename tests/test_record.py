"""Rollout videos: the real command writes a real MP4 whose panels show what the env returned."""

import cv2
import gymnasium as gym
import numpy as np
import pytest

from embodied import ENV_ID
from embodied.brain.policies import WanderPolicy
from embodied.cli import main
from embodied.viz import panels
from embodied.viz.record import Recorder, record_rollout


def read_video(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def crop(frame, name):
    y0, y1, x0, x1 = panels.panel_rect(name)
    return frame[y0:y1, x0:x1].astype(np.float32)


def test_record_command_writes_a_readable_mp4(tmp_path, capsys):
    out = tmp_path / "videos" / "run.mp4"
    code = main(["record", "--policy", "random", "--world", "t_maze", "--steps", "24", "--out", str(out)])
    assert code == 0
    assert "24 frames" in capsys.readouterr().out
    frames = read_video(out)
    assert len(frames) == 24
    assert frames[0].shape == (panels.FRAME_H, panels.FRAME_W, 3)
    stack = np.stack(frames).astype(np.float32)
    assert stack.std() > 20  # not a constant picture
    assert np.abs(stack[-1] - stack[0]).mean() > 0.5  # and it changes over time (the map's trace, the bars)


def test_record_command_shows_progress_and_the_library_call_is_quiet_by_default(tmp_path, capsys):
    """The CLI's tqdm bar on stderr counts every recorded step (frames are written as they are drawn);
    record_rollout without progress=True prints nothing, for the training loop's own output."""
    out = tmp_path / "bar.mp4"
    assert main(["record", "--policy", "wander", "--world", "t_maze", "--steps", "12", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "recording bar.mp4" in err and "12/12" in err
    env = gym.make(ENV_ID, world="t_maze")
    try:
        record_rollout(env, WanderPolicy(seed=0), 5, tmp_path / "quiet.mp4", seed=0)
        assert capsys.readouterr().err == ""
        record_rollout(env, WanderPolicy(seed=0), 5, tmp_path / "loud.mp4", seed=0, progress=True)
        assert "5/5" in capsys.readouterr().err
    finally:
        env.close()


def test_record_rejects_a_world_that_does_not_exist(tmp_path, capsys):
    code = main(["record", "--world", str(tmp_path / "nowhere.maze"), "--steps", "3", "--out", str(tmp_path / "x.mp4")])
    assert code == 2
    assert "nowhere.maze" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fps", "0"], "--fps must be a number in (0, 1000.0], got 0.0"),
        (["--fps", "nan"], "--fps must be a number"),
        (["--fps", "-5"], "--fps must be a number"),
        (["--fps", "inf"], "--fps must be a number"),
        (["--steps", "0"], "--steps must be ≥ 1, got 0"),
        (["--out", "{tmp}"], "must end in .mp4"),
        (["--out", "{tmp}/notes.txt"], "notes.txt' must end in .mp4"),
        (["--out", "{tmp}/dir.mp4"], "is a directory"),
    ],
)
def test_record_refuses_bad_arguments_in_one_line_and_touches_no_file(tmp_path, capsys, args, message):
    (tmp_path / "dir.mp4").mkdir()
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code = main(["record", "--world", "t_maze", "--steps", "2", "--out", str(tmp_path / "x.mp4"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert notes.read_text() == "keep me" and not (tmp_path / "x.mp4").exists()


def test_record_explains_a_missing_checkpoint(tmp_path, capsys):
    code = main(
        ["record", "--checkpoint", str(tmp_path / "missing.pt"), "--steps", "3", "--out", str(tmp_path / "x.mp4")]
    )
    assert code == 2
    assert "missing.pt does not exist" in capsys.readouterr().err


class LoggingPolicy:
    """Wander, remember each observation acted on, and report fake brain extras."""

    def __init__(self):
        self.inner = WanderPolicy(seed=1)
        self.seen = []

    def reset(self, num_envs=1):
        self.inner.reset()

    def act(self, obs):
        self.seen.append(obs["vision"].copy())
        action, _ = self.inner.act(obs)
        t = len(self.seen)
        # the "prediction" is the real frame upside down, so it is recognisable in its panel
        extras = {
            "predicted_vision": obs["vision"][::-1].copy(),
            "rpe": {"novelty": np.sin(t / 3), "food": 0.0},
            "tonic": 0.1 * t,
            "module": "wander",
        }
        return action, extras


def test_video_panels_show_the_frame_the_env_returned_at_that_step(tmp_path):
    env = gym.make(ENV_ID, world="t_maze")
    policy = LoggingPolicy()
    try:
        stats = record_rollout(env, policy, 30, tmp_path / "sync.mp4", seed=3)
    finally:
        env.close()
    frames = read_video(tmp_path / "sync.mp4")
    assert stats["frames"] == len(frames) == len(policy.seen) == 30
    size = panels.AREA

    def upscaled(img):
        return cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST).astype(np.float32)

    errors = np.array(
        [[np.abs(crop(frames[t], "ego") - upscaled(policy.seen[s])).mean() for s in range(30)] for t in (5, 15, 29)]
    )
    for row, t in zip(errors, (5, 15, 29)):
        assert row[t] < 6.0, f"frame {t}: ego panel differs from the env's obs by {row[t]:.1f} grey levels"
        assert row[t] == row.min(), f"frame {t} matches the obs of step {row.argmin()} better than its own"
    predicted = crop(frames[15], "predicted")
    assert np.abs(predicted - upscaled(policy.seen[15][::-1])).mean() < 6.0
    assert np.abs(predicted - upscaled(policy.seen[15])).mean() > 8.0  # really the flipped one


def test_predicted_panel_says_no_model_without_a_prediction():
    recorder = Recorder(None)
    env = gym.make(ENV_ID, world="t_maze")
    try:
        obs, info = env.reset(seed=0)
        frame = recorder.render(obs, info, {}, env.unwrapped.layout)
    finally:
        env.close()
    no_model = crop(frame, "predicted")
    assert no_model.std() > 1  # the words are there
    assert (no_model == no_model[0, 0]).mean() > 0.95  # and nothing else
    dopamine = crop(frame, "dopamine")
    assert (dopamine == dopamine[0, 0]).mean() > 0.95


def test_trace_panel_draws_each_channel_in_its_colour():
    area = panels.trace_panel({"novelty": np.linspace(-1, 1, 50), "tonic": np.full(50, 0.5)})
    assert area.shape == (panels.AREA, 2 * panels.TILE_W, 3)
    for name in ("novelty", "tonic"):
        colour = np.array(panels.CHANNEL_COLOURS[name])
        assert (np.abs(area.astype(int) - colour).sum(-1) < 10).sum() > 20, name


def test_touch_panel_lights_the_touched_whisker_and_rejects_bad_shapes():
    free = panels.touch_panel(np.zeros(20))
    touched = np.zeros(20)
    touched[0] = 1.0  # the front left whisker at full contact
    lit = panels.touch_panel(touched)
    red = np.array([255, 0, 0])
    assert (np.abs(lit.astype(int) - red).sum(-1) < 30).sum() > 20
    assert (np.abs(free.astype(int) - red).sum(-1) < 30).sum() == 0
    left, right = lit[:, : panels.TILE_W // 2], lit[:, panels.TILE_W // 2 :]
    assert (np.abs(left.astype(int) - red).sum(-1) < 30).sum() > (np.abs(right.astype(int) - red).sum(-1) < 30).sum()
    with pytest.raises(ValueError, match="whiskers"):
        panels.touch_panel(np.zeros(7))


def test_compose_frame_rejects_unknown_or_misshapen_panels():
    with pytest.raises(KeyError, match="unknown panels"):
        panels.compose_frame({"nose": np.zeros((panels.AREA, panels.TILE_W, 3), np.uint8)})
    with pytest.raises(ValueError, match="must be"):
        panels.compose_frame({"ego": np.zeros((10, 10, 3), np.uint8)})


def test_a_recorded_rat_is_told_when_it_eats(tmp_path):
    """record_rollout passes each step's reward to the policy (observe_reward): the rat's food channel
    reads the pellets it ate, so a video's dopamine trace shows the eating burst. A real untrained agent,
    restrained at the feeder so that it eats every pellet as it drops."""
    from embodied.brain.agent import Agent, AgentPolicy
    from embodied.train.config import load_config

    env = gym.make(
        ENV_ID,
        world="conditioning_box",
        task="conditioning",
        vision_size=16,
        max_episode_steps=10**6,
        task_options={"iti_steps": [20, 20], "restrained": True},
    )
    cfg = load_config(None, ["vision_size=16", "num_envs=1"])
    policy = AgentPolicy(
        Agent(cfg.brain, env.observation_space, env.action_space, num_envs=1, seed=cfg.run.seed), predict=False
    )
    food_seen = []
    act = policy.act

    def spying_act(obs):
        action, extras = act(obs)
        food_seen.append(extras["rewards"]["food"])
        return action, extras

    policy.act = spying_act
    stats = record_rollout(env, policy, 130, tmp_path / "fed.mp4", seed=0)
    env.close()
    assert stats["food_eaten"] >= 2 and sum(food_seen) == stats["food_eaten"]


def test_a_stop_request_ends_the_recording_with_a_closed_video_of_the_frames_so_far(tmp_path):
    """``stop()`` is asked before each step (what ``embodied record`` passes its Ctrl-C flag as): it turning
    true after 7 frames leaves a 7-frame video that opens."""
    env = gym.make(ENV_ID, world="t_maze")
    drawn = []
    stats = record_rollout(
        env, WanderPolicy(seed=0), 500, tmp_path / "cut.mp4", seed=0, stop=lambda: drawn.append(1) or len(drawn) > 7
    )
    env.close()
    assert stats["frames"] == stats["steps"] == 7
    assert len(read_video(tmp_path / "cut.mp4")) == 7


def test_ctrl_c_keeps_the_frames_so_far_as_a_playable_video(tmp_path):
    """SIGINT mid-recording: exit 130, one line, and the MP4 written so far opens with its frames
    (the writer is released on the way out, which writes the index a player needs)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "cut.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "embodied.cli", "record", "--world", "t_maze", "--steps", "5000", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's & ignores it
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and out.stat().st_size > 100_000):
            assert proc.poll() is None and time.monotonic() < deadline, "the recording did not get going"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err and "interrupted" in err.splitlines()[-1]
    assert 10 < len(read_video(out)) < 5000
