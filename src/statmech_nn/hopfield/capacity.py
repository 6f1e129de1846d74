"""Capacity estimates from retrieval outcomes: the critical load α_c where the fraction of
runs retrieving falls below ½, and its bootstrap error over trials (arrays in and out).
"""

import numpy as np


def critical_load(alpha: np.ndarray, fraction: np.ndarray, level: float = 0.5) -> np.ndarray:
    """First load at which ``fraction`` falls below ``level``, linearly interpolated; NaN if never.

    alpha (A,) increasing; fraction (..., A), e.g. the fraction of runs that retrieve;
    returns (...).
    """
    fraction = np.asarray(fraction, dtype=np.float64)
    below = fraction < level
    j = np.argmax(below, axis=-1)[..., None]  # first load below the level (0 if none)
    f1 = np.take_along_axis(fraction, j, -1)[..., 0]
    f0 = np.take_along_axis(fraction, np.maximum(j - 1, 0), -1)[..., 0]
    a1, a0 = alpha[j[..., 0]], alpha[np.maximum(j[..., 0] - 1, 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(j[..., 0] == 0, a1, a0 + (f0 - level) * (a1 - a0) / (f0 - f1))
    return np.where(below.any(-1), crossing, np.nan)


def bootstrap_critical_load(
    alpha: np.ndarray, retrieved: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap standard error of :func:`critical_load` of the retrieving fraction.

    retrieved (..., A, trials) booleans. A trial is one pattern set seen at every
    load, so whole trials are resampled with replacement (the same draw at every
    load), ``resamples`` times; the error is the standard deviation of α_c over the
    resamples whose fraction crosses ½ (Efron & Tibshirani, "An Introduction to the
    Bootstrap", 1993, ch. 6); NaN where fewer than two do. Returns (...).
    """
    trials = retrieved.shape[-1]
    draw = rng.integers(0, trials, (resamples, trials))
    fractions = np.moveaxis(retrieved[..., draw].mean(-1), -2, -1)  # (..., resamples, A)
    values = critical_load(alpha, fractions)
    finite = np.isfinite(values)
    count = finite.sum(-1)
    enough = count >= 2
    mean = np.where(finite, values, 0.0).sum(-1) / np.maximum(count, 1)
    squares = np.where(finite, values - mean[..., None], 0.0) ** 2
    return np.where(enough, np.sqrt(squares.sum(-1) / np.maximum(count - 1, 1)), np.nan)
