"""The basal-ganglia part on its own: options last option_steps steps and are reinforced with their
summed-then-weighted RPE, vigour scales the forward drive, actors learn from a routed advantage,
and the state (population, RNG, counters) round-trips exactly."""

import io

import numpy as np
import pytest
import torch

from embodied.brain.basal_ganglia.config import BasalGangliaConfig
from embodied.brain.basal_ganglia.part import BasalGanglia
from embodied.brain.basal_ganglia.pathways import PlasticityConfig

torch.set_num_threads(1)
FEATURES = 6
CHANNELS = ["prediction_success", "novelty", "coherence", "food", "effort"]
WEIGHTS = {"prediction_success": 0.5, "novelty": 1.0, "coherence": 0.25, "food": 5.0, "effort": 0.5}


def basal_ganglia(modules, num_envs=1, seed=0, **overrides):
    cfg = BasalGangliaConfig(initial_modules=list(modules), actor_units=8, plasticity=False, **overrides)
    rng = np.random.default_rng(seed)
    return BasalGanglia(cfg, FEATURES, WEIGHTS, CHANNELS, rng, num_envs, torch.device("cpu"))


def obs(num_envs=1):
    """Whiskers untouched and no smell: the reflexes read only these."""
    return {"touch": np.zeros((num_envs, 20), np.float32), "scent": np.zeros((num_envs, 2), np.float32)}


def rpe(value, num_envs=1, channel="food"):
    return {c: np.full(num_envs, value if c == channel else 0.0, np.float32) for c in CHANNELS}


def step(part, t, delta=0.0, vigour=1.0, learn=True, features=None, num_envs=1):
    features = np.zeros((num_envs, FEATURES), np.float32) if features is None else features
    ones = np.ones(num_envs)
    is_first = np.full(num_envs, t == 0)
    return part.step(obs(num_envs), features, is_first, rpe(delta, num_envs), 0 * ones, ones, vigour * ones, learn)


def test_a_module_keeps_control_for_option_steps_and_is_reinforced_with_its_weighted_mean_rpe():
    part = basal_ganglia(["forward", "turn_left"], option_steps=3)
    left = []
    for t in range(7):
        step(part, t, delta=0.1)  # every transition: a food RPE of 0.1
        left.append(int(part.option_left[0]))
    assert left == [2, 1, 0, 2, 1, 0, 2]  # chosen at t = 0, 3, 6
    selected = [e for e in part.take_events() if e[1] == "select"]
    assert [e[0] for e in selected] == [3, 6]  # reinforced at the option's end, at the step count then
    # the option's mean food RPE 0.1, weighted by w_food = 5: global RPE 0.5, δ = 0.5 − V(context) = 0.5,
    # and the strength moves s ← s + η (1 + g δ − s) from 1 with η = 0.1, g = 1
    assert selected[0][4] == pytest.approx(1.0 + 0.1 * 0.5)
    assert part.take_events() == []  # taken once


def test_vigour_scales_only_the_forward_drive():
    actions = {}
    for vigour in (1.0, 0.5):
        part = basal_ganglia(["forward"])  # the same RNG stream: the same reflex noise
        actions[vigour], _ = step(part, 0, vigour=vigour)
    assert actions[1.0][0, 0] > 0 and actions[0.5][0, 0] == pytest.approx(0.5 * actions[1.0][0, 0])
    assert np.array_equal(actions[0.5][0, 1:], actions[1.0][0, 1:])


def rollout(part, steps=6, num_envs=2):
    rng = np.random.default_rng(1)
    records = []
    for t in range(steps):
        features = rng.normal(size=(num_envs, FEATURES)).astype(np.float32)
        _, raw = step(part, t, features=features, num_envs=num_envs)
        records.append({"features": features, "module": list(part.module), "raw": raw})
    return records


def actor_params(part):
    return [p.detach().clone() for m in part.population.actors().values() for p in m.actor.parameters()]


def test_actors_learn_from_the_routed_advantage_and_skip_a_non_finite_one():
    part = basal_ganglia(["explorer"], num_envs=2)
    records = rollout(part)
    advantage = np.random.default_rng(2).normal(size=(5, 2, len(CHANNELS))).astype(np.float32)
    mask = np.ones((5, 2), np.float32)
    before = actor_params(part)
    out = part.learn(records, advantage, mask)
    assert np.isfinite(out["actor"]) and part.nan_skips == 0
    assert any(not torch.equal(a, b) for a, b in zip(before, actor_params(part)))
    before = actor_params(part)
    assert part.learn(records, advantage * np.nan, mask) == {} and part.nan_skips == 1
    assert all(torch.equal(a, b) for a, b in zip(before, actor_params(part)))


def saved(state: dict) -> dict:
    """``state`` through a checkpoint file: plain data that loads with ``weights_only``."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_the_state_round_trips_and_the_next_choices_and_actions_repeat():
    modules = ["forward", "turn_left", "explorer", "explorer"]
    part = basal_ganglia(modules, num_envs=2, option_steps=2)
    rollout(part)
    clone = basal_ganglia(modules, num_envs=2, seed=7, option_steps=2)  # another RNG: all must come from the state
    clone.load_state_dict(saved(part.state_dict()))
    assert clone.step_count == part.step_count == 12 and clone.population.names == part.population.names
    a, b = rollout(part), rollout(clone)
    assert [r["module"] for r in a] == [r["module"] for r in b]
    assert all(np.array_equal(x["raw"], y["raw"]) for x, y in zip(a, b))


def test_plasticity_knobs_come_from_the_config_section_alone():
    part = basal_ganglia(["forward"], spawn_threshold=1.4)
    assert part.population.plasticity == PlasticityConfig.from_config(part.cfg)
    assert part.population.plasticity.spawn_threshold == 1.4 and part.population.plasticity.enabled is False
    with pytest.raises(TypeError):
        PlasticityConfig()  # no defaults of its own to drift from BasalGangliaConfig's


def test_without_innate_reflexes_only_learned_modules_start_and_act():
    """innate_reflexes=false (issue 14's reflex-free newborn): the default starting list loses its
    reflexes, every module in control is a learned actor, and a list of reflexes alone is refused."""
    from embodied.brain.basal_ganglia.config import DEFAULT_MODULES
    from embodied.brain.basal_ganglia.pathways import REFLEX_KINDS
    from embodied.train.config import ConfigError, load_config

    part = basal_ganglia(DEFAULT_MODULES, innate_reflexes=False)
    kinds = sorted(m.kind for m in part.population.modules.values())
    assert kinds == ["explorer", "explorer", "forager", "motor"]
    with_reflexes = basal_ganglia(DEFAULT_MODULES)
    assert {m.kind for m in with_reflexes.population.modules.values()} & set(REFLEX_KINDS)
    for t in range(40):
        step(part, t)
        assert part.population.modules[part.module[0]].kind not in REFLEX_KINDS
    with pytest.raises(ConfigError, match="innate_reflexes=false leaves no module"):
        load_config(None, ["innate_reflexes=false", 'initial_modules=["forward", "turn_left"]'])
    assert load_config(None, ["brain.basal_ganglia.innate_reflexes=false"]).brain.basal_ganglia.innate_reflexes is False


def actor_mean(part, features):
    module = next(iter(part.population.actors().values()))
    with torch.no_grad():
        return module.actor(torch.as_tensor(features))[0].numpy()


@pytest.mark.parametrize("epochs", [1, 4])
def test_an_actor_update_moves_its_action_toward_a_positive_advantage_and_away_from_a_negative(epochs):
    """Issue 14's test: the learned actor's update moves the mean action toward the sample taken
    where the routed advantage was positive, and away where it was negative (plain policy gradient
    with one epoch, PPO's clipped surrogate with four)."""
    for sign in (1.0, -1.0):
        part = basal_ganglia(["explorer"], num_envs=2, actor_epochs=epochs, actor_lr=1e-2)
        records = rollout(part, steps=9)
        features = np.stack([r["features"] for r in records[:-1]])
        before = actor_mean(part, features)
        raw = np.stack([r["raw"] for r in records[:-1]])
        advantage = np.zeros((8, 2, len(CHANNELS)), np.float32)
        advantage[..., CHANNELS.index("novelty")] = sign  # explorers read novelty with weight 1.5
        part.learn(records, advantage, np.ones((8, 2), np.float32))
        after = actor_mean(part, features)
        # the step along each sample's offset from the old mean: + for a positive advantage, − for a negative
        moved = ((after - before) * (raw - before)).sum(-1).mean()
        assert sign * moved > 0


def test_held_noise_keeps_an_actors_exploration_for_its_option_and_draws_it_anew_at_the_next():
    """actor_noise_correlation=1: ε is one draw per option (raw − μ constant over the option's
    steps while the features stay put); 0: a fresh draw every step."""
    features = np.ones((1, FEATURES), np.float32)
    offsets = {}
    for rho in (1.0, 0.0):
        part = basal_ganglia(["explorer"], option_steps=4, actor_noise_correlation=rho)
        mean = actor_mean(part, features)
        offsets[rho] = np.array([step(part, t, features=features)[1][0] - mean[0] for t in range(8)])
    held = offsets[1.0]
    assert np.allclose(held[:4], held[0], atol=1e-6) and np.allclose(held[4:], held[4], atol=1e-6)
    assert not np.allclose(held[0], held[4])  # the next option draws anew
    assert not np.allclose(offsets[0.0][0], offsets[0.0][1])  # white noise: every step anew


def test_actors_that_read_the_senses_see_the_whiskers_beside_the_latent():
    """actor_senses=[touch]: the actor's input is the latent ⊕ symlog(touch); a touched whisker
    changes a learned module's proposal even when the latent is unchanged."""
    import gymnasium as gym

    space = gym.spaces.Dict(
        {"touch": gym.spaces.Box(0, 1, (20,), np.float32), "scent": gym.spaces.Box(0, 1, (2,), np.float32)}
    )
    cfg = BasalGangliaConfig(initial_modules=["explorer"], actor_units=8, plasticity=False, actor_senses=["touch"])
    part = BasalGanglia(
        cfg, FEATURES, WEIGHTS, CHANNELS, np.random.default_rng(0), 1, torch.device("cpu"), observation_space=space
    )
    module = next(iter(part.population.actors().values()))
    assert module.actor.net[0].in_features == FEATURES + 20
    touched = obs()
    touched["touch"][0, 3] = 1.0
    features = np.zeros((1, FEATURES), np.float32)
    inputs = [part._actor_input(o, features) for o in (obs(), touched)]
    assert inputs[1][0, FEATURES + 3] == pytest.approx(np.log1p(1.0)) and not np.array_equal(*inputs)
    with pytest.raises(ValueError, match="'whiskers'"):
        BasalGanglia(
            BasalGangliaConfig(initial_modules=["explorer"], actor_senses=["whiskers"]),
            FEATURES,
            WEIGHTS,
            CHANNELS,
            np.random.default_rng(0),
            1,
            "cpu",
            observation_space=space,
        )


def test_centred_advantages_ignore_an_offset_common_to_the_whole_rollout():
    """actor_advantage_centring: a constant advantage (a lagging critic's common offset) moves no
    weight of the actor's mean network (only the entropy bonus reaches log σ); uncentred, it does."""
    moved = {}
    for centring in (True, False):
        part = basal_ganglia(["explorer"], num_envs=2, actor_advantage_centring=centring, actor_lr=1e-2)
        records = rollout(part, steps=9)
        net = next(iter(part.population.actors().values())).actor.net
        before = [p.detach().clone() for p in net.parameters()]
        advantage = np.full((8, 2, len(CHANNELS)), 0.7, np.float32)
        part.learn(records, advantage, np.ones((8, 2), np.float32))
        moved[centring] = max(float((p - b).abs().max()) for p, b in zip(net.parameters(), before))
    assert moved[True] == 0.0 and moved[False] > 1e-4


def test_motor_babbling_gives_each_newborn_actor_its_own_mean_action_and_copies_inherit_it():
    """actor_bias_std > 0: the starting actors propose different mean actions from birth (a repertoire
    for selection to choose among); 0 (the default) starts every actor at the mean action ≈ 0; a copy
    starts from its parent's weights."""
    features = np.zeros((1, FEATURES), np.float32)
    flat = basal_ganglia(["explorer"] * 6)
    flat_means = np.stack(
        [m.actor(torch.as_tensor(features))[0].detach().numpy()[0] for m in flat.population.actors().values()]
    )
    assert np.abs(flat_means).max() <= np.tanh(1 / np.sqrt(8)) + 1e-3  # PyTorch's bias init U(±1/√units) alone
    part = basal_ganglia(["explorer"] * 6, actor_bias_std=1.0)
    modules = list(part.population.modules.values())
    means = np.stack([m.actor(torch.as_tensor(features))[0].detach().numpy()[0] for m in modules])
    assert means.std(0).min() > 0.3  # every action dim differs across the repertoire
    assert (means[:, 0] > 0.2).any() and (means[:, 0] < -0.2).any()  # some go forward, some back
    child = part.population._new_module("explorer", born=1, parent=modules[2])
    child_mean = child.actor(torch.as_tensor(features))[0].detach().numpy()[0]
    np.testing.assert_allclose(child_mean, means[2], atol=1e-6)


def test_averaged_actor_weights_follow_the_bounded_running_mean_and_only_an_acting_policy_uses_them():
    """actor_average=τ: after the n-th update θ̄ ← θ̄ + w(θ − θ̄), w = max(1/n, 1 − τ) (τ = 0.5: the
    mean of the first two, then halfway to each new θ). Training keeps acting and learning with θ; a
    state loaded to act (``weights_only``, as evaluation and videos load it) acts with θ̄, one loaded to
    resume restores θ and θ̄ both; with τ = 0 no average is kept."""
    part = basal_ganglia(["explorer"], num_envs=2, actor_average=0.5, actor_lr=1e-2)
    module = next(iter(part.population.actors().values()))
    live = []
    for seed in range(3):
        records = rollout(part)
        advantage = np.random.default_rng(seed).normal(size=(5, 2, len(CHANNELS))).astype(np.float32)
        part.learn(records, advantage, np.ones((5, 2), np.float32))
        live.append({k: v.clone() for k, v in module.actor.state_dict().items()})
    expected = {k: 0.5 * (0.5 * (live[0][k] + live[1][k])) + 0.5 * live[2][k] for k in live[0]}
    assert module.average.updates == 3
    for key, value in expected.items():
        assert torch.allclose(module.average.weights[key], value, atol=1e-6)
    assert not torch.allclose(module.average.weights["net.0.weight"], live[2]["net.0.weight"])

    state = saved(part.state_dict())
    acting = basal_ganglia(["explorer"], num_envs=2, actor_average=0.5, seed=3)
    acting.load_state_dict(state, weights_only=True)
    resumed = basal_ganglia(["explorer"], num_envs=2, actor_average=0.5, seed=3)
    resumed.load_state_dict(state)
    for key in live[2]:
        assert torch.allclose(next(iter(acting.population.actors().values())).actor.state_dict()[key], expected[key])
        assert torch.equal(next(iter(resumed.population.actors().values())).actor.state_dict()[key], live[2][key])
        resumed_average = next(iter(resumed.population.actors().values())).average
        assert torch.equal(resumed_average.weights[key], module.average.weights[key])
    assert next(iter(resumed.population.actors().values())).average.updates == 3

    plain = basal_ganglia(["explorer"], num_envs=2)
    assert all(entry["average"] is None for entry in plain.state_dict()["population"]["modules"])
