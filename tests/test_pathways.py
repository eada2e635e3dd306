"""Pathways: Go/NoGo learn from routed RPEs, unused modules are pruned, strong ones copied."""

import numpy as np
import pytest
import torch

from embodied.brain.basal_ganglia.config import BasalGangliaConfig
from embodied.brain.basal_ganglia.pathways import PathwayPopulation, kind_of

torch.set_num_threads(1)
FEATURES = 12


def population(modules=("forward", "turn_left", "explorer"), **plasticity):
    cfg = BasalGangliaConfig(
        initial_modules=list(modules), context_bits=2, actor_units=8, **{"min_age": 0, **plasticity}
    )
    return PathwayPopulation(FEATURES, cfg, np.random.default_rng(0))


def test_kinds_and_names():
    pop = population()
    assert [kind_of(n) for n in pop.names] == ["forward", "turn", "explorer"]
    assert len(set(pop.names)) == 3


def test_positive_rpe_raises_go_and_selection_probability():
    pop = population()
    name = pop.names[2]
    before_p = pop.probabilities(0)[2]
    go, nogo = pop.selector.go[(0, name)], pop.selector.nogo[(0, name)]
    for _ in range(5):
        pop.reinforce(name, 0, {"novelty": 0.5})
    assert pop.selector.go[(0, name)] > go
    assert pop.selector.nogo[(0, name)] < nogo
    assert pop.probabilities(0)[2] > before_p
    # only the context where it acted changed
    assert pop.probabilities(1)[2] == pytest.approx(1 / 3)


def test_negative_rpe_raises_nogo_and_lowers_selection_probability():
    pop = population()
    name = pop.names[0]
    nogo = pop.selector.nogo.get((0, name), 1.0)
    pop.probabilities(0)
    for _ in range(5):
        pop.reinforce(name, 0, {"food": -0.2})
    assert pop.selector.nogo[(0, name)] > nogo
    assert pop.probabilities(0)[0] < 1 / 3


def test_routing_gives_each_kind_its_own_channels():
    pop = population(modules=("motor", "forager"))
    motor, forager = pop.names
    assert pop.route(motor, {"effort": -1.0}) < 0 and pop.route(forager, {"effort": -1.0}) > pop.route(
        motor, {"effort": -1.0}
    )
    assert pop.route(motor, {"novelty": 1.0}) == 0.0  # the motor circuit is not graded on novelty


def test_tonic_modulation_tilts_towards_go():
    pop = population()
    name = pop.names[1]
    for _ in range(5):
        pop.reinforce(name, 0, {"novelty": 0.5})
    assert pop.probabilities(0, modulation=0.8)[1] > pop.probabilities(0, modulation=-0.8)[1]


def test_unused_module_decays_and_is_pruned_but_minimum_kept():
    pop = population(modules=("forward", "explorer", "explorer", "explorer"), min_modules=2, strength_decay=0.99)
    used = pop.names[0]
    for step in range(1, 400):
        pop.reinforce(used, 0, {"novelty": 0.0}, step=step)
        pop.tick(step, active={used}, n_steps=1)
    assert used in pop.modules and len(pop) == 2
    assert pop.prunes == 2
    assert [e[1] for e in pop.events].count("prune") == 2


def test_innate_reflexes_are_never_pruned_but_unused_learned_modules_are():
    pop = population(
        modules=("wall_follow_right", "turn_left", "explorer", "explorer"), min_modules=1, strength_decay=0.99
    )
    used = pop.names[2]  # one learned explorer acts; the reflexes and the other explorer idle
    for step in range(1, 400):
        pop.reinforce(used, 0, {"novelty": 0.0}, step=step)
        pop.tick(step, active={used}, n_steps=1)
    assert sorted(kind_of(n) for n in pop.names) == ["explorer", "turn", "wall_follow"]
    assert pop.prunes == 1 and pop.modules[pop.names[0]].strength < 0.3  # weak, yet kept: innate


def test_strong_module_spawns_a_mutated_copy():
    pop = population(modules=("forward", "explorer"), spawn_threshold=1.2, max_modules=3)
    other, parent = pop.names
    for step in range(30):  # better than what is usual in this context: the other module does badly
        pop.reinforce(parent, 0, {"novelty": 1.0}, step=step)
        pop.reinforce(other, 0, {"novelty": -1.0}, step=step)
    go_parent = pop.selector.go[(0, parent)]
    pop.tick(30, active={parent}, n_steps=1)
    assert pop.births == 1 and len(pop) == 3 and pop.modules[other].strength < 1.0
    child = pop.names[-1]
    assert pop.modules[child].parent == parent and kind_of(child) == "explorer"
    assert pop.selector.go[(0, child)] == pytest.approx(go_parent)
    a, c = pop.modules[parent].actor, pop.modules[child].actor
    diffs = [float((pa - pc).detach().abs().max()) for pa, pc in zip(a.parameters(), c.parameters())]
    assert all(0 < d < 1.0 for d in diffs)  # a copy, perturbed
    assert any(e[1] == "birth" and e[3] == parent for e in pop.events)
    pop.modules[parent].strength = 2.0
    pop.tick(31, active={parent}, n_steps=1)
    assert len(pop) == 3  # capped


def test_plasticity_off_keeps_the_module_set():
    pop = population(plasticity=False)
    names = pop.names
    for step in range(500):
        pop.tick(step, active=set(), n_steps=1)
    assert pop.names == names


def test_context_is_a_deterministic_hash_and_state_round_trips():
    pop = population()
    x = np.random.default_rng(1).normal(size=(50, FEATURES))
    ctx = pop.context(x)
    assert ctx.min() >= 0 and ctx.max() < 4 and len(set(ctx)) > 1
    pop.reinforce(pop.names[2], int(ctx[0]), {"novelty": 0.3})
    clone = population()
    clone.load_state_dict(pop.state_dict())
    assert np.array_equal(clone.context(x), ctx)
    assert clone.selector.go == pop.selector.go and clone.names == pop.names
