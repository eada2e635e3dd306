"""``embodied view``: watch or drive the rat in the PyBullet GUI.

The env is made with ``render_mode="human"`` (PyBullet's own OpenGL window); this module adds
what a person needs to see and do there:

* a camera that follows the rat (``F`` toggles a free camera you move with the mouse),
* whisker rays drawn each step, grey when free and red in contact (debug lines replaced
  in place with ``replaceItemUniqueId``, so they cost almost nothing),
* the odour field as coloured points on the floor (``O``; food odour orange, markers purple),
* on-screen text and bars: phasic dopamine per channel, the tonic level and the selected
  policy module, read from the policy's ``extras``,
* the keyboard: arrows/WASD drive (forward/back, turn), Q/E turn the head, Space pauses,
  N single-steps while paused, R resets, C switches agent ↔ keyboard control (a drive key
  takes over from the agent too), Esc/X quits.

``RatViewer`` holds that state. Tests drive it without a real keyboard:
``viewer.handle_keys({p.B3G_UP_ARROW: p.KEY_IS_DOWN}); viewer.step(read_keyboard=False)``.
It needs a display (a desktop, or Xvfb on a server: see docs/visualisation.md).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pybullet as p

from ..body.rat import CONTROL_DT
from ..brain.policies import tell_reward
from ..senses.base import SimView
from .panels import channel_colour

KEY_DOWN, KEY_TRIGGERED = p.KEY_IS_DOWN, p.KEY_WAS_TRIGGERED
#: drive keys -> (action index, value)
DRIVE_KEYS: dict[int, tuple[int, float]] = {
    p.B3G_UP_ARROW: (0, 1.0), ord("w"): (0, 1.0), p.B3G_DOWN_ARROW: (0, -1.0), ord("s"): (0, -1.0),
    p.B3G_LEFT_ARROW: (1, 1.0), ord("a"): (1, 1.0), p.B3G_RIGHT_ARROW: (1, -1.0), ord("d"): (1, -1.0),
    ord("q"): (2, 1.0), ord("e"): (2, -1.0),
}
KEY_HELP = ("arrows/WASD drive  Q/E head  Space pause  N step  R reset  C agent/keys  "
            "F follow cam  O odour  Esc quit")
FREE_RGB, TOUCH_RGB = np.array([0.6, 0.6, 0.65]), np.array([1.0, 0.1, 0.05])


def _rgb01(colour255) -> list[float]:
    return [c / 255 for c in colour255]


class RatViewer:
    """The GUI's state and one step of it; ``run()`` loops ``step()`` in real time."""

    def __init__(self, env, policy=None, seed: int | None = None, follow: bool = True, show_odour: bool = False):
        self.env, self.base = env, env.unwrapped
        if getattr(self.base, "render_mode", None) != "human":
            raise ValueError("RatViewer needs an env made with render_mode='human'")
        self.client = self.base.client
        for flag, value in ((p.COV_ENABLE_KEYBOARD_SHORTCUTS, 0), (p.COV_ENABLE_SHADOWS, 0), (p.COV_ENABLE_GUI, 0)):
            p.configureDebugVisualizer(flag, value, physicsClientId=self.client)
        self.policy = policy
        self.control = "agent" if policy is not None else "keyboard"
        self.paused, self.follow, self.show_odour, self.quit = False, follow, show_odour, False
        self.command = np.zeros(3, np.float32)
        self._single_steps = 0
        self._touch_sense = next((s for s in self.base.senses if s.name == "touch"), None)
        self._whisker_ids: list[int] = []
        self._text_ids: dict[str, int] = {}
        self._bar_ids: dict[str, int] = {}
        self._odour_id = -1
        self.steps = 0
        self.extras: dict = {}
        self.reset(seed)

    # ---- control ---------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        self.obs, self.info = self.env.reset(seed=seed)
        if self.policy is not None:
            self.policy.reset()
        self.extras, self.reward, self.episode_steps = {}, 0.0, 0
        self._odour_id = self._remove(self._odour_id)
        self._draw()

    def handle_keys(self, events: dict[int, int]) -> None:
        """Apply one poll of key states (``p.getKeyboardEvents()``'s dict: key -> flags)."""
        command = np.zeros(3, np.float32)
        for key, flags in events.items():
            if key in DRIVE_KEYS and flags & KEY_DOWN:
                index, value = DRIVE_KEYS[key]
                command[index] += value
        self.command = np.clip(command, -1, 1)
        if np.any(self.command != 0) and self.control == "agent":
            self.control = "keyboard"  # a drive key takes over from the agent
        triggered = {key for key, flags in events.items() if flags & KEY_TRIGGERED}
        if ord(" ") in triggered:
            self.paused = not self.paused
        if ord("n") in triggered:
            self._single_steps += 1
        if ord("r") in triggered:
            self.reset()
        if ord("c") in triggered:
            self.control = "keyboard" if self.control == "agent" or self.policy is None else "agent"
        if ord("f") in triggered:
            self.follow = not self.follow
        if ord("o") in triggered:
            self.show_odour = not self.show_odour
            if not self.show_odour:
                self._odour_id = self._remove(self._odour_id)
        if triggered & {27, ord("x")}:
            self.quit = True

    def action(self) -> np.ndarray:
        """The agent's action (and its extras) or the keyboard's command."""
        if self.control == "agent" and self.policy is not None:
            action, self.extras = self.policy.act(self.obs)
            self.extras = dict(self.extras or {})
            return np.asarray(action, np.float32)
        self.extras = {"module": "keyboard"}
        return self.command.copy()

    def step(self, read_keyboard: bool = True) -> bool:
        """Poll keys (optionally), advance one env step unless paused, redraw; True if it stepped."""
        if read_keyboard:
            self.handle_keys(p.getKeyboardEvents(physicsClientId=self.client))
        if self.quit:
            return False
        stepped = False
        if not self.paused or self._single_steps > 0:
            self._single_steps = max(0, self._single_steps - 1)
            self.obs, self.reward, terminated, truncated, self.info = self.env.step(self.action())
            if self.control == "agent" and self.policy is not None:
                tell_reward(self.policy, self.reward)
            self.steps += 1
            self.episode_steps += 1
            stepped = True
            if terminated or truncated:
                self.reset()
        self._draw()
        return stepped

    def run(self, max_steps: int | None = None, realtime: bool = True) -> int:
        """Loop until the window closes, Esc/X, or ``max_steps``; returns the steps taken."""
        start = self.steps
        while not self.quit and p.isConnected(physicsClientId=self.client):
            tick = time.perf_counter()
            try:
                self.step()
            except p.error:  # the window was closed between the check and the call
                break
            if max_steps is not None and self.steps - start >= max_steps:
                break
            if realtime:
                time.sleep(max(0.0, CONTROL_DT - (time.perf_counter() - tick)))
        return self.steps - start

    def close(self) -> None:
        self.env.close()

    # ---- pictures --------------------------------------------------------------------
    def screenshot(self, width: int = 480, height: int = 360) -> tuple[np.ndarray, np.ndarray]:
        """(RGB uint8, segmentation of body ids) through the GUI's current camera, OpenGL renderer."""
        cam = p.getDebugVisualizerCamera(physicsClientId=self.client)
        _, _, rgba, _, seg = p.getCameraImage(width, height, cam[2], cam[3], renderer=p.ER_BULLET_HARDWARE_OPENGL,
                                              physicsClientId=self.client)
        rgb = np.asarray(rgba, np.uint8).reshape(height, width, 4)[..., :3]
        seg = np.asarray(seg, np.int64).reshape(height, width)
        return rgb.copy(), np.where(seg >= 0, seg & ((1 << 24) - 1), -1)

    def _remove(self, item: int) -> int:
        if item >= 0:
            p.removeUserDebugItem(item, physicsClientId=self.client)
        return -1

    def _draw(self) -> None:
        state = self.base.state
        if self.follow:
            p.resetDebugVisualizerCamera(1.1, np.degrees(state.yaw) - 90, -68, [state.x, state.y, 0.0],
                                         physicsClientId=self.client)
        self._draw_whiskers()
        if self.show_odour and (self._odour_id < 0 or self.steps % 30 == 0):
            self._draw_odour()
        self._draw_hud()

    def _draw_whiskers(self) -> None:
        if self._touch_sense is None:
            return
        view = SimView(self.client, self.base.rat, self.base.arena, self.base.odour, self.base.state,
                       self.base.prev_state, self.base.last_action, CONTROL_DT)
        starts, ends = self._touch_sense.rays(view)
        contact = np.asarray(self.obs["touch"], np.float32)[: len(starts)]
        if not self._whisker_ids:
            self._whisker_ids = [-1] * len(starts)
        for i, (a, b) in enumerate(zip(starts, ends)):
            colour = FREE_RGB + (TOUCH_RGB - FREE_RGB) * float(np.clip(contact[i] * 2, 0, 1))
            self._whisker_ids[i] = p.addUserDebugLine(a.tolist(), b.tolist(), colour.tolist(), 1.5 + 2 * (contact[i] > 0),
                                                      replaceItemUniqueId=self._whisker_ids[i],
                                                      physicsClientId=self.client)

    def _draw_odour(self, threshold: float = 0.03) -> None:
        """Points on the floor coloured by concentration: food odour orange, markers purple."""
        field = self.base.odour
        maps = field.maps
        sub = field.layout.cell_size / field.res
        iy, ix = np.nonzero((maps.max(0) > threshold) & field._free)
        keep = (iy % 2 == 0) & (ix % 2 == 0)  # every other sub-cell: enough to see the gradient
        iy, ix = iy[keep], ix[keep]
        if iy.size == 0:
            self._odour_id = self._remove(self._odour_id)
            return
        food, marker = maps[0, iy, ix], (maps[1, iy, ix] if maps.shape[0] > 1 else np.zeros(iy.size))
        colours = np.clip(np.stack([0.35 + 0.65 * np.maximum(food, marker * 0.7), 0.35 + 0.35 * food - 0.2 * marker,
                                    0.35 - 0.3 * food + 0.55 * marker], 1), 0, 1)
        points = np.stack([(ix + 0.5) * sub, (iy + 0.5) * sub, np.full(iy.size, 0.004)], 1)
        self._odour_id = p.addUserDebugPoints(points.tolist(), colours.tolist(), pointSize=4,
                                              replaceItemUniqueId=self._odour_id, physicsClientId=self.client)

    def hud_lines(self) -> list[tuple[str, str, float | None, tuple[int, int, int]]]:
        """(key, text, bar value or None, RGB 0..255) for each HUD line; pure, for tests."""
        mode = "PAUSED" if self.paused else self.control
        module = self.extras.get("module") or ("keyboard" if self.control == "keyboard" else "-")
        lines = [("title", f"{mode} | module: {module} | step {self.episode_steps} | "
                           f"coverage {self.info.get('coverage', 0.0):.2f}", None, (255, 255, 255))]
        if self.extras.get("tonic") is not None:
            tonic = float(self.extras["tonic"])
            lines.append(("tonic", f"tonic {tonic:+.3f}", tonic, channel_colour("tonic")))
        for i, (name, value) in enumerate(sorted(dict(self.extras.get("rpe") or {}).items())):
            lines.append((f"rpe/{name}", f"{name} {float(value):+.3f}", float(value), channel_colour(name, i)))
        lines.append(("help", KEY_HELP, None, (200, 200, 200)))
        return lines

    def _draw_hud(self) -> None:
        cam = p.getDebugVisualizerCamera(physicsClientId=self.client)
        right, up = np.array(cam[6]), np.array(cam[7])
        right, up = right / (np.linalg.norm(right) or 1), up / (np.linalg.norm(up) or 1)
        target, distance = np.array(cam[11]), cam[10]
        anchor = target + distance * (-0.55 * right + 0.42 * up)
        seen = set()
        for row, (key, text, bar, colour) in enumerate(self.hud_lines()):
            seen.add(key)
            pos = anchor - distance * 0.06 * row * up
            if key == "help":
                pos = target + distance * (-0.55 * right - 0.45 * up)
            self._text_ids[key] = p.addUserDebugText(text, pos.tolist(), _rgb01(colour), textSize=1.0,
                                                     replaceItemUniqueId=self._text_ids.get(key, -1),
                                                     physicsClientId=self.client)
            if bar is not None:
                start = pos + distance * 0.42 * right + distance * 0.01 * up
                end = start + distance * 0.25 * float(np.clip(bar, -1, 1)) * right
                self._bar_ids[key] = p.addUserDebugLine(start.tolist(), end.tolist(), _rgb01(colour), 6,
                                                        replaceItemUniqueId=self._bar_ids.get(key, -1),
                                                        physicsClientId=self.client)
        for key in [k for k in self._text_ids if k not in seen]:
            self._remove(self._text_ids.pop(key))
            self._remove(self._bar_ids.pop(key, -1))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--world", default="procedural:9x9", help="maze name, layout file or procedural:WxH")
    parser.add_argument("--task", default="forage", help="explore | forage | conditioning")
    parser.add_argument("--checkpoint", help="policy checkpoint (from `embodied train`)")
    parser.add_argument("--policy", choices=("wander", "random", "keyboard"), default="wander",
                        help="without a checkpoint: a reference policy, or keyboard only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (default: until closed)")
    parser.add_argument("--free-camera", action="store_true", help="start with the free camera")
    parser.add_argument("--odour", action="store_true", help="start with the odour field shown")


def run(args: argparse.Namespace) -> int:
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        print("embodied view: no display (DISPLAY is not set). On a server run it under Xvfb "
              "(xvfb-run -s '-screen 0 1280x800x24' embodied view …, and x11vnc to watch), "
              "or record a video headless with `embodied record`.", file=sys.stderr)
        return 2
    import gymnasium as gym
    from .. import ENV_ID
    from .record import CheckpointError, make_policy

    env = gym.make(ENV_ID, world=args.world, task=args.task, render_mode="human")
    try:
        try:
            policy = None if (args.policy == "keyboard" and not args.checkpoint) else \
                make_policy(args.policy, args.checkpoint, env, seed=args.seed)
        except CheckpointError as err:
            print(f"embodied view: {err}", file=sys.stderr)
            return 2
        viewer = RatViewer(env, policy, seed=args.seed, follow=not args.free_camera, show_odour=args.odour)
        print(KEY_HELP)
        viewer.run(max_steps=args.steps)
    finally:
        env.close()
    return 0
