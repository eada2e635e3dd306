"""Bootstrap intervals: contain the estimate, narrow with more data, cover the truth."""

import numpy as np
import pytest

from embodied.stats import CI, bootstrap_ci, ratio_ci


def test_ci_contains_mean_and_is_ordered():
    x = np.random.default_rng(1).exponential(2.0, 12)
    ci = bootstrap_ci(x)
    assert ci.mean == pytest.approx(x.mean())
    assert ci.low < ci.mean < ci.high
    assert ci.mean in ci and ci.n == 12


def test_ci_narrows_with_more_samples():
    rng = np.random.default_rng(2)
    widths = [bootstrap_ci(rng.normal(0.5, 0.2, n)).width for n in (8, 80, 800)]
    assert widths[0] > widths[1] > widths[2]
    assert widths[2] < 0.15 * widths[0]  # width ~ 1/sqrt(n): 100x the samples, ~1/10 the width


def test_ci_covers_the_true_mean_most_of_the_time():
    rng = np.random.default_rng(3)
    hits = sum(0.5 in bootstrap_ci(rng.normal(0.5, 0.2, 30), n_resamples=999, seed=k) for k in range(60))
    assert hits >= 50  # nominal 95%: 57 of 60 expected


def test_degenerate_samples():
    assert bootstrap_ci([0.7]) == CI(0.7, 0.7, 0.7, 1)
    assert bootstrap_ci([2, 2, 2]).width == 0
    with pytest.raises(ValueError):
        bootstrap_ci([])
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, np.nan])


def test_deterministic_by_default():
    x = [0.1, 0.5, 0.3, 0.9, 0.4]
    assert bootstrap_ci(x) == bootstrap_ci(x)


def test_ratio_ci():
    rng = np.random.default_rng(4)
    a, b = rng.normal(3.0, 0.3, 20), rng.normal(1.0, 0.1, 20)
    ci = ratio_ci(a, b)
    assert ci.mean == pytest.approx(a.mean() / b.mean())
    assert ci.low < ci.mean < ci.high and ci.low < 3.0 < ci.high
    assert ratio_ci([1, 2], [0, 0]).mean == float("inf")
    zero_heavy = ratio_ci([0, 0, 1], [0, 0, 1])  # resampled denominators of 0 are skipped
    assert np.isfinite(zero_heavy.low) and np.isfinite(zero_heavy.high)


def test_a_paired_ratio_keeps_pairs_together_and_is_narrower_when_they_share_their_spread():
    """Mazes differ a lot (the shared factor 1..10) and the agent eats 0.8x the oracle on each, +-5 %:
    the paired interval is tight around 0.8; resampling the two groups apart mixes hard and easy mazes
    and is several times wider. Unequal sizes cannot be paired."""
    rng = np.random.default_rng(0)
    maze = rng.uniform(1.0, 10.0, 25)
    oracle, agent = maze, 0.8 * maze * rng.uniform(0.95, 1.05, 25)
    paired, apart = ratio_ci(agent, oracle, paired=True), ratio_ci(agent, oracle)
    assert paired.mean == pytest.approx(agent.mean() / oracle.mean()) == apart.mean
    assert paired.low < 0.8 < paired.high and paired.width < 0.05
    assert apart.width > 4 * paired.width
    with pytest.raises(ValueError, match="equal sizes"):
        ratio_ci([1, 2, 3], [1, 2], paired=True)
