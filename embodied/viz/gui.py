"""``embodied view``: watch or drive the rat in the PyBullet GUI, with the video's panels live beside it.

The env is made with ``render_mode="human"`` (PyBullet's own OpenGL window); this module adds
what a person needs to see and do there:

* a camera that follows the rat (``F`` toggles a free camera you move with the mouse),
* whisker rays drawn each step, grey when free and red in contact (debug lines replaced
  in place with ``replaceItemUniqueId``, so they cost almost nothing),
* the odour field as coloured points on the floor (``O``; food odour orange, markers purple),
* a live dashboard in its own window (``viz/dashboard.py``): the rollout video's seven panels,
  drawn by the video's own ``Recorder.render`` once per env step, and a strip with the viewer's
  state and keys. No text is drawn inside the 3D scene, where walls would hide it,
* the keyboard, in either window: arrows/WASD drive (forward/back, turn), Q/E turn the head,
  Space pauses, N single-steps while paused, +/- change the speed, R resets, C switches
  agent <-> keyboard control (a drive key takes over from the agent too), Esc/X quits.

``RatViewer`` holds that state. Tests drive it without a real keyboard:
``viewer.handle_keys({p.B3G_UP_ARROW: p.KEY_IS_DOWN}); viewer.step(read_keyboard=False)``.
It needs a display (a desktop, or Xvfb on a server: see docs/visualisation.md); without one,
``embodied view`` exits 2 with one line (``embodied.display.require_display``) before PyBullet
is asked for a window, since PyBullet would end the process from C.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import sys
import time

import numpy as np
import pybullet as p

from ..body.rat import CONTROL_DT
from ..display import DisplayError, require_display
from ..driver import Driver
from ..senses.base import SimView
from ..tasks import TASKS
from .dashboard import Dashboard, DashboardUnavailable, key_help_block, with_strip
from .panels import FRAME_W
from .record import Recorder, proprio_bounds

KEY_DOWN, KEY_TRIGGERED = p.KEY_IS_DOWN, p.KEY_WAS_TRIGGERED
#: drive keys -> (action index, value)
DRIVE_KEYS: dict[int, tuple[int, float]] = {
    p.B3G_UP_ARROW: (0, 1.0),
    ord("w"): (0, 1.0),
    p.B3G_DOWN_ARROW: (0, -1.0),
    ord("s"): (0, -1.0),
    p.B3G_LEFT_ARROW: (1, 1.0),
    ord("a"): (1, 1.0),
    p.B3G_RIGHT_ARROW: (1, -1.0),
    ord("d"): (1, -1.0),
    ord("q"): (2, 1.0),
    ord("e"): (2, -1.0),
}
FASTER_KEYS, SLOWER_KEYS = {ord("+"), ord("=")}, {ord("-"), ord("_")}  # '=' and '_': the same keys unshifted
#: speed steps: multiples of real time (one env step per CONTROL_DT); the GUI cannot go faster than it draws
SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
KEYS: list[tuple[str, str]] = [
    ("arrows / WASD", "drive: forward, back, turn left, right"),
    ("Q / E", "turn the head"),
    ("Space", "pause / resume"),
    ("N", "one step while paused"),
    ("+ / -", "faster / slower"),
    ("R", "reset"),
    ("C", "agent <-> keyboard control (a drive key also takes over)"),
    ("F", "follow camera <-> free camera (mouse)"),
    ("O", "odour field on/off"),
    ("Esc / X", "quit"),
]
KEY_HELP = (
    "arrows/WASD drive  Q/E head  Space pause  N step  +/- speed  R reset  C agent/keys  F camera  O odour  Esc quit"
)
FREE_RGB, TOUCH_RGB = np.array([0.6, 0.6, 0.65]), np.array([1.0, 0.1, 0.05])


def speed_label(speed: float) -> str:
    return f"x{speed:g}" if speed >= 1 else f"x1/{round(1 / speed)}"


class RatViewer:
    """The GUI's state and one step of it; ``run()`` loops ``step()`` at ``speed`` times real time.

    ``dashboard=True`` opens the live dashboard window (raises :class:`DashboardUnavailable`
    when it cannot); ``False`` draws no window, but ``dashboard_frame()`` still returns its picture.
    """

    def __init__(
        self,
        env,
        policy=None,
        seed: int | None = None,
        follow: bool = True,
        show_odour: bool = False,
        dashboard: bool = False,
    ):
        self.env, self.base = env, env.unwrapped
        if getattr(self.base, "render_mode", None) != "human":
            raise ValueError("RatViewer needs an env made with render_mode='human'")
        self.client = self.base.client
        for flag, value in ((p.COV_ENABLE_KEYBOARD_SHORTCUTS, 0), (p.COV_ENABLE_SHADOWS, 0), (p.COV_ENABLE_GUI, 0)):
            p.configureDebugVisualizer(flag, value, physicsClientId=self.client)
        self.policy = policy
        self.control = "agent" if policy is not None else "keyboard"
        self.paused, self.follow, self.show_odour, self.quit = False, follow, show_odour, False
        self.speed_index = SPEEDS.index(1.0)
        self.command = np.zeros(3, np.float32)
        self._single_steps = 0
        self._touch_sense = next((s for s in self.base.senses if s.name == "touch"), None)
        self._whisker_ids: list[int] = []
        self._odour_id = -1
        self.steps = 0
        self.extras: dict = {}
        # the video's panel composition, without a file: one frame per env step
        self.recorder = Recorder(None, proprio_bounds=proprio_bounds(env))
        self.panels_frame: np.ndarray | None = None
        # every step goes through the driver: it tells the agent its reward (not when the keyboard drives)
        self.driver = Driver(env, policy, on_step=[self._stepped], on_episode=[lambda episode: self.reset()])
        self.dashboard: Dashboard | None = None
        self._shown_state: tuple | None = None
        if dashboard:
            self.dashboard = Dashboard(on_close=self._dashboard_closed)
            self._place_dashboard()
        self.reset(seed)

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_index]

    # ---- control ---------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        self.driver.reset(seed=seed)
        self.obs, self.info = self.driver.obs, self.driver.info
        self.extras, self.reward, self.episode_steps = {}, None, 0
        self.recorder.new_episode()
        self.panels_frame = self.recorder.render(self.obs, self.info, {}, self.base.layout, step=0)
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
        if triggered & FASTER_KEYS:
            self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)
        if triggered & SLOWER_KEYS:
            self.speed_index = max(self.speed_index - 1, 0)
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

    def poll_keys(self) -> dict[int, int]:
        """Both windows' keys in one dict (flags of a key pressed in both are or-ed)."""
        events = dict(p.getKeyboardEvents(physicsClientId=self.client))
        if self.dashboard is not None:
            for key, flags in self.dashboard.poll().items():
                events[key] = events.get(key, 0) | flags
        return events

    def step(self, read_keyboard: bool = True) -> bool:
        """Poll keys (optionally), advance one env step unless paused, redraw; True if it stepped.

        The agent's step or the keyboard's command goes through the driver (``embodied/driver.py``),
        which tells the agent its reward when the agent chose the action. Like the video, the
        dashboard's frame for a step shows the observation the policy acted on and what the policy
        said about it (its ``extras``), and the reward of the step before.
        """
        if read_keyboard:
            self.handle_keys(self.poll_keys())
        if self.quit:
            return False
        stepped = False
        if not self.paused or self._single_steps > 0:
            self._single_steps = max(0, self._single_steps - 1)
            if self.control == "agent" and self.policy is not None:
                self.driver.step()
            else:
                self.driver.step(self.command.copy())
            stepped = True
        self._draw()
        return stepped

    def _stepped(self, step) -> None:
        """The driver's callback: draw the step's panels, then take the env's reply (an ended episode
        then resets through the driver's ``on_episode``)."""
        self.extras = dict(step.extras or {}) if step.acted else {"module": "keyboard"}
        self.panels_frame = self.recorder.render(
            step.obs, step.info, self.extras, self.base.layout, step=self.episode_steps, reward=self.reward
        )
        self.obs, self.reward, self.info = step.next_obs, step.reward, step.next_info
        self.steps += 1
        self.episode_steps += 1

    def run(self, max_steps: int | None = None, realtime: bool = True) -> int:
        """Loop until a window closes, Esc/X, or ``max_steps``; returns the steps taken."""
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
                time.sleep(max(0.0, CONTROL_DT / self.speed - (time.perf_counter() - tick)))
        return self.steps - start

    def close(self) -> None:
        if self.dashboard is not None:
            self.dashboard.close()
        self.env.close()

    # ---- the dashboard -----------------------------------------------------------------
    def state_line(self) -> str:
        """What the viewer is doing, for the dashboard's strip and title: pure, for tests."""
        mode = "PAUSED" if self.paused else "running"
        return (
            f"{mode}  speed {speed_label(self.speed)}  control: {self.control}  "
            f"episode step {self.episode_steps}  total {self.steps}"
        )

    def dashboard_frame(self) -> np.ndarray:
        """The dashboard's picture: the video's frame for the last step and the state/key strip."""
        return with_strip(self.panels_frame, self.state_line(), KEY_HELP)

    def _dashboard_closed(self) -> None:
        self.quit = True  # closing either window ends the viewer

    def _place_dashboard(self) -> None:
        """Right of the PyBullet window when the screen is wide enough (the window manager may move it)."""
        gui_width = p.getDebugVisualizerCamera(physicsClientId=self.client)[0]
        root = self.dashboard.root
        if root.winfo_screenwidth() >= gui_width + 8 + FRAME_W:
            root.geometry(f"+{gui_width + 8}+0")

    # ---- pictures --------------------------------------------------------------------
    def screenshot(self, width: int = 480, height: int = 360) -> tuple[np.ndarray, np.ndarray]:
        """(RGB uint8, segmentation of body ids) through the GUI's current camera, OpenGL renderer."""
        cam = p.getDebugVisualizerCamera(physicsClientId=self.client)
        _, _, rgba, _, seg = p.getCameraImage(
            width, height, cam[2], cam[3], renderer=p.ER_BULLET_HARDWARE_OPENGL, physicsClientId=self.client
        )
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
            p.resetDebugVisualizerCamera(
                1.1, np.degrees(state.yaw) - 90, -68, [state.x, state.y, 0.0], physicsClientId=self.client
            )
        self._draw_whiskers()
        if self.show_odour and (self._odour_id < 0 or self.steps % 30 == 0):
            self._draw_odour()
        self._draw_dashboard()

    def _draw_dashboard(self) -> None:
        """Show a new picture when a step was taken or the viewer's state changed (not every idle poll)."""
        if self.dashboard is None or self.dashboard.closed:
            return
        shown = (self.steps, self.episode_steps, self.paused, self.speed_index, self.control, id(self.panels_frame))
        if shown != self._shown_state:
            self._shown_state = shown
            self.dashboard.show(self.dashboard_frame())
            self.dashboard.set_title(f"embodied view: {self.state_line()}")

    def _draw_whiskers(self) -> None:
        if self._touch_sense is None:
            return
        view = SimView(
            self.client,
            self.base.rat,
            self.base.arena,
            self.base.odour,
            self.base.state,
            self.base.prev_state,
            self.base.last_action,
            CONTROL_DT,
        )
        starts, ends = self._touch_sense.rays(view)
        contact = np.asarray(self.obs["touch"], np.float32)[: len(starts)]
        if not self._whisker_ids:
            self._whisker_ids = [-1] * len(starts)
        for i, (a, b) in enumerate(zip(starts, ends)):
            colour = FREE_RGB + (TOUCH_RGB - FREE_RGB) * float(np.clip(contact[i] * 2, 0, 1))
            width = 1.5 + 2 * (contact[i] > 0)
            self._whisker_ids[i] = p.addUserDebugLine(
                a.tolist(),
                b.tolist(),
                colour.tolist(),
                width,
                replaceItemUniqueId=self._whisker_ids[i],
                physicsClientId=self.client,
            )

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
        colours = np.clip(
            np.stack(
                [
                    0.35 + 0.65 * np.maximum(food, marker * 0.7),
                    0.35 + 0.35 * food - 0.2 * marker,
                    0.35 - 0.3 * food + 0.55 * marker,
                ],
                1,
            ),
            0,
            1,
        )
        points = np.stack([(ix + 0.5) * sub, (iy + 0.5) * sub, np.full(iy.size, 0.004)], 1)
        self._odour_id = p.addUserDebugPoints(
            points.tolist(),
            colours.tolist(),
            pointSize=4,
            replaceItemUniqueId=self._odour_id,
            physicsClientId=self.client,
        )


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--world", default="procedural:9x9", help="maze name, layout file or procedural:WxH")
    parser.add_argument("--task", default="forage", choices=sorted(TASKS), help="the task (reward and termination)")
    parser.add_argument("--checkpoint", help="policy checkpoint (from `embodied train`)")
    parser.add_argument(
        "--policy",
        choices=("wander", "random", "keyboard"),
        default="wander",
        help="without a checkpoint: a reference policy, or keyboard only",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (default: until closed)")
    parser.add_argument("--free-camera", action="store_true", help="start with the free camera")
    parser.add_argument("--odour", action="store_true", help="start with the odour field shown")
    parser.add_argument("--no-dashboard", action="store_true", help="only the 3D window, no panel dashboard")
    parser.add_argument("--screenshot", metavar="PNG", help="at the end, save the dashboard as the screen shows it")


@contextlib.contextmanager
def c_stdout_silenced():
    """Send file descriptor 1 to /dev/null for a while: PyBullet's GUI prints ~17 lines from C on disconnect."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        try:
            ctypes.CDLL(None).fflush(None)
        except (OSError, AttributeError):
            pass
        os.dup2(saved, 1)
        os.close(saved)


def print_key_help() -> None:
    """The keys, printed once after the windows are up, below PyBullet's start-up lines."""
    try:  # PyBullet prints from C: flush its buffer first so that the help comes last
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass
    sys.stdout.flush()
    print(f"\nembodied view keys (in either window):\n{key_help_block(KEYS)}\n", flush=True)


def run(args: argparse.Namespace) -> int:
    if args.steps is not None and args.steps < 1:
        print(f"embodied view: --steps must be >= 1, got {args.steps}", file=sys.stderr)
        return 2
    if args.screenshot and (args.no_dashboard or not args.screenshot.lower().endswith(".png")):
        print(f"embodied view: --screenshot {args.screenshot!r} needs a .png path and the dashboard", file=sys.stderr)
        return 2
    if args.screenshot and not os.path.isdir(os.path.dirname(os.path.abspath(args.screenshot))):
        print(f"embodied view: --screenshot {args.screenshot!r}: folder does not exist", file=sys.stderr)
        return 2
    try:  # before PyBullet is asked for a window: without a display it ends the process from C
        require_display("embodied view")
    except DisplayError as err:
        print(f"{err}; or record a video headless: embodied record --out x.mp4", file=sys.stderr)
        return 2
    import gymnasium as gym

    from .. import ENV_ID
    from ..train.checkpoint import CheckpointError
    from .record import make_policy

    try:
        env = gym.make(ENV_ID, world=args.world, task=args.task, render_mode="human")
    except DisplayError as err:  # the display went away between the check and the window
        print(str(err), file=sys.stderr)
        return 2
    try:
        try:
            policy = (
                None
                if (args.policy == "keyboard" and not args.checkpoint)
                else make_policy(args.policy, args.checkpoint, env, seed=args.seed)
            )
        except CheckpointError as err:
            print(f"embodied view: {err}", file=sys.stderr)
            return 2
        try:
            viewer = RatViewer(
                env,
                policy,
                seed=args.seed,
                follow=not args.free_camera,
                show_odour=args.odour,
                dashboard=not args.no_dashboard,
            )
        except DashboardUnavailable as err:
            print(f"embodied view: {err}; showing the 3D window only (--no-dashboard hides this line)", file=sys.stderr)
            viewer = RatViewer(env, policy, seed=args.seed, follow=not args.free_camera, show_odour=args.odour)
        print_key_help()
        steps = viewer.run(max_steps=args.steps)
        if args.screenshot and viewer.dashboard is not None and not viewer.dashboard.closed:
            viewer.dashboard.grab().save(args.screenshot)
            print(f"embodied view: wrote {args.screenshot}")
        if viewer.dashboard is not None:
            viewer.dashboard.close()
    finally:
        with c_stdout_silenced():
            env.close()
    print(f"embodied view: {steps} steps")
    return 0
