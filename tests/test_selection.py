"""Opponent Go/NoGo selection (OpAL, Collins & Frank 2014)."""

import pytest

from embodied.brain.basal_ganglia.selection import OpponentSelector


def test_positive_delta_raises_go_and_choice_probability():
    sel = OpponentSelector(alpha_go=0.2, alpha_nogo=0.2)
    before = sel.probabilities(["A", "B"], context="room")[0]
    sel.update("A", context="room", delta=1.0)
    assert sel.go[("room", "A")] > 1.0 and sel.nogo[("room", "A")] < 1.0
    assert sel.probabilities(["A", "B"], context="room")[0] > before


def test_negative_delta_raises_nogo_and_lowers_choice():
    for rule in ("opal", "linear"):
        sel = OpponentSelector(rule=rule)
        before = sel.probabilities(["A", "B"])[1]
        sel.update("B", delta=-1.0)
        assert sel.nogo[(None, "B")] > 1.0 and sel.go[(None, "B")] <= 1.0
        assert sel.probabilities(["A", "B"])[1] < before


def test_critic_learns_from_reward_and_contexts_are_separate():
    sel = OpponentSelector(alpha_critic=0.5)
    d1 = sel.update("left", reward=1.0, context=(3, 4))
    d2 = sel.update("left", reward=1.0, context=(3, 4))
    assert d1 == pytest.approx(1.0) and d2 == pytest.approx(0.5)
    assert sel.critic[(3, 4)] == pytest.approx(0.75)
    assert sel.go[((3, 4), "left")] > 1.0 and (None, "left") not in sel.go  # other contexts untouched


def test_dopamine_tilts_go_versus_nogo():
    sel = OpponentSelector(beta=2.0)
    sel.go[(None, "good")], sel.nogo[(None, "good")] = 3.0, 1.0  # learned to choose
    sel.go[(None, "bad")], sel.nogo[(None, "bad")] = 1.0, 3.0  # learned to avoid
    sel.go[(None, "mid")], sel.nogo[(None, "mid")] = 1.0, 1.0
    assert sel.betas(0.5) == (3.0, 1.0)
    high = sel.probabilities(["good", "mid"], modulation=0.6)[0]
    low = sel.probabilities(["good", "mid"], modulation=-0.6)[0]
    assert high > low  # Go difference counts more with high dopamine
    avoid_high = sel.probabilities(["bad", "mid"], modulation=0.6)[1]
    avoid_low = sel.probabilities(["bad", "mid"], modulation=-0.6)[1]
    assert avoid_low > avoid_high  # NoGo difference counts more with low dopamine


def test_births_prunes_snapshot_and_sampling():
    sel = OpponentSelector(seed=3)
    sel.add_option("wall_follow", go=2.0)
    sel.add_option("explore")
    assert sorted(sel.options()) == ["explore", "wall_follow"]
    picks = [sel.choose(["wall_follow", "explore"]) for _ in range(400)]
    assert 0.6 < picks.count("wall_follow") / 400 < 0.9  # softmax(2, 1) ≈ 0.73
    sel.remove_option("wall_follow")
    assert sel.options() == ["explore"]
    snap = sel.snapshot()
    assert snap["go"] == {"None/explore": 1.0}
    with pytest.raises(ValueError, match="exactly one"):
        sel.update("explore")
    with pytest.raises(ValueError, match="allowed"):
        OpponentSelector(rule="q")
