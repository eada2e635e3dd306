"""The shared dopamine rules: each test states a property that a wrong rule breaks."""

import numpy as np
import pytest
import torch

from embodied.brain.dopamine.rules import (
    LinearDopamine,
    StimulusFeatures,
    TonicDopamine,
    asymmetric_rates,
    expectile_loss,
    expectile_update,
    head_spread,
    lambda_returns,
    phasic_dopamine,
    precision_weighted,
    td_error,
)


def test_td_error_sign_and_size_numpy_and_torch():
    assert td_error(1.0, 0.2, 0.5, 0.9) == pytest.approx(1.0 + 0.45 - 0.2)
    assert td_error(0.0, 1.0, 0.0, 0.9) == pytest.approx(-1.0)  # omitted reward: dip
    assert td_error(1.0, 0.0, 5.0, 0.9, done=1.0) == pytest.approx(1.0)  # no bootstrap past terminal
    d = td_error(np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.zeros(2), 0.5)
    np.testing.assert_allclose(d, [1.0, -1.0])
    t = td_error(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([2.0]), 0.5)
    assert torch.is_tensor(t) and t.item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="gamma"):
        td_error(0.0, 0.0, 0.0, 1.5)


def test_lambda_returns_hand_computed_case():
    r = torch.tensor([1.0, 0.0, 2.0])
    v = torch.tensor([0.5, 1.0, 0.0, 3.0])
    d = torch.tensor([0.9, 0.9, 0.0])  # last step terminal
    lam = 0.5
    g2 = 2.0 + 0.0
    g1 = 0.0 + 0.9 * (0.5 * 0.0 + 0.5 * g2)
    g0 = 1.0 + 0.9 * (0.5 * 1.0 + 0.5 * g1)
    np.testing.assert_allclose(lambda_returns(r, v, d, lam).numpy(), [g0, g1, g2], rtol=1e-6)


def test_lambda_returns_limits_td0_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    r, v = torch.rand(6, 4, generator=g), torch.rand(7, 4, generator=g)
    d = torch.full((6, 4), 0.9)
    np.testing.assert_allclose(lambda_returns(r, v, d, 0.0).numpy(), (r + d * v[1:]).numpy(), rtol=1e-6)
    mc = torch.zeros_like(r)
    ret = v[-1]
    for t in reversed(range(6)):
        ret = r[t] + d[t] * ret
        mc[t] = ret
    np.testing.assert_allclose(lambda_returns(r, v, d, 1.0).numpy(), mc.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="T\\+1"):
        lambda_returns(r, v[:-1], d, 0.5)


def test_expectile_heads_order_on_bimodal_reward():
    rng = np.random.default_rng(0)
    taus = np.array([0.1, 0.5, 0.9])
    a_pos, a_neg = asymmetric_rates(taus, 0.02)
    np.testing.assert_allclose(a_pos / (a_pos + a_neg), taus)
    v = np.zeros(3)
    for _ in range(5000):
        v, _ = expectile_update(v, rng.choice([0.0, 1.0]), a_pos, a_neg)
    assert v[0] < v[1] < v[2]
    assert v[1] == pytest.approx(0.5, abs=0.1)  # τ = ½ is the mean
    assert v[2] - v[0] > 0.4


def test_expectile_loss_gradient_orders_heads():
    taus = torch.tensor([0.1, 0.5, 0.9])
    pred = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([pred], lr=0.5)
    gen = torch.Generator().manual_seed(1)
    for _ in range(400):
        target = (torch.rand(64, generator=gen) < 0.5).float()
        loss = expectile_loss(pred.expand(64, 3), target, taus)
        opt.zero_grad()
        loss.backward()
        opt.step()
    p = pred.detach().numpy()
    assert p[0] < p[1] < p[2] and p[1] == pytest.approx(0.5, abs=0.1)
    with pytest.raises(ValueError, match="heads"):
        expectile_loss(torch.zeros(4, 2), torch.zeros(4), taus)


def test_tonic_level_rises_with_reward_rate_and_raises_vigour():
    lean, rich = TonicDopamine(rate=0.05), TonicDopamine(rate=0.05)
    rng = np.random.default_rng(0)
    for _ in range(300):
        lean.update(float(rng.random() < 0.1))
        rich.update(float(rng.random() < 0.6))
    assert rich.level > lean.level > 0
    assert rich.vigour() > lean.vigour()
    assert 0.5 <= lean.vigour() < rich.vigour() <= 1.0
    assert rich.temperature() < lean.temperature()
    batched = TonicDopamine(rate=0.5, num_envs=3)
    batched.update(np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(batched.level, [0.0, 0.5, 1.0])
    assert np.all(np.diff(batched.vigour()) > 0)
    batched.reset([2])
    assert batched.level[2] == 0.0 and batched.level[1] == 0.5


def test_precision_weighting_and_channels():
    assert abs(precision_weighted(1.0, 4.0, eps=0.0)) == pytest.approx(0.5)
    assert precision_weighted(1.0, 0.01) > precision_weighted(1.0, 1.0)  # confident critic: louder error
    assert head_spread(np.array([[0.0, 2.0]]))[0] == pytest.approx(1.0)
    da, channels = phasic_dopamine({"food": 1.0, "novelty": -2.0, "effort": 3.0}, {"food": 1.0, "novelty": 0.5})
    assert da == pytest.approx(0.0) and channels["effort"] == 3.0
    with pytest.raises(KeyError, match="unknown channel"):
        phasic_dopamine({"food": 1.0}, {"fod": 1.0})


def test_linear_dopamine_burst_moves_to_cue_and_omission_dips():
    da = LinearDopamine(alpha=0.2, gamma=0.98, lam=0.9)

    def trial(reward=1.0, learn=True):
        rpes = [da.step({}, 0.0, learn).rpe for _ in range(5)]
        rpes += [da.step({"light": 1.0}, 0.0, learn).rpe for _ in range(10)]
        rpes.append(da.step({}, reward, learn).rpe)
        rpes += [da.step({}, 0.0, learn).rpe for _ in range(3)]
        da.end_trial(learn)
        return np.array(rpes)

    first = trial()
    assert first[15] == pytest.approx(1.0) and abs(first[5]) < 1e-9
    for _ in range(150):
        trial()
    late = trial(learn=False)
    assert late[5] > 0.6 and abs(late[15]) < 0.1
    omitted = trial(reward=0.0, learn=False)
    assert omitted[15] < -0.6


def test_channels_and_distributional_heads_in_linear_mode():
    da = LinearDopamine(channels={"food": 1.0, "novelty": 0.5}, taus=(0.2, 0.8), alpha=0.1)
    out = da.step({"tone": 1.0}, {"food": 1.0, "novelty": 1.0})
    assert out.rpe == pytest.approx(1.5)
    assert set(out.channels) == {
        "food",
        "novelty",
        "food/tau=0.20",
        "food/tau=0.80",
        "novelty/tau=0.20",
        "novelty/tau=0.80",
    }
    with pytest.raises(KeyError, match="unknown reward channel"):
        da.step({}, {"fud": 1.0})
    with pytest.raises(ValueError, match="one channel"):
        da.step({}, 1.0)


def test_feature_representations_and_errors():
    f = StimulusFeatures(("csc", "presence", "microstimuli"), horizon=4, n_microstimuli=3)
    x0 = f({"tone": 1.0})
    x1 = f({"tone": 1.0})
    assert x0.size == 4 + 3 + 1 and x0[0] == 1 and x1[1] == 1 and x0[4 + 3] == 1
    x2 = f({})
    assert x2[2] == 1 and x2[7] == 0  # CSC memory trace keeps running; presence is off
    with pytest.raises(ValueError, match="allowed: csc, microstimuli, presence"):
        StimulusFeatures(("tapped_delay",))
    with pytest.raises(ValueError, match="trace"):
        LinearDopamine(trace="dutch")


def test_replacing_trace_caps_eligibility():
    acc, rep = (
        LinearDopamine(trace="accumulating", representation="presence", lam=1.0, gamma=1.0),
        LinearDopamine(trace="replacing", representation="presence", lam=1.0, gamma=1.0),
    )
    for da in (acc, rep):
        for _ in range(5):
            da.step({"tone": 1.0}, 0.0)
    assert acc.e[0] == pytest.approx(4.0) and rep.e[0] == pytest.approx(1.0)


@pytest.mark.parametrize("representation", [("presence",), ("microstimuli",), ("presence", "csc")])
def test_other_representations_learn_the_cue_and_dip_on_omission(representation):
    da = LinearDopamine(alpha=0.1, representation=representation, lam=0.9)

    def trial(reward, learn=True):
        rpes = [da.step({"tone": 1.0}, 0.0, learn).rpe for _ in range(10)]
        rpes.append(da.step({}, reward, learn).rpe)
        da.end_trial(learn)
        return rpes

    for _ in range(300):
        trial(1.0)
    omitted = trial(0.0, learn=False)
    assert omitted[0] > 0.3  # the cue predicts reward
    assert omitted[10] < -0.2  # dip when the expected reward fails to come (microstimuli: coarser timing, shallower)
    assert np.argmin(omitted) == 10


def test_precision_weighting_scales_broadcast_not_learning():
    plain, precise = LinearDopamine(alpha=0.1), LinearDopamine(alpha=0.1, precision=True, precision_eps=1e-3)
    for _ in range(50):
        for da in (plain, precise):
            da.step({"tone": 1.0})
            da.step({}, 1.0)
            da.end_trial()
    np.testing.assert_allclose(plain.w, precise.w)  # critics learn from raw δ
    out_p, out_q = plain.step({"tone": 1.0}, learn=False), precise.step({"tone": 1.0}, learn=False)
    assert out_q.rpe > out_p.rpe > 0  # small learned RPE variance -> louder broadcast
