"""The GUI as a person uses it: a real X server (Xvfb), screenshots, key presses that move the rat.

This test starts Xvfb itself on a free display number and runs scripts/gui_smoke.py in a
subprocess with DISPLAY set (PyBullet allows one GUI per process). scripts/install.sh
installs Xvfb and xdotool; without them the test fails and says so, it does not skip.
The dashboard is checked on a grab of the X screen, panel by panel; without a display,
``embodied view`` and human-mode envs must say so in one line, and the process must live.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from embodied.viz import panels
from embodied.viz.dashboard import STRIP_H

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def display():
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is not installed: run `bash scripts/install.sh` (it apt-installs xvfb and xdotool)"
    number = next(
        n
        for n in range(90, 190)
        if not os.path.exists(f"/tmp/.X{n}-lock") and not os.path.exists(f"/tmp/.X11-unix/X{n}")
    )
    # wide enough for PyBullet's 1024-pixel window and the dashboard beside it
    server = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{number}"):
            assert server.poll() is None, f"Xvfb :{number} exited: {server.stderr.read().decode()[-500:]}"
            assert time.monotonic() < deadline, f"Xvfb :{number} did not start within 10 s"
            time.sleep(0.05)
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def report(display, tmp_path_factory):
    out = tmp_path_factory.mktemp("gui")
    env = dict(os.environ, DISPLAY=display, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gui_smoke.py"), "--out", str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert done.returncode == 0, f"gui_smoke failed:\n{done.stderr[-3000:]}"
    result = json.loads((out / "report.json").read_text())
    result["_out"] = out
    return result


def test_screenshot_shows_the_maze_and_the_rat(report):
    shot = report["screenshot"]
    assert shot["mean"] > 30 and shot["std"] > 10, f"black or flat screen: {shot}"
    assert shot["rat_pixels"] > 50, "the rat is not in view"
    assert sum(shot["other_bodies"].values()) > 0.3 * 480 * 360, "the maze does not fill the view"
    assert len(shot["other_bodies"]) >= 5  # floor and several wall boxes
    assert (report["_out"] / "screenshot.png").stat().st_size > 2000


def test_whiskers_and_odour_are_drawn_and_no_text_is_left_in_the_scene(report):
    assert report["whisker_items"] == 16
    assert report["odour_item"] >= 0
    assert report["scene_texts"] == [], "text in the 3D scene is hidden by walls: it belongs on the dashboard"


def test_dashboard_window_shows_the_videos_seven_panels(report):
    """Measured on the grab (T-maze, seed 0, 12 steps): share of pixels unlike the background per panel
    map 0.73, ego 1.0, predicted 1.0, whiskers 0.21, senses 0.55, dopamine 0.022, policy 0.060;
    grey-level std 17 (dopamine) to 66 (map). The screen shows exactly the frame handed to Tk."""
    dash = report["dashboard"]
    assert dash["size"] == dash["expected_size"] == [panels.FRAME_H + STRIP_H, panels.FRAME_W]
    assert dash["differs_from_frame"] is not None and dash["differs_from_frame"] < 1.0
    assert dash["frames_shown"] >= 12  # one picture per step
    stats = dash["panels"]
    assert set(stats) == set(panels.LAYOUT) and len(stats) == 7
    for name, floor in {
        "map": 0.3,
        "ego": 0.5,
        "predicted": 0.5,
        "touch": 0.08,
        "senses": 0.2,
        "dopamine": 0.008,
        "status": 0.025,
    }.items():
        assert stats[name]["drawn"] > floor and stats[name]["std"] > 8, f"{name} panel looks blank: {stats[name]}"
    assert (report["_out"] / "dashboard.png").stat().st_size > 20000
    assert "control: agent" in report["state_line"] and "speed x1" in report["state_line"]


def test_dashboard_keeps_up_and_its_dopamine_traces_move_on(report):
    """The traces scroll: 4.3 mean grey levels of change in the dopamine panel after ~45 more steps."""
    assert report["dopamine_changed"] > 1.0
    assert report["dashboard_later_panels"]["dopamine"]["drawn"] > report["dashboard"]["panels"]["dopamine"]["drawn"]
    assert report["dashboard_frames_shown"] >= report["viewer_steps"]


def test_scripted_keys_drive_pause_and_step_the_rat(report):
    assert report["control_after_drive_key"] == "keyboard"
    assert report["forward_moved"] > 0.15  # 15 steps at up to 0.6 m/s is 0.3 m
    assert report["turned"] > 0.5  # 'a' turns left (counter-clockwise)
    assert report["paused_moved"] == 0.0 and report["paused_steps"] == 0
    assert report["single_steps"] == 1
    assert report["speed_after_two_plus"] == 4.0 and report["speed_after_minus"] == 2.0
    assert report["paused_after_resume"] is False


def test_real_key_presses_move_the_rat(report):
    assert report.get("xdotool_windows"), f"no PyBullet window found by xdotool: {report.get('xdotool')}"
    assert report["xdotool_moved"] > 0.05, f"holding Up did not move the rat: polls {report.get('xdotool_polls')}"


def test_real_key_presses_in_the_dashboard_pause_step_and_speed_up(report):
    assert report.get("dashboard_windows"), f"no dashboard window found by xdotool: {report.get('dashboard_xdotool')}"
    assert report["dashboard_space_paused"] is True
    assert report["dashboard_n_steps"] == 1
    assert report["dashboard_speed"][1] == 2 * report["dashboard_speed"][0]
    assert report["dashboard_space_resumed"] is True


def test_check_env_passes_in_human_render_mode(report):
    assert report["check_env"] == "ok", report["check_env"]


def test_view_without_a_display_says_what_to_do(capsys, monkeypatch):
    from embodied.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(["view", "--world", "t_maze"]) == 2
    assert "Xvfb" in capsys.readouterr().err


def free_display_number() -> int:
    return next(
        n
        for n in range(77, 300)
        if not os.path.exists(f"/tmp/.X{n}-lock") and not os.path.exists(f"/tmp/.X11-unix/X{n}")
    )


def run_without_display(display: str | None, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("DISPLAY", None)
    if display is not None:
        env["DISPLAY"] = display
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("display", [None, ":99x", "dead"])
def test_view_without_a_reachable_display_exits_2_with_one_line(display):
    """Unset, malformed and serverless DISPLAY alike: one line, exit 2, and PyBullet never asked for a window
    (it would end the process from C with exit 1 and its start-up lines on stdout)."""
    display = f":{free_display_number()}" if display == "dead" else display
    done = run_without_display(display, "-m", "embodied.cli", "view", "--world", "t_maze", "--steps", "1")
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("pybullet build time")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr  # (PyBullet prints its build on import)
    assert "embodied view needs a display" in lines[0] and "Xvfb" in lines[0]
    if display:
        assert repr(display) in lines[0]
    assert "startThreads" not in done.stdout and "X11 functions" not in done.stdout


HUMAN_ENV_SCRIPT = """
import gymnasium as gym, embodied
from embodied.display import DisplayError
from gymnasium.utils.env_checker import check_env
for attempt in ("make", "check_env"):
    try:
        env = gym.make(embodied.ENV_ID, world="t_maze", render_mode="human")
        if attempt == "check_env":
            check_env(env.unwrapped)
        print(attempt, "opened a window")
    except DisplayError as err:
        print(attempt, "DisplayError", err)
print("survived")
"""


@pytest.mark.parametrize("display", [None, ":99x", "dead"])
def test_human_env_and_check_env_without_a_display_raise_and_the_process_lives(display):
    display = f":{free_display_number()}" if display == "dead" else display
    done = run_without_display(display, "-c", HUMAN_ENV_SCRIPT)
    assert done.returncode == 0 and "survived" in done.stdout, (
        done.returncode,
        done.stdout[-1000:],
        done.stderr[-1000:],
    )
    assert "make DisplayError" in done.stdout and "check_env DisplayError" in done.stdout, done.stdout


def test_view_prints_its_key_help_last_once_and_quits_quietly(display):
    """The help comes after PyBullet's ~28 start-up lines, once; its ~17 shutdown lines are silenced."""
    env = dict(os.environ, DISPLAY=display, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "embodied.cli", "view", "--world", "t_maze", "--steps", "3"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = [i for i, line in enumerate(lines) if line.startswith("embodied view keys")]
    assert len(header) == 1, done.stdout
    assert any("Esc / X" in line for line in lines[header[0] :])
    before = "\n".join(lines[: header[0]])
    assert "GL_VENDOR" in before or "startThreads" in before  # PyBullet's start-up chatter is above the help
    after = lines[header[0] :]
    assert not any("Thread" in line or "semaphore" in line for line in after), after
    assert after[-1] == "embodied view: 3 steps"


def test_dashboard_turns_taps_holds_and_auto_repeat_into_pybullet_key_events(display, monkeypatch):
    """In-process Tk on the Xvfb display (no PyBullet window): fake Tk key events through the handlers."""
    import types

    import pybullet as p

    from embodied.viz.dashboard import Dashboard

    monkeypatch.setenv("DISPLAY", display)
    dashboard = Dashboard()
    try:
        keycodes = {"space": 65, "Up": 111, "A": 38}

        def key(kind, keysym, char, time_ms):  # as X reports them: a release carries no character
            event = types.SimpleNamespace(
                keysym=keysym, char=char if kind == "press" else "", time=time_ms, keycode=keycodes[keysym]
            )
            (dashboard._press if kind == "press" else dashboard._release)(event)

        key("press", "space", " ", 100)  # a tap between two polls: reported once, down and triggered
        key("release", "space", " ", 140)
        assert dashboard.poll() == {ord(" "): p.KEY_IS_DOWN | p.KEY_WAS_TRIGGERED}
        assert dashboard.poll() == {}
        key("press", "Up", "", 200)  # held with X auto-repeat: release and press at the same time
        assert dashboard.poll() == {p.B3G_UP_ARROW: p.KEY_IS_DOWN | p.KEY_WAS_TRIGGERED}
        key("release", "Up", "", 700)
        key("press", "Up", "", 700)
        assert dashboard.poll() == {p.B3G_UP_ARROW: p.KEY_IS_DOWN}
        key("release", "Up", "", 900)
        key("press", "A", "A", 950)  # shift-A is 'a' to the viewer
        assert dashboard.poll() == {p.B3G_UP_ARROW: p.KEY_IS_DOWN, ord("a"): p.KEY_IS_DOWN | p.KEY_WAS_TRIGGERED}
        assert dashboard.poll() == {ord("a"): p.KEY_IS_DOWN}
        frame = np.zeros((50, 80, 3), np.uint8)
        frame[:, :40] = (200, 30, 10)
        dashboard.show(frame)
        assert dashboard.geometry()[2:] == (80, 50)
    finally:
        dashboard.close()
    assert dashboard.poll() == {} and dashboard.closed
