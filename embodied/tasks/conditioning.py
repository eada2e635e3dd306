"""Conditioning box: a cue light, then food at the feeder a fixed delay later.

Pavlovian trace/delay conditioning as in Schultz, Dayan & Montague (1997): each trial a
light above the feeder switches on for ``cue_steps``; ``delay_steps`` after light onset a
pellet drops into the feeder (it is seen and smelt) unless the trial is an omission trial
(probability ``omission_prob``). The pellet is eaten on nose contact (reward +1) or removed
after ``food_timeout`` steps; the trial ends ``after_eat_steps`` after eating (or at the timeout),
so a rat that eats promptly gets more trials per hour, as in a session. Inter-trial intervals are drawn uniformly from ``iti_steps``
so that time alone does not predict the cue. One env step is 1/30 s.

The cue (``light``): ``"house"`` (default) switches on the lamp above the feeder *and* the
box's house light, which brightens the whole floor and the walls, so the cue is seen wherever the rat looks
(even nose to a wall)
(as a monkey fixating a screen, or a rat under a house light, cannot miss it); ``"lamp"`` is
the lamp alone, a sphere of 6 cm radius that covers about 4 of 1,024 pixels of a 32×32 view
from the far side of the box and is not seen at all when the rat faces away.

``restrained=True`` holds the rat's body still with its nose a few centimetres from the feeder,
facing the light's wall (its head still turns): the pellet is eaten on the step it drops, so the
time from light to food is the same on every trial whatever the rat does — the design of
dopamine recordings in head-fixed animals with a reward spout at the mouth (Cohen, Haesler,
Vong, Lowell & Uchida 2012, Nature 482:85; Eshel et al. 2015; Dabney et al. 2020), where the
freely moving version's timing depends on how soon the rat walks to the feeder.

The light and the pellet are ordinary things in the world: the rat learns about them only
through its senses. Trial bookkeeping in ``info`` (cue on, food present, trial index,
omission) is privileged and serves figures and tests.
"""

from __future__ import annotations

import numpy as np

from ..arena.builder import FLOOR_COLOUR
from ..arena.layout import FOOD
from ..body.checks import check_bool, check_int, check_number
from ..body.rat import NECK_OFFSET, NOSE_OFFSET
from .base import Task

LIGHT_ON = (1.0, 0.95, 0.3, 1.0)
LIGHT_OFF = (0.15, 0.15, 0.15, 1.0)
PELLET_RGBA = (0.85, 0.55, 0.1, 1.0)
HOUSE_LIGHT_FLOOR = (1.0, 0.97, 0.62, 1.0)  # the floor under the house light (off: the arena's FLOOR_COLOUR)
LIGHTS = ("house", "lamp")
NOSE_GAP = 0.03  # restrained: metres from the nose to the feeder's centre
MAX_STEPS = 1_000_000  # any step count option (9 hours of simulated time)


class Conditioning(Task):
    name = "conditioning"

    def __init__(
        self,
        cue_steps: int = 15,
        delay_steps: int = 30,
        iti_steps: tuple[int, int] = (60, 150),
        omission_prob: float = 0.0,
        food_timeout: int = 150,
        eat_radius: float = 0.08,
        reward: float = 1.0,
        light: str = "house",
        after_eat_steps: int = 15,
        restrained: bool = False,
    ):
        if not isinstance(light, str) or light not in LIGHTS:
            raise ValueError(f"conditioning: light={light!r}; allowed: {', '.join(LIGHTS)}")
        check_number("conditioning: omission_prob", omission_prob, 0.0, 1.0)
        after_eat_steps = check_int("conditioning: after_eat_steps", after_eat_steps, 0, MAX_STEPS)
        cue_steps = check_int("conditioning: cue_steps", cue_steps, 1, MAX_STEPS)
        delay_steps = check_int("conditioning: delay_steps", delay_steps, 0, MAX_STEPS)
        food_timeout = check_int("conditioning: food_timeout", food_timeout, 1, MAX_STEPS)
        check_number("conditioning: eat_radius", eat_radius, 0.0, 5.0, low_open=True, unit="metres")
        check_number("conditioning: reward", reward, -1e6, 1e6)
        if isinstance(iti_steps, str) or not hasattr(iti_steps, "__len__") or len(iti_steps) != 2:
            raise ValueError(
                f"conditioning: iti_steps={iti_steps!r}: must be two whole numbers (low, high), "
                f"1 ≤ low ≤ high ≤ {MAX_STEPS}"
            )
        iti_steps = tuple(check_int("conditioning: iti_steps", bound, 1, MAX_STEPS) for bound in iti_steps)
        if not (0 < cue_steps and 0 <= delay_steps and 0 < iti_steps[0] <= iti_steps[1]):
            raise ValueError(
                f"conditioning: need cue_steps > 0, delay_steps ≥ 0, 0 < iti_steps[0] ≤ iti_steps[1]; "
                f"got {cue_steps}, {delay_steps}, {iti_steps}"
            )
        self.cue_steps, self.delay_steps, self.iti_steps = cue_steps, delay_steps, tuple(iti_steps)
        self.omission_prob, self.food_timeout, self.eat_radius, self.reward = (
            omission_prob,
            food_timeout,
            eat_radius,
            reward,
        )
        self.light, self.after_eat_steps = light, int(after_eat_steps)
        self.restrained = check_bool("conditioning: restrained", restrained)
        self._build = -1
        self._step_reward = 0.0

    def initialize_episode(self, handle, rng):
        layout, arena = handle.layout, handle.arena
        feeders = layout.cells(FOOD)
        if not feeders:
            raise ValueError(f"conditioning: layout {layout.name!r} has no feeder cell 'F'")
        self.feeder = layout.cell_centre(*feeders[0])
        if self._build != arena.builds:
            self._pellet = arena.add_marker(PELLET_RGBA)
            self._light = arena.add_marker(LIGHT_OFF, radius=0.06)
            self._build = arena.builds
        # The light hangs on the wall beyond the feeder, facing into the box, above the rat's eye line.
        col, row = feeders[0]
        wall_dir = next(
            ((dc, dr) for dc, dr in ((0, -1), (1, 0), (0, 1), (-1, 0)) if not layout.free[row + dr, col + dc]), (0, -1)
        )
        half = layout.cell_size / 2
        arena.move_marker(self._light, self.feeder[0] + wall_dir[0] * half, self.feeder[1] - wall_dir[1] * half, z=0.12)
        handle.body.restrain(self.restrained)
        if self.restrained:  # nose NOSE_GAP short of the feeder, facing the light's wall
            heading = float(np.arctan2(-wall_dir[1], wall_dir[0]))
            back = NECK_OFFSET + NOSE_OFFSET + NOSE_GAP
            x, y = self.feeder[0] - back * np.cos(heading), self.feeder[1] - back * np.sin(heading)
            col, row = layout.cell_of(x, y)
            if not layout.free[row, col]:
                raise ValueError(
                    f"conditioning: restrained=True needs a free cell in front of the feeder "
                    f"(facing away from its wall) in layout {layout.name!r}; cell {(col, row)} is not free"
                )
            handle.body.place(x, y, heading)  # the env reads the body's state again after this hook
        self.trial, self.t = 0, 0
        self.eaten = 0
        self._step_reward = 0.0
        self._new_trial(rng)
        self._set_light(handle, False)
        self._set_food(handle, False)

    def _new_trial(self, rng):
        self.iti = int(rng.integers(self.iti_steps[0], self.iti_steps[1] + 1))
        self.omitted = bool(rng.random() < self.omission_prob)
        self.t = 0
        self.eaten_at = None  # step of this trial at which the pellet was eaten
        self.food_present = False
        self.cue_on = False

    def _set_light(self, handle, on: bool):
        self.cue_on = on
        arena = handle.arena
        arena.set_colour(self._light, LIGHT_ON if on else LIGHT_OFF)
        if self.light == "house":  # the floor is the arena's first body, the walls the next ones (Arena.build)
            arena.set_colour(arena.bodies[0], HOUSE_LIGHT_FLOOR if on else FLOOR_COLOUR)
            for body, rgb in zip(arena.bodies[1 : 1 + len(arena.wall_colours)], arena.wall_colours):
                lit = [0.5 * c + 0.5 * h for c, h in zip(rgb, HOUSE_LIGHT_FLOOR)] if on else list(rgb)
                arena.set_colour(body, lit[:3] + [1.0])

    def _set_food(self, handle, present: bool):
        self.food_present = present
        x, y = self.feeder if present else (0.0, 0.0)
        handle.arena.move_marker(self._pellet, x, y, z=0.02 if present else -50.0)
        handle.refresh_food_odour()

    def before_step(self, handle, action, rng):
        self.t += 1
        onset = self.iti
        if self.t == onset:
            self._set_light(handle, True)
        elif self.t == onset + self.cue_steps:
            self._set_light(handle, False)
        if self.t == onset + self.delay_steps and not self.omitted:
            self._set_food(handle, True)
        ate = self.eaten_at is not None and self.t >= max(self.eaten_at + self.after_eat_steps, onset + self.cue_steps)
        if ate or self.t >= onset + max(self.delay_steps, self.cue_steps) + self.food_timeout:
            if self.food_present:
                self._set_food(handle, False)
            self.trial += 1
            self._new_trial(rng)

    def after_step(self, handle, rng):
        """The pellet is eaten when the nose comes within ``eat_radius`` of the feeder."""
        self._step_reward = 0.0
        if not self.food_present:
            return
        nose = handle.body_state.head_point(NOSE_OFFSET)
        if np.hypot(nose[0] - self.feeder[0], nose[1] - self.feeder[1]) < self.eat_radius:
            self._set_food(handle, False)
            self.eaten += 1
            self.eaten_at = self.t
            self._step_reward = self.reward

    def get_reward(self, handle):
        return self._step_reward

    def odour_sources(self, handle):
        return [self.feeder] if getattr(self, "food_present", False) else []

    def info(self):
        return {
            "cue_on": self.cue_on,
            "food_present": self.food_present,
            "trial": self.trial,
            "omitted": self.omitted,
            "trial_step": self.t - self.iti,
            "food_eaten": self.eaten,
        }
