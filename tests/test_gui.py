"""The GUI as a person uses it: a real X server (Xvfb), a screenshot, key presses that move the rat.

This test starts Xvfb itself on a free display number and runs scripts/gui_smoke.py in a
subprocess with DISPLAY set (PyBullet allows one GUI per process). scripts/install.sh
installs Xvfb and xdotool; without them the test fails and says so, it does not skip.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def display():
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is not installed: run `bash scripts/install.sh` (it apt-installs xvfb and xdotool)"
    number = next(n for n in range(90, 190) if not os.path.exists(f"/tmp/.X{n}-lock")
                  and not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    server = subprocess.Popen([xvfb, f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gui_smoke.py"), "--out", str(out)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
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


def test_hud_whiskers_and_odour_are_drawn(report):
    assert report["whisker_items"] == 16
    assert report["odour_item"] >= 0
    hud = "\n".join(report["hud"])
    assert "module: wander" in hud and "tonic +0.200" in hud and "novelty +0.500" in hud


def test_scripted_keys_drive_pause_and_step_the_rat(report):
    assert report["control_after_drive_key"] == "keyboard"
    assert report["forward_moved"] > 0.15  # 15 steps at up to 0.6 m/s is 0.3 m
    assert report["turned"] > 0.5  # 'a' turns left (counter-clockwise)
    assert report["paused_moved"] == 0.0 and report["paused_steps"] == 0
    assert report["single_steps"] == 1
    assert report["paused_after_resume"] is False


def test_real_key_presses_move_the_rat(report):
    assert report.get("xdotool_windows"), f"no PyBullet window found by xdotool: {report.get('xdotool')}"
    assert report["xdotool_moved"] > 0.05, f"holding Up did not move the rat: polls {report.get('xdotool_polls')}"


def test_check_env_passes_in_human_render_mode(report):
    assert report["check_env"] == "ok", report["check_env"]


def test_view_without_a_display_says_what_to_do(capsys, monkeypatch):
    from embodied.cli import main
    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(["view", "--world", "t_maze"]) == 2
    assert "Xvfb" in capsys.readouterr().err
