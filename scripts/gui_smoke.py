"""Drive the PyBullet GUI and its dashboard as a person would and report what happened, as JSON.

Needs a display (``DISPLAY``; Xvfb on a server). tests/test_gui.py starts Xvfb and runs this
in a subprocess (PyBullet allows one GUI per process), then asserts on the JSON:

    DISPLAY=:99 python scripts/gui_smoke.py --out /tmp/gui_smoke
    # writes report.json, screenshot.png (the 3D camera), dashboard.png and dashboard_later.png (the screen)

Steps: open ``embodied view``'s viewer with its dashboard on the T-maze; take a screenshot
through the GUI's camera (maze and rat); grab the dashboard window from the X screen and
measure each of its seven panels; drive with scripted key events through the key handler;
pause, single-step and change speed; press real keys with xdotool into the PyBullet window
and into the dashboard; grab the dashboard again (the dopamine traces have moved on); close;
then run gymnasium's ``check_env`` on a human-mode env with the render check on.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import time
import traceback
import warnings

import cv2
import gymnasium as gym
import numpy as np
import pybullet as p

from embodied import ENV_ID
from embodied.brain.policies import WanderPolicy
from embodied.viz import panels
from embodied.viz.gui import RatViewer


class ExtrasWander(WanderPolicy):
    """The wanderer, reporting made-up brain extras so every dashboard panel has something to draw:
    dopamine that changes each step, and a "predicted" frame (the real one, upside down)."""

    def __init__(self, seed=None):
        super().__init__(seed=seed)
        self.acted = 0

    def act(self, obs):
        action, _ = super().act(obs)
        self.acted += 1
        novelty = 0.5 * np.sin(self.acted / 4)
        return action, {
            "module": "wander",
            "tonic": 0.2,
            "rpe": {"novelty": novelty, "food": -0.3},
            "predicted_vision": np.ascontiguousarray(obs["vision"][::-1]),
        }


def grab_dashboard(viewer, path: pathlib.Path) -> np.ndarray:
    """The dashboard as the X server shows it (not the array we handed Tk), saved to ``path``."""
    shot = np.asarray(viewer.dashboard.grab())
    cv2.imwrite(str(path), cv2.cvtColor(shot, cv2.COLOR_RGB2BGR))
    return shot


def panel_stats(shot: np.ndarray) -> dict:
    """Per panel of the grabbed dashboard: grey-level spread and the share of pixels unlike the background."""
    stats = {}
    for name in panels.LAYOUT:
        y0, y1, x0, x1 = panels.panel_rect(name)
        area = shot[y0:y1, x0:x1].astype(np.float32)
        drawn = np.abs(area - np.array(panels.BACKGROUND, np.float32)).sum(-1) > 30
        stats[name] = {"std": float(area.std()), "drawn": float(drawn.mean())}
    return stats


def position(viewer) -> np.ndarray:
    return np.array([viewer.base.state.x, viewer.base.state.y])


def hold(viewer, keys, steps):
    for _ in range(steps):
        viewer.handle_keys({k: p.KEY_IS_DOWN for k in keys})
        viewer.step(read_keyboard=False)
    viewer.handle_keys({})


def tap(viewer, key):
    viewer.handle_keys({key: p.KEY_WAS_TRIGGERED | p.KEY_IS_DOWN})


def xdotool_drive(viewer, report):
    """Real key presses: hold Up in the GUI window while the viewer polls the keyboard."""
    if shutil.which("xdotool") is None:
        report["xdotool"] = "xdotool not installed"
        return
    found = subprocess.run(["xdotool", "search", "--name", "Bullet"], capture_output=True, text=True, timeout=10)
    windows = found.stdout.split()
    report["xdotool_windows"] = windows
    if not windows:
        return
    window = windows[-1]
    subprocess.run(["xdotool", "mousemove", "--window", window, "200", "200"], timeout=10)
    subprocess.run(["xdotool", "windowfocus", "--sync", window], timeout=10, capture_output=True)
    viewer.control = "keyboard"
    start = position(viewer)
    subprocess.run(["xdotool", "keydown", "Up"], timeout=10)
    try:
        polls = []
        for _ in range(20):
            events = p.getKeyboardEvents(physicsClientId=viewer.client)
            polls.append({str(k): v for k, v in events.items()})
            viewer.handle_keys(events)
            viewer.step(read_keyboard=False)
            time.sleep(0.01)
    finally:
        subprocess.run(["xdotool", "keyup", "Up"], timeout=10)
    report["xdotool_polls"] = polls[:3]
    report["xdotool_moved"] = float(np.linalg.norm(position(viewer) - start))


def dashboard_keys(viewer, report):
    """Real key presses into the dashboard window: Space pauses, N steps once, + speeds up, Space resumes."""
    if shutil.which("xdotool") is None:
        report["dashboard_xdotool"] = "xdotool not installed"
        return
    found = subprocess.run(["xdotool", "search", "--name", "embodied view"], capture_output=True, text=True, timeout=10)
    windows = found.stdout.split()
    report["dashboard_windows"] = windows
    if not windows:
        return
    window = windows[-1]
    subprocess.run(["xdotool", "windowfocus", "--sync", window], timeout=10, capture_output=True)

    def press(key):
        subprocess.run(["xdotool", "key", key], timeout=10)
        time.sleep(0.1)
        viewer.step()  # polls both windows' keys, like run()

    viewer.control = "agent"
    steps = viewer.steps
    press("space")
    report["dashboard_space_paused"] = viewer.paused
    paused_at = viewer.steps
    press("n")
    viewer.step()
    report["dashboard_n_steps"] = viewer.steps - paused_at
    speed = viewer.speed
    press("plus")
    report["dashboard_speed"] = [speed, viewer.speed]
    press("minus")
    press("space")
    report["dashboard_space_resumed"] = not viewer.paused
    report["dashboard_key_steps"] = viewer.steps - steps


def run(out: pathlib.Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    scene_texts = []
    add_text = p.addUserDebugText

    def counting_add_text(*args, **kwargs):  # the dashboard replaced text in the scene, where walls hid it
        scene_texts.append(args[0] if args else kwargs.get("text"))
        return add_text(*args, **kwargs)

    p.addUserDebugText = counting_add_text
    t0 = time.perf_counter()
    env = gym.make(ENV_ID, world="t_maze", task="forage", render_mode="human")
    viewer = RatViewer(env, ExtrasWander(seed=0), seed=0, show_odour=True, dashboard=True)
    try:
        report["connect_s"] = time.perf_counter() - t0
        for _ in range(12):
            viewer.step(read_keyboard=False)
        shot = grab_dashboard(viewer, out / "dashboard.png")
        expected = viewer.dashboard_frame()
        report["dashboard"] = {
            "size": list(shot.shape[:2]),
            "expected_size": list(expected.shape[:2]),
            "frames_shown": viewer.dashboard.frames,
            "panels": panel_stats(shot),
            "differs_from_frame": float(np.abs(shot.astype(np.float32) - expected).mean())
            if shot.shape == expected.shape
            else None,
        }
        report["state_line"] = viewer.state_line()
        y0, y1, x0, x1 = panels.panel_rect("dopamine")
        dopamine_before = shot[y0:y1, x0:x1].astype(np.float32)
        rgb, seg = viewer.screenshot()
        cv2.imwrite(str(out / "screenshot.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        bodies, counts = np.unique(seg[seg >= 0], return_counts=True)
        report["screenshot"] = {
            "mean": float(rgb.mean()),
            "std": float(rgb.std()),
            "rat_pixels": int((seg == viewer.base.rat.body).sum()),
            "other_bodies": {int(b): int(c) for b, c in zip(bodies, counts) if b != viewer.base.rat.body},
        }
        report["whisker_items"] = len(viewer._whisker_ids)
        report["odour_item"] = viewer._odour_id

        # scripted keys through the key handler
        start, heading = position(viewer), viewer.base.state.yaw
        hold(viewer, [p.B3G_UP_ARROW], 15)
        report["control_after_drive_key"] = viewer.control
        report["forward_moved"] = float(np.linalg.norm(position(viewer) - start))
        heading = viewer.base.state.yaw
        hold(viewer, [ord("a")], 10)
        report["turned"] = float(np.angle(np.exp(1j * (viewer.base.state.yaw - heading))))
        tap(viewer, ord(" "))
        before = position(viewer), viewer.steps
        hold(viewer, [p.B3G_UP_ARROW], 5)
        report["paused_moved"] = float(np.linalg.norm(position(viewer) - before[0]))
        report["paused_steps"] = viewer.steps - before[1]
        tap(viewer, ord("n"))
        viewer.step(read_keyboard=False)
        viewer.step(read_keyboard=False)
        report["single_steps"] = viewer.steps - before[1]
        tap(viewer, ord("+"))
        tap(viewer, ord("+"))
        report["speed_after_two_plus"] = viewer.speed
        tap(viewer, ord("-"))
        report["speed_after_minus"] = viewer.speed
        tap(viewer, ord(" "))
        report["paused_after_resume"] = viewer.paused
        xdotool_drive(viewer, report)
        dashboard_keys(viewer, report)
        for _ in range(10):
            viewer.step(read_keyboard=False)
        later = grab_dashboard(viewer, out / "dashboard_later.png")
        report["dopamine_changed"] = float(np.abs(later[y0:y1, x0:x1].astype(np.float32) - dopamine_before).mean())
        report["dashboard_later_panels"] = panel_stats(later)
        report["dashboard_frames_shown"] = viewer.dashboard.frames
        report["viewer_steps"] = viewer.steps
    finally:
        viewer.close()
        p.addUserDebugText = add_text
    report["scene_texts"] = scene_texts

    # gymnasium's checker on the human render mode, render check included
    t1 = time.perf_counter()
    try:
        from gymnasium.utils.env_checker import check_env

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            human = gym.make(ENV_ID, world="t_maze", render_mode="human").unwrapped
            try:
                check_env(human)
            finally:
                human.close()
        report["check_env"] = "ok"
        report["check_env_warnings"] = [str(w.message) for w in caught]
    except Exception:
        report["check_env"] = traceback.format_exc(limit=3)
    report["check_env_s"] = time.perf_counter() - t1
    report["total_s"] = time.perf_counter() - t0
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gui_smoke", help="folder for report.json and screenshot.png")
    print(json.dumps(run(pathlib.Path(parser.parse_args().out)), indent=2))
