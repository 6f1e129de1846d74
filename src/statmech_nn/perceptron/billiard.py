"""Uniform samples (Gibbs students) and the centre of mass (the Bayes student) of the
version space by a spherical billiard (P. Ruján, Neural Comput. 9, 99 (1997)).
"""

from dataclasses import dataclass

import numpy as np

from statmech_nn.perceptron.problems import Problems


def _random_tangent(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors uniform on the great sphere orthogonal to each unit w (..., N)."""
    g = rng.standard_normal(w.shape)
    g -= np.sum(g * w, axis=-1, keepdims=True) * w
    return g / np.linalg.norm(g, axis=-1, keepdims=True)


@dataclass(frozen=True)
class BilliardRun:
    """Gibbs samples and centre-of-mass estimates (n, chains, N) with per-chain diagnostics."""

    gibbs: np.ndarray
    centre: np.ndarray
    finished: np.ndarray
    events: np.ndarray
    refreshes: np.ndarray


def billiard_in_version_space(
    problems: Problems,
    n_chains: int,
    refreshes: float,
    burn_in: float,
    free_paths_per_refresh: float,
    rng: np.random.Generator,
    pilot_events: int = 32,
) -> BilliardRun:
    """Uniform samples and the centre of mass of the version space by a spherical billiard.

    A point w moves on the unit sphere along great circles with unit tangent
    velocity v and reflects specularly (v ← v − 2(v·a)a) off the walls a_μ·w = 0;
    the velocity is redrawn uniformly at the events of a Poisson process in path
    length (mean τ). The reflected geodesic flow preserves the uniform measure on
    the version space and the refreshes make it ergodic (the "billiard walk" of
    Gryazina & Polyak 2014, here on the sphere as in Ruján 1997), so w at any
    fixed path length is a uniform sample once the start is forgotten.

    Chains start at the teacher, which lies inside. ``pilot_events`` of pure
    billiard measure the mean free path ℓ of each chain, which fixes
    τ = ``free_paths_per_refresh`` · ℓ and the path length L = ``refreshes`` · τ
    run after the pilot. Then:

    - the Gibbs sample is w at path length exactly L (a fixed time, so it is
      unbiased; sampling at the last refresh before an event budget would not be);
    - the centre of mass is the time average of w over the arcs after the first
      ``burn_in`` fraction of L, using ∫_0^θ (w cos u + v sin u) du = w sin θ + v (1 − cos θ).

    One event (a reflection, a refresh or the end) costs one product A v
    (P·N per chain), vectorised over sets and chains. Along an arc
    w(θ) = w cos θ + v sin θ the margin m_μ cos θ + s_μ sin θ (m = A w > 0,
    s = A v) first vanishes at θ_μ = π/2 + arctan(s_μ/m_μ), so the next wall
    is the one with the least s/m. A chain still running after ten times the
    expected number of events is stopped and marked unfinished.
    """
    a = problems.constraints
    n, P, N = a.shape
    w = np.repeat(problems.teacher[:, None, :], n_chains, axis=1)
    v = _random_tangent(w, rng)
    m = np.einsum("tpn,tcn->tcp", a, w)
    rows, cols = np.arange(n)[:, None], np.arange(n_chains)[None, :]
    to_refresh = np.full((n, n_chains), np.inf)  # no refreshes during the pilot
    to_end = np.full((n, n_chains), np.inf)
    to_average = np.full((n, n_chains), np.inf)
    pilot_path = np.zeros((n, n_chains))
    tau = np.ones((n, n_chains))
    centre = np.zeros_like(w)
    events = np.zeros((n, n_chains), dtype=np.int64)
    n_refreshes = np.zeros((n, n_chains), dtype=np.int64)
    running = np.ones((n, n_chains), dtype=bool)
    max_events = pilot_events + int(10 * refreshes * (free_paths_per_refresh + 1))
    for event in range(max_events):
        if event == pilot_events:
            tau = free_paths_per_refresh * pilot_path / pilot_events
            to_refresh = rng.exponential(tau)
            to_end = refreshes * tau
            to_average = burn_in * to_end
        s = np.einsum("tpn,tcn->tcp", a, v)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.nan_to_num(s / m, nan=np.inf, posinf=np.inf)
        wall = ratio.argmin(axis=-1)
        to_wall = np.pi / 2 + np.arctan(np.take_along_axis(ratio, wall[..., None], -1)[..., 0])
        theta = np.where(running, np.minimum(np.minimum(to_wall, to_refresh), to_end), 0.0)
        hit = running & (to_wall <= theta)
        refresh = running & ~hit & (to_refresh <= theta)
        cos, sin = np.cos(theta)[..., None], np.sin(theta)[..., None]
        averaging = (to_average <= 0.0)[..., None]
        centre += np.where(averaging, w * sin + v * (1.0 - cos), 0.0)
        w, v = w * cos + v * sin, v * cos - w * sin
        m = np.maximum(m * cos + s * sin, 0.0)
        m[rows, cols, wall] = np.where(hit, 0.0, m[rows, cols, wall])
        if event < pilot_events:
            pilot_path += theta
        to_refresh, to_end, to_average = to_refresh - theta, to_end - theta, to_average - theta
        normal = a[rows, wall]
        v = np.where(hit[..., None], v - 2.0 * np.sum(v * normal, -1, keepdims=True) * normal, v)
        if refresh.any():
            v = np.where(refresh[..., None], _random_tangent(w, rng), v)
            to_refresh = np.where(refresh, rng.exponential(tau), to_refresh)
        events += running
        n_refreshes += refresh
        running &= to_end > 0.0
        if not running.any():
            break
        if event % 64 == 63:  # undo round-off drift off the sphere and in the margins
            w /= np.linalg.norm(w, axis=-1, keepdims=True)
            v -= np.sum(v * w, -1, keepdims=True) * w
            v /= np.linalg.norm(v, axis=-1, keepdims=True)
            m = np.maximum(np.einsum("tpn,tcn->tcp", a, w), 0.0)
    return BilliardRun(w, centre, ~running, events, n_refreshes)
