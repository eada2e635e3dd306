"""Issue 14, claim 6: a reflex-free rat's novelty-driven module selection moves it out of a loop it
has already run, in a scripted two-loop layout.

Real parts, scripted body: the basal ganglia of a reflex-free newborn (two learned actors: selection
among them is what is tested) and the episodic place memory of ``brain.perception.place`` (count-based
novelty ``1/√n`` per 0.1 m field). The layout is two rings joined by a corridor, and each actor stands
for a motor program whose effect the script applies: ``keep`` runs on around the ring the rat is on
(in the corridor: back to the ring it came from, the familiar place), ``leave`` runs on to the ring's
exit and along the corridor to the other ring. The rat has already run three laps of ring A. Each
step's novelty is the RPE that selection learns from (OpAL's context critic is the baseline), and the
ring, its exit and the corridor look different (distinct latent features, so distinct striatal
contexts). Around the visited ring novelty has faded, along the corridor it is new, so ``leave`` gains
Go at the exit and in the corridor, and the rat reaches ring B in about half the options that chance
selection takes (leaving takes several ``leave`` options in a row). The effect is real but slow: OpAL's
default rates move a choice probability by a few per cent per option.
"""

import math

import numpy as np
import torch

from embodied.brain.basal_ganglia.config import BasalGangliaConfig
from embodied.brain.basal_ganglia.part import BasalGanglia
from embodied.brain.perception.place import PlaceMemory

torch.set_num_threads(1)
RADIUS, CORRIDOR, STRIDE = 0.15, (0.15, 2.15), 0.05  # metres: rings at x = 0 and 2.3; a step is half a field


class TwoLoops:
    """The scripted layout: ring A (centre (0, 0)), ring B (centre (2.3, 0)), a 2 m corridor y = 0
    between their exits. State: where ('A' | 'B' | 'corridor'), angle on a ring, x in the
    corridor, and the ring the rat entered the corridor from."""

    def __init__(self):
        self.where, self.angle, self.x, self.came_from = "A", math.pi, 0.0, "A"

    def position(self) -> np.ndarray:
        if self.where == "corridor":
            return np.array([self.x, 0.0])
        cx = 0.0 if self.where == "A" else CORRIDOR[1] + RADIUS
        return np.array([cx + RADIUS * math.cos(self.angle), RADIUS * math.sin(self.angle)])

    def zone(self) -> str:
        """What the rat sees: its ring, the ring's exit ahead (within one option's run), or the corridor."""
        if self.where == "corridor":
            return "corridor"
        exit_angle = 0.0 if self.where == "A" else math.pi
        ahead = (exit_angle - self.angle) % (2 * math.pi) * RADIUS
        return "exit" if ahead <= 8 * STRIDE else self.where

    def step(self, program: str) -> np.ndarray:
        if self.where == "corridor":
            toward = self.came_from if program == "keep" else ("B" if self.came_from == "A" else "A")
            self.x += STRIDE if toward == "B" else -STRIDE
            if self.x >= CORRIDOR[1] or self.x <= CORRIDOR[0]:  # arrives at a ring's exit
                self.where = "B" if self.x >= CORRIDOR[1] else "A"
                self.angle = math.pi if self.where == "B" else 0.0
        else:
            exit_angle = 0.0 if self.where == "A" else math.pi
            before = (self.angle - exit_angle) % (2 * math.pi)
            self.angle = (self.angle + STRIDE / RADIUS) % (2 * math.pi)
            passed_exit = (self.angle - exit_angle) % (2 * math.pi) < before
            if program == "leave" and passed_exit:
                self.came_from, self.where = self.where, "corridor"
                self.x = CORRIDOR[0] if self.came_from == "A" else CORRIDOR[1]
        return self.position()


def distinct_views(part: BasalGanglia) -> dict[str, np.ndarray]:
    """Latent features for the zones (ring A, ring B, exit, corridor), chosen so that the striatum's
    hash puts ring A, the exit and the corridor in different contexts, as distinct views would."""
    candidates = np.random.default_rng(0).normal(size=(64, 4))
    views, used = {}, set()
    for zone in ("A", "exit", "corridor"):
        for f in candidates:
            context = int(part.population.context(f[None])[0])
            if context not in used:
                views[zone], used = f[None].astype(np.float32), used | {context}
                break
    views["B"] = views["A"]
    return views


def options_to_reach_ring_b(seed: int, novelty_on: bool, max_options: int = 80) -> int:
    """Options the reflex-free rat takes to reach ring B (max_options + 1: it did not)."""
    cfg = BasalGangliaConfig(
        initial_modules=["explorer", "explorer"], innate_reflexes=False, plasticity=False, actor_units=8
    )
    part = BasalGanglia(cfg, 4, {"novelty": 1.0}, ["novelty"], np.random.default_rng(seed), 1, torch.device("cpu"))
    program = dict(zip(part.population.actors(), ["keep", "leave"]))
    layout, memory, home = TwoLoops(), PlaceMemory(1, field=0.1), np.array([False])
    memory.visit(layout.position()[None], np.array([True]))
    for _ in range(3 * round(2 * math.pi * RADIUS / STRIDE)):  # three laps of ring A already run
        memory.visit(layout.step("keep")[None], home)
    obs = {"touch": np.zeros((1, 20), np.float32)}
    views = distinct_views(part)
    ones, bonus = np.ones(1), np.zeros(1, np.float32)
    options = 0
    for t in range(max_options * cfg.option_steps):
        rpe = {"novelty": bonus if novelty_on else np.zeros(1, np.float32)}
        part.step(obs, views[layout.zone()], np.array([t == 0]), rpe, 0 * ones, ones, ones, learn=True)
        options += int(part.option_left[0] == cfg.option_steps - 1)
        bonus = memory.visit(layout.step(program[part.module[0]])[None], home)
        if layout.where == "B":
            return options
    return max_options + 1


def test_novelty_driven_selection_leaves_a_visited_loop_sooner_than_chance():
    """Options to reach ring B (at most 300), over seeds 0-15: with novelty mean 26.9 (median 15), with the
    novelty channel silent (selection by chance) mean 55.0 (median 26.5): ratio 0.49; over seeds 16-31,
    32-47 and 48-63 the ratio was 0.63, 0.53 and 0.42 (asserted: < 0.75, and the medians in order)."""
    with_novelty = [options_to_reach_ring_b(seed, True, 300) for seed in range(16)]
    by_chance = [options_to_reach_ring_b(seed, False, 300) for seed in range(16)]
    assert np.mean(with_novelty) < 0.75 * np.mean(by_chance), (with_novelty, by_chance)
    assert np.median(with_novelty) < np.median(by_chance), (with_novelty, by_chance)
