"""Bootstrap confidence intervals for the evaluation scripts.

We use ``scipy.stats.bootstrap`` rather than a hand-rolled resampler: it is a tested
implementation of the bias-corrected and accelerated (BCa) interval, which has better coverage
than the plain percentile interval at the small sample sizes we can afford (5–20 mazes), it is
vectorised, and it handles two-sample statistics (ratios of means) the same way. We only add
what it does not do for us: a deterministic seed by default, and honest answers in the
degenerate cases where BCa is undefined (one sample, or all samples equal: the interval is
the single value; BCa giving NaN falls back to scipy's percentile interval, and
that to a percentile interval over the finite resamples, e.g. when a resampled denominator is 0).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from scipy import stats as _stats


@dataclasses.dataclass(frozen=True)
class CI:
    """A point estimate with its bootstrap interval."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def width(self) -> float:
        return self.high - self.low

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def format(self, digits: int = 2) -> str:
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _interval(
    data: tuple, statistic, confidence: float, n_resamples: int, seed: int, paired: bool = False
) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa warns on degenerate distributions; we check for NaN below
        for method in ("BCa", "percentile"):
            res = _stats.bootstrap(
                data,
                statistic,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=method,
                vectorized=True,
                paired=paired,
                random_state=np.random.default_rng(seed),
            )
            low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
            if np.isfinite(low) and np.isfinite(high):
                return low, high
    # Both undefined (e.g. a resampled denominator of 0): percentile interval over the finite resamples.
    rng = np.random.default_rng(seed)
    if paired:  # one draw of indices for every sample: pairs stay together
        index = rng.integers(0, data[0].size, (n_resamples, data[0].size))
        resampled = [d[index] for d in data]
    else:
        resampled = [d[rng.integers(0, d.size, (n_resamples, d.size))] for d in data]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.asarray(statistic(*resampled, axis=-1), float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def bootstrap_ci(samples, confidence: float = 0.95, n_resamples: int = 9999, seed: int = 0) -> CI:
    """Mean of ``samples`` and its bootstrap (BCa) ``confidence`` interval."""
    x = np.asarray(samples, float).ravel()
    if x.size == 0:
        raise ValueError("bootstrap_ci: no samples")
    if not np.all(np.isfinite(x)):
        raise ValueError("bootstrap_ci: samples must be finite")
    mean = float(x.mean())
    if x.size == 1 or np.all(x == x[0]):
        return CI(mean, mean, mean, int(x.size), confidence)
    low, high = _interval((x,), lambda a, axis=-1: np.mean(a, axis=axis), confidence, n_resamples, seed)
    return CI(mean, min(low, mean), max(high, mean), int(x.size), confidence)


def ratio_ci(
    numerator, denominator, confidence: float = 0.95, n_resamples: int = 9999, seed: int = 0, paired: bool = False
) -> CI:
    """mean(numerator) / mean(denominator), with a bootstrap interval.

    Unpaired (two independent groups): each group is resampled on its own. ``paired``: numerator[i]
    and denominator[i] belong together (the same maze, say) and are resampled as pairs, which removes
    the between-pair spread they share from the interval (the ratio estimator of survey sampling,
    Cochran 1977, ch. 6). A denominator mean of 0 gives ``inf``.
    """
    a, b = np.asarray(numerator, float).ravel(), np.asarray(denominator, float).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("ratio_ci: both groups need samples")
    if paired and a.size != b.size:
        raise ValueError(f"ratio_ci: paired samples need equal sizes, got {a.size} and {b.size}")
    if b.mean() == 0:
        return CI(float("inf"), float("inf"), float("inf"), int(min(a.size, b.size)), confidence)
    ratio = float(a.mean() / b.mean())

    def statistic(x, y, axis=-1):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.mean(x, axis=axis) / np.mean(y, axis=axis)

    if (a.size == 1 or np.all(a == a[0])) and (b.size == 1 or np.all(b == b[0])):
        return CI(ratio, ratio, ratio, int(min(a.size, b.size)), confidence)
    low, high = _interval((a, b), statistic, confidence, n_resamples, seed, paired)
    return CI(ratio, min(low, ratio), max(high, ratio), int(min(a.size, b.size)), confidence)


__all__ = ["CI", "bootstrap_ci", "ratio_ci"]
