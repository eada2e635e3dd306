"""Rollout videos: run a policy headless and write an MP4 of synchronised panels.

    stats = record_rollout(env, policy, steps=300, path="runs/x/videos/step_1000.mp4")

Frame t shows the observation the policy acted on at step t (``obs_t``) beside what the
policy said about it (``extras`` from ``policy.act(obs_t)``): the top-down map with the
trajectory, visited cells and food; the ego view (upscaled with square pixels); the world
model's predicted frame (``extras["predicted_vision"]``, a "no model" panel without it);
whisker contacts; scent and proprioception bars; scrolling phasic dopamine per channel
(``extras["rpe"]``) and tonic level (``extras["tonic"]``); the selected module
(``extras["module"]``). The map uses privileged state: it is a picture, never an input.

The command ``embodied record`` wraps ``record_rollout`` for a checkpoint or a reference policy.
"""

from __future__ import annotations

import argparse
import collections
import math
import pathlib
import sys
from typing import Callable

import cv2
import numpy as np
import tqdm

from ..arena.layout import ODOUR
from ..brain.policies import REFERENCE_POLICIES as POLICIES
from ..brain.policies import make_reference_policy
from ..driver import Driver
from ..interrupt import StopRequest
from ..tasks import TASKS
from . import panels
from .topdown import draw_topdown

MAX_FPS = 1000.0  # beyond any player; cv2 accepts nonsense rates silently or fails with no reason


class Recorder:
    """Turns (obs, info, extras) into frames and writes them to an MP4 (cv2 'mp4v').

    Use as a context manager, or call ``close()``; ``render()`` alone draws a frame without
    writing: it is the one panel composition that videos, ``embodied view``'s live dashboard
    (``viz/dashboard.py``) and tests share.
    """

    def __init__(
        self, path: str | pathlib.Path | None, fps: float = 30.0, proprio_bounds=None, trace_window: int = 300
    ):
        self.path = pathlib.Path(path) if path is not None else None
        self.proprio_bounds = proprio_bounds
        self.trace_window = trace_window
        self.traces: dict[str, collections.deque] = {}
        self.trajectory: list[tuple[float, float]] = []
        self.frames = 0
        self.writer = None
        if self.path is not None:
            if self.path.is_dir():
                raise OSError(f"cannot write a video to {self.path}: it is a directory")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (panels.FRAME_W, panels.FRAME_H)
            )
            if not self.writer.isOpened():
                raise OSError(f"cannot open {self.path} for writing an MP4 video (cv2.VideoWriter, 'mp4v')")

    def new_episode(self) -> None:
        """Forget the trajectory (a new maze or start); dopamine traces keep scrolling."""
        self.trajectory = []

    def _push_traces(self, extras: dict) -> None:
        values = {f"{k}": float(v) for k, v in dict(extras.get("rpe") or {}).items()}
        if extras.get("tonic") is not None:
            values["tonic"] = float(extras["tonic"])
        # the channels' own order, then traces no longer reported (a set's order changes with PYTHONHASHSEED)
        for name in [*values, *(n for n in self.traces if n not in values)]:
            trace = self.traces.setdefault(
                name, collections.deque([np.nan] * len(next(iter(self.traces.values()), [])), maxlen=self.trace_window)
            )
            trace.append(values.get(name, np.nan))

    def render(
        self, obs: dict, info: dict, extras: dict | None, layout, step: int = 0, reward: float | None = None
    ) -> np.ndarray:
        """One (FRAME_H, FRAME_W, 3) RGB frame; updates the trajectory and the traces."""
        extras = dict(extras or {})
        position = info.get("position")
        if position is not None:
            self.trajectory.append((float(position[0]), float(position[1])))
        self._push_traces(extras)
        top = draw_topdown(
            layout,
            position=position,
            heading=info.get("heading"),
            head_yaw=info.get("head_yaw"),
            visited=info.get("visited"),
            food=info.get("food_cells", ()),
            odour=layout.cells(ODOUR),
            trajectory=self.trajectory,
        )
        lines = [
            f"step {step}",
            f"coverage {info.get('coverage', float('nan')):.2f}",
            f"food {info.get('food_eaten', 0)}",
        ]
        if reward is not None:
            lines.append(f"reward {reward:+.2f}")
        if "cue_on" in info:  # the conditioning box: what the light and the feeder are doing
            lines.append(
                ("LIGHT ON" if info["cue_on"] else "light off")
                + (", pellet in feeder" if info.get("food_present") else "")
            )
        if extras.get("tonic") is not None:
            lines.append(f"tonic {float(extras['tonic']):+.3f}")
        areas = {
            "map": panels.fit(top),
            "ego": panels.image_panel(obs.get("vision"), missing="no vision"),
            "predicted": panels.image_panel(extras.get("predicted_vision"), missing="no model"),
            "touch": panels.touch_panel(obs["touch"]) if "touch" in obs else panels.blank_panel("no touch"),
            "senses": panels.senses_panel(obs.get("scent"), obs.get("proprio"), self.proprio_bounds),
            "dopamine": panels.trace_panel({k: list(v) for k, v in self.traces.items()}, window=self.trace_window),
            "status": panels.status_panel(lines, extras.get("module")),
        }
        titles = {
            "map": "map (privileged)",
            "ego": "ego view",
            "predicted": "predicted view",
            "touch": "whiskers",
            "senses": "scent / proprio",
            "dopamine": "phasic dopamine per channel, tonic",
            "status": "policy",
        }
        return panels.compose_frame(areas, titles)

    def add(
        self, obs: dict, info: dict, extras: dict | None, layout, step: int = 0, reward: float | None = None
    ) -> np.ndarray:
        """Render a frame and append it to the video; returns the RGB frame."""
        frame = self.render(obs, info, extras, layout, step, reward)
        if self.writer is not None:
            self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1
        return frame

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def proprio_bounds(env) -> np.ndarray | None:
    """The proprioception bars' scale: the upper bounds of the env's ``proprio`` observation space."""
    space = getattr(env.unwrapped.observation_space, "spaces", {}).get("proprio")
    return space.high if space is not None else None


def record_rollout(
    env,
    policy,
    steps: int,
    path: str | pathlib.Path,
    *,
    seed: int | None = None,
    fps: float | None = None,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
) -> dict:
    """Run ``policy`` in ``env`` for ``steps`` steps and write one frame per step to ``path``.

    ``env`` is a gymnasium env of this project (wrapped or not); ``policy`` follows the
    Policy protocol (``reset()``, ``act(obs) -> (action, extras)``). Episodes that end are
    reset and the video goes on. Returns ``{"path", "frames", "steps", "episodes",
    "coverage" (last episode's), "max_coverage", "food_eaten" (total), "return" (total)}``.

    ``progress=True`` shows a tqdm bar on stderr (steps recorded; frames are written as they are
    drawn, so the bar covers the whole video write). ``embodied record`` turns it on.
    ``stop()``, asked before each step, ends the recording early with the frames so far (a closed,
    playable video; ``embodied record`` passes its Ctrl-C request, :class:`embodied.interrupt.StopRequest`).
    """
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    if fps is not None and not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ValueError(f"fps must be a number in (0, {MAX_FPS}], got {fps}")
    base = env.unwrapped
    fps = fps or base.metadata.get("render_fps", 30)
    bounds = proprio_bounds(env)
    stats = {
        "path": str(path),
        "frames": 0,
        "steps": 0,
        "episodes": 1,
        "coverage": 0.0,
        "max_coverage": 0.0,
        "food_eaten": 0,
        "return": 0.0,
    }
    bar = tqdm.tqdm(
        total=steps,
        desc=f"recording {pathlib.Path(path).name}",
        unit="step",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    previous = {"reward": None, "food": 0}  # the reward shown with a frame is the step before's (none at a start)

    def draw_and_count(step) -> None:
        recorder.add(step.obs, step.info, step.extras, base.layout, step=stats["steps"], reward=previous["reward"])
        stats["steps"] += 1
        stats["return"] += float(step.reward)
        stats["coverage"] = float(step.next_info.get("coverage", 0.0))
        stats["max_coverage"] = max(stats["max_coverage"], stats["coverage"])
        food_now = int(step.next_info.get("food_eaten", 0))
        stats["food_eaten"] += max(0, food_now - previous["food"])
        previous.update(reward=step.reward, food=food_now)
        bar.update(1)

    def new_episode(episode) -> None:
        recorder.new_episode()
        previous.update(reward=None, food=0)

    with bar, Recorder(path, fps=fps, proprio_bounds=bounds) as recorder:
        driver = Driver(env, policy, on_step=[draw_and_count], on_episode=[new_episode])
        driver.reset(seed=seed)
        driver.run(steps=steps, until=stop)
        stats["episodes"] = driver.episodes
        stats["frames"] = recorder.frames
    return stats


def make_policy(name: str | None, checkpoint: str | None, env, seed: int | None = None):
    """A policy from a checkpoint (via the trainer's ``load_policy``) or a reference policy by name."""
    if checkpoint:
        return load_checkpoint_policy(checkpoint, env)
    return make_reference_policy(name or "random", env.action_space, seed)


def load_checkpoint_policy(path: str, env):
    """``embodied.train.checkpoint.load_policy(path, env)``: a missing or bad file raises CheckpointError naming it."""
    from ..train.checkpoint import load_policy

    return load_policy(path, env)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="policy checkpoint (from `embodied train`); default: --policy")
    parser.add_argument("--policy", choices=POLICIES, default="random", help="reference policy when no checkpoint")
    parser.add_argument("--out", default="rollout.mp4", help="output MP4 path")
    parser.add_argument("--world", default="procedural:9x9", help="maze name, layout file or procedural:WxH")
    parser.add_argument("--task", default="explore", choices=sorted(TASKS), help="the task (reward and termination)")
    parser.add_argument("--steps", type=int, default=300, help="env steps to record (one frame each)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the env and the reference policy")
    parser.add_argument("--fps", type=float, default=None, help="video frame rate (default: the env's, 30)")


def check_args(args: argparse.Namespace) -> str | None:
    """What is wrong with ``embodied record``'s arguments, in one line, or None."""
    if args.steps < 1:
        return f"--steps must be ≥ 1, got {args.steps}"
    if args.fps is not None and not (math.isfinite(args.fps) and 0 < args.fps <= MAX_FPS):
        return f"--fps must be a number in (0, {MAX_FPS}], got {args.fps}"
    out = pathlib.Path(args.out)
    if out.suffix.lower() != ".mp4":  # so that a typo cannot overwrite a file that is not a video
        return f"--out {args.out!r} must end in .mp4"
    if out.is_dir():
        return f"--out {args.out!r} is a directory; give a file name ending in .mp4"
    if out.exists() and not out.is_file():
        return f"--out {args.out!r} exists and is not a regular file"
    blocker = next((parent for parent in out.parents if parent.exists() and not parent.is_dir()), None)
    if blocker is not None:
        return f"--out {args.out!r}: {str(blocker)!r} is a file, not a directory"
    return None


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from .. import ENV_ID

    problem = check_args(args)
    if problem is not None:
        print(f"embodied record: {problem}", file=sys.stderr)
        return 2
    env = gym.make(ENV_ID, world=args.world, task=args.task)
    ctrl_c = StopRequest(lambda: "embodied record: Ctrl-C: closing the video after this frame; Ctrl-C again stops now")
    try:
        try:
            policy = make_policy(args.policy, args.checkpoint, env, seed=args.seed)
            with ctrl_c:
                stats = record_rollout(
                    env,
                    policy,
                    args.steps,
                    args.out,
                    seed=args.seed,
                    fps=args.fps,
                    progress=True,
                    stop=lambda: ctrl_c.requested,
                )
        except OSError as err:
            print(f"embodied record: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # a second Ctrl-C: the writer was closed on the way out, still a playable video
            ctrl_c.requested = True
        if ctrl_c.requested:
            print(f"embodied record: interrupted; {args.out} holds the frames recorded so far", file=sys.stderr)
            return 130
    finally:
        env.close()
    print(
        f"wrote {stats['path']}: {stats['frames']} frames, {stats['episodes']} episode(s), "
        f"coverage {stats['coverage']:.2f}, food {stats['food_eaten']}"
    )
    return 0
