"""Scripted trajectories for the intrinsic rewards: the issue's four scenarios, measured.

A ``Brain`` (world model + intrinsic rewards + replay, learning online, small model) is taken
through the real env by a ``ScriptedRide`` (scripted actions, stepped by ``embodied.driver.Driver``);
each scenario function returns the figures its floor is about, so the tests
(``tests/test_intrinsic*.py``, one seed) and the benchmark (``scripts/eval_intrinsic.py``, several
seeds, every floor) measure the same thing.

The ride steers with the privileged ``info['position']``/``info['heading']``: it is
scaffolding that decides where the rat goes, never an input to the rewards, which see only
the observation stream, the actions and the model's own state.

Every scenario takes ``seed`` (the world model's) and ``intrinsic`` (``IntrinsicConfig``
fields over the scenario's own).

Floors (the world-model issue), each a ratio that must come out at most ``FLOORS[name]``
(``new_over_familiar``: at least):

- novelty: after 20 passes along one corridor, novelty there <= 30 % of the first pass, and
  turning into an unvisited corridor raises it >= 2x above the familiar level;
- noisy TV: after 500 steps staring at a panel of random colours, prediction success and
  novelty there <= 20 % of their values in the first unexplored corridor;
- dark room: 500 steps still in a dead end give all three rewards <= 10 % of their exploring
  average;
- coherence: one sense replaced by noise, or vision several steps late, drops coherence >= 50 %
  (scored after the cross-sense heads settle on the lived stream, ``coherence_scenario``).
"""

from __future__ import annotations

from collections import defaultdict

import gymnasium
import numpy as np
import torch

import embodied  # noqa: F401  (registers the env)
from embodied.brain.perception.intrinsic import IntrinsicConfig, IntrinsicRewards
from embodied.brain.perception.world_model import WorldModel, WorldModelConfig
from embodied.brain.replay import SequenceReplay
from embodied.driver import Driver
from embodied.paths import WORLDS

#: a world model small enough to learn online in these scenarios within seconds on one core
SMALL = dict(
    image_size=16,
    cnn_depth=8,
    vision_embed=64,
    vector_embed=16,
    mlp_units=64,
    deter=64,
    stoch_groups=8,
    stoch_classes=8,
    hidden=64,
    batch_size=8,
    seq_len=16,
    lr=1e-3,
    device="cpu",
)

#: the issue's floors: measured ratio <= floor (">=" for new_over_familiar)
FLOORS = {
    "novelty.familiar_over_first": 0.3,
    "novelty.new_over_familiar": 2.0,
    "noisy_tv.prediction_success": 0.2,
    "noisy_tv.novelty": 0.2,
    "dark_room.prediction_success": 0.1,
    "dark_room.novelty": 0.1,
    "dark_room.coherence": 0.1,
    "coherence.touch_noise": 0.5,
    "coherence.vision_late": 0.5,
}
AT_LEAST = {"novelty.new_over_familiar"}


#: one long life per scenario: no time limit (``None`` would mean the registered 1,000 steps, and the driver
#: resets an env whose episode was cut; the scenarios always stepped on past it, as if there were no limit)
NO_TIME_LIMIT = 10**9


def make_env(world) -> gymnasium.Env:
    return gymnasium.make(
        "embodied/RodentMaze-v0", world=str(world), task="explore", vision_size=32, max_episode_steps=NO_TIME_LIMIT
    )


def cell_xy(env, col, row) -> np.ndarray:
    """World (x, y) of the centre of grid cell (col, row), rows counted from the top of the file."""
    layout = env.unwrapped.layout
    return np.array([(col + 0.5) * layout.cell_size, (layout.rows - 1 - row + 0.5) * layout.cell_size])


class Brain:
    """World model + intrinsic rewards + replay, learning online every ``train_every`` steps."""

    def __init__(self, env, train_every: int = 4, seed: int = 0, intrinsic: dict | None = None):
        torch.manual_seed(seed)
        self.wm = WorldModel(env.observation_space, env.action_space, WorldModelConfig(**dict(SMALL, seed=seed)))
        self.ir = IntrinsicRewards(self.wm, IntrinsicConfig(**(intrinsic or {})), num_envs=1)
        self.replay = SequenceReplay(env.observation_space, env.action_space, capacity_steps=20_000)
        self.rng = np.random.default_rng(seed)
        self.state, self.train_every, self.steps = None, train_every, 0

    def sense(self, obs, action_prev, first: bool, learn: bool = True) -> dict[str, float]:
        ob = {k: np.asarray(v)[None] for k, v in obs.items()}
        a, f = np.asarray(action_prev, np.float32)[None], np.array([first])
        new, _ = self.wm.observe(ob, a, self.state, f)
        r = self.ir.step(ob, a, f, self.state, new)
        self.state = new
        if learn:
            self.replay.add(ob, a, f)
            self.steps += 1
            if self.train_every and self.steps % self.train_every == 0 and self.replay.can_sample(SMALL["seq_len"]):
                batch = self.replay.sample(SMALL["batch_size"], SMALL["seq_len"], self.rng)
                _, posts = self.wm.train_step(batch, return_states=True)
                self.ir.train_step(batch, posts)
        return {k: float(v[0]) for k, v in r.items()}


class ScriptedRide:
    """Scripted movement: go to a point, face a direction, stay still. Records every step.

    The actions are the script's (steered by privileged position and heading), given to
    :class:`embodied.driver.Driver` step by step; the brain senses each step in the driver's
    callback, from the observation and the action only."""

    def __init__(self, env, brain: Brain, start, heading: float, record_obs: bool = False):
        self.env, self.brain, self.record_obs = env, brain, record_obs
        self.driver = Driver(env, on_step=[self._sense])
        self.driver.reset(seed=0, options={"start": start, "heading": heading})
        self.observations, self.actions = [self.obs], [np.zeros(3, np.float32)]
        self._rec: dict[str, list] = defaultdict(list)
        brain.sense(self.obs, np.zeros(3, np.float32), True)

    @property
    def obs(self) -> dict:
        return self.driver.obs

    @property
    def info(self) -> dict:
        return self.driver.info

    def act(self, action, rec) -> None:
        self._rec = rec
        self.driver.step(np.asarray(action, np.float32))

    def _sense(self, step) -> None:
        if self.record_obs:
            self.observations.append(step.next_obs), self.actions.append(step.action)
        for k, v in self.brain.sense(step.next_obs, step.action, False).items():
            self._rec[k].append(v)

    def go_to(self, x, y, tol: float = 0.04, max_steps: int = 400) -> dict[str, list]:
        rec = defaultdict(list)
        for _ in range(max_steps):
            delta = np.array([x, y]) - np.asarray(self.info["position"])
            dist = float(np.linalg.norm(delta))
            if dist < tol:
                break
            err = (np.arctan2(delta[1], delta[0]) - self.info["heading"] + np.pi) % (2 * np.pi) - np.pi
            forward = 0.0 if abs(err) > 0.4 else min(1.0, 4 * dist) * (1 - abs(err) / 0.4)
            self.act([forward, np.clip(2.0 * err, -1, 1), 0.0], rec)
        return rec

    def face(self, heading: float, max_steps: int = 120) -> dict[str, list]:
        rec = defaultdict(list)
        for _ in range(max_steps):
            err = (heading - self.info["heading"] + np.pi) % (2 * np.pi) - np.pi
            if abs(err) < 0.03:
                break
            self.act([0.0, np.clip(2.0 * err, -1, 1), 0.0], rec)
        return rec

    def stay(self, steps: int) -> dict[str, list]:
        rec = defaultdict(list)
        for _ in range(steps):
            self.act([0.0, 0.0, 0.0], rec)
        return rec


def mean(rec, channel, last: int | None = None) -> float:
    values = rec[channel] if last is None else rec[channel][-last:]
    return float(np.mean(values))


def merge(*recs) -> dict[str, list]:
    out = defaultdict(list)
    for rec in recs:
        for k, v in rec.items():
            out[k] += v
    return out


def ratio(part: float, whole: float) -> float:
    """part / whole; NaN when the reference is not positive (then no ratio is meaningful)."""
    return part / whole if whole > 0 else float("nan")


# --------------------------------------------------------------------------------- scenarios
#: For the scenarios that report no prediction success (novelty, coherence): its two decodes per step are
#: skipped (``prediction_every`` beyond the scenario's length). The decodes are deterministic and feed no
#: training, so every reported figure is bit-identical (checked at seed 0 for both scenarios) and the runs
#: take about a third less time.
SKIP_PREDICTION_SUCCESS = {"prediction_every": 2**31}


def novelty_scenario(seed: int = 0, intrinsic: dict | None = None) -> dict[str, float]:
    """20 passes along corridor A, then into corridor B, never entered (no online training:
    episodic novelty needs none, and the ensemble term stays >= 1x). Reports novelty only, so the
    prediction-success decodes are skipped (``SKIP_PREDICTION_SUCCESS``)."""
    env = make_env(WORLDS / "two_corridors.maze")
    brain = Brain(env, train_every=0, seed=seed, intrinsic={**SKIP_PREDICTION_SUCCESS, **(intrinsic or {})})
    drv = ScriptedRide(env, brain, start=(1, 1), heading=0.0)
    west, east = cell_xy(env, 1, 1), cell_xy(env, 6, 1)
    passes = [drv.go_to(*(east if i % 2 == 0 else west)) for i in range(20)]
    first, familiar = mean(passes[0], "novelty"), mean(merge(passes[18], passes[19]), "novelty")
    drv.go_to(*cell_xy(env, 7, 1))
    new = mean(drv.go_to(*cell_xy(env, 7, 5)), "novelty")
    env.close()
    return {
        "first": first,
        "familiar": familiar,
        "new": new,
        "familiar_over_first": ratio(familiar, first),
        "new_over_familiar": ratio(new, familiar),
    }


def noisy_tv_scenario(seed: int = 0, intrinsic: dict | None = None) -> dict[str, float]:
    """Warm up out of sight of the TV (walk, then stand still 150 steps, so the stare tests the
    screen, not the stillness), explore the first unexplored corridor, then stare at the TV for
    500 steps while learning every step; the TV's level is the last 100 steps."""
    env = make_env(WORLDS / "noisy_tv.maze")
    brain = Brain(env, train_every=4, seed=seed, intrinsic={"lag_updates": 25, **(intrinsic or {})})
    drv = ScriptedRide(env, brain, start=(1, 1), heading=-np.pi / 2)
    drv.go_to(*cell_xy(env, 1, 4)), drv.go_to(*cell_xy(env, 1, 1))
    drv.stay(150)
    corridor = drv.go_to(*cell_xy(env, 9, 1))
    drv.go_to(*cell_xy(env, 9, 3))
    drv.face(-np.pi / 2)
    brain.train_every = 1
    stare = drv.stay(500)
    env.close()
    out = {}
    for channel in ("prediction_success", "novelty"):
        explored, tv = mean(corridor, channel), mean(stare, channel, last=100)
        out.update({f"{channel}_corridor": explored, f"{channel}_tv": tv, channel: ratio(tv, explored)})
    return out


def dark_room_scenario(seed: int = 0, intrinsic: dict | None = None) -> dict[str, float]:
    """Explore corridor B and back, then sit facing the dead end's wall for 500 steps; the still
    level is the last 100 steps. Prediction success is signed: its ratio uses magnitudes."""
    env = make_env(WORLDS / "two_corridors.maze")
    brain = Brain(env, train_every=4, seed=seed, intrinsic={"lag_updates": 25, **(intrinsic or {})})
    drv = ScriptedRide(env, brain, start=(1, 1), heading=0.0)
    drv.go_to(*cell_xy(env, 6, 1)), drv.go_to(*cell_xy(env, 1, 1)), drv.go_to(*cell_xy(env, 7, 1))
    explore = merge(drv.go_to(*cell_xy(env, 7, 6)), drv.go_to(*cell_xy(env, 7, 2)))
    drv.go_to(*cell_xy(env, 7, 6))
    drv.face(-np.pi / 2)
    still = drv.stay(500)
    env.close()
    out = {}
    for channel in ("prediction_success", "novelty", "coherence"):
        explored, dark = mean(explore, channel), mean(still, channel, last=100)
        if channel == "prediction_success":
            explored, dark = abs(explored), abs(dark)
        out.update({f"{channel}_exploring": explored, f"{channel}_still": dark, channel: ratio(dark, explored)})
    return out


def coherence_scenario(seed: int = 0, intrinsic: dict | None = None, head_updates: int = 300) -> dict[str, float]:
    """Live through both corridors, then score coherence on the last 200 steps as lived, with
    touch replaced by uniform noise, and with vision 6 steps late.

    Before scoring, the cross-sense heads take ``head_updates`` more updates on the replay of
    what was lived, the world model held fixed. Why: the drive itself gives them ~230 updates
    on embeddings that move with every world-model update, and with that alone which sense the
    heads had learned to lean on decided the ratios: over model seeds 0-4, touch noise / clean
    0.33, 0.64, -8.0, -1.4, 0.33 and late vision / clean 0.32, 0.48, -0.35, 0.51, 0.67, and the
    same seed moved across the 0.5 floor with the CPU's floating-point path (an agent's heads
    train for thousands of updates). With 300 more: see ``tests/test_intrinsic_dark_room_and_coherence.py``.
    Reports coherence only: the prediction-success decodes are skipped (``SKIP_PREDICTION_SUCCESS``)."""
    env = make_env(WORLDS / "two_corridors.maze")
    brain = Brain(env, train_every=2, seed=seed, intrinsic={**SKIP_PREDICTION_SUCCESS, **(intrinsic or {})})
    drv = ScriptedRide(env, brain, start=(1, 1), heading=0.0, record_obs=True)
    (
        drv.go_to(*cell_xy(env, 7, 1)),
        drv.go_to(*cell_xy(env, 7, 6)),
        drv.go_to(*cell_xy(env, 7, 1)),
        drv.go_to(*cell_xy(env, 1, 1)),
    )
    env.close()
    for _ in range(head_updates):  # the cross-sense heads settle on what was lived (the world model held fixed)
        batch = brain.replay.sample(SMALL["batch_size"], SMALL["seq_len"], brain.rng)
        with torch.no_grad():
            posts = brain.wm.observe_sequence(batch)[0]
        brain.ir.train_step(batch, posts)
    keys = brain.wm.keys
    seq = {k: np.stack([o[k] for o in drv.observations])[None] for k in keys}
    seq["action_prev"] = np.stack(drv.actions)[None]
    seq["is_first"] = np.zeros(seq["action_prev"].shape[:2], bool)
    window = {k: v[:, -200:] for k, v in seq.items()}

    def score(w) -> float:
        return float(brain.ir.sequence(w)["coherence"][:, 20:].mean())

    clean = score(window)
    noisy = score(
        dict(window, touch=np.random.default_rng(seed).uniform(0, 1, window["touch"].shape).astype(np.float32))
    )
    late = score(
        dict(window, vision=np.concatenate([window["vision"][:, :1].repeat(6, 1), window["vision"][:, :-6]], 1))
    )
    return {
        "clean": clean,
        "touch_noise_value": noisy,
        "vision_late_value": late,
        "touch_noise": ratio(noisy, clean),
        "vision_late": ratio(late, clean),
    }


SCENARIOS = {
    "novelty": novelty_scenario,
    "noisy_tv": noisy_tv_scenario,
    "dark_room": dark_room_scenario,
    "coherence": coherence_scenario,
}


def meets(name: str, value: float) -> bool:
    """Whether a measured ratio meets its floor (a NaN ratio never does)."""
    floor = FLOORS[name]
    return bool(value >= floor) if name in AT_LEAST else bool(value <= floor)
