"""Replica-theory curves the simulations are checked against (THEORY.md).

Equations are solved numerically here; tests check the solvers against
limits and known values, never typed-in results.
"""

import numpy as np
from scipy.optimize import brentq
from scipy.special import erf

# --- Hopfield (Amit–Gutfreund–Sompolinsky) ---
#
# Zero-temperature replica-symmetric retrieval (Amit, Gutfreund & Sompolinsky,
# Phys. Rev. Lett. 55, 1530 (1985); Ann. Phys. 173, 30 (1987)). With
# y = m / sqrt(2 alpha r) the saddle-point equations reduce to
#     g(y) := erf(y) / y - (2 / sqrt(pi)) exp(-y^2) = sqrt(2 alpha),   m = erf(y).
# g rises from 0 at y = 0 to a maximum g* at y* and then decays like 1/y, so a
# retrieval solution exists iff sqrt(2 alpha) <= g*, i.e. alpha <= alpha_c = g*^2 / 2;
# the retrieval branch is the root with y >= y*.


def _ags_g(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return erf(y) / y - 2.0 / np.sqrt(np.pi) * np.exp(-(y**2))


def _ags_g_prime(y: float) -> float:
    gauss = 2.0 / np.sqrt(np.pi) * np.exp(-(y**2))
    return gauss / y - erf(y) / y**2 + 2.0 * y * gauss


def ags_critical_point() -> tuple[float, float]:
    """(alpha_c, m_c): the storage capacity of the T = 0 Hopfield network and the overlap there.

    alpha_c = g(y*)^2 / 2 where y* solves g'(y) = 0 (root found by Brent's
    method to machine precision); m_c = erf(y*), the size of the jump of m.
    """
    y_star = brentq(_ags_g_prime, 0.5, 4.0, xtol=1e-15, rtol=1e-15)
    return float(_ags_g(y_star) ** 2 / 2.0), float(erf(y_star))


def ags_critical_load() -> float:
    """alpha_c of the zero-temperature replica-symmetric Hopfield network (≈ 0.138)."""
    return ags_critical_point()[0]


def ags_retrieval_overlap(alpha: np.ndarray) -> np.ndarray:
    """Zero-T replica-symmetric retrieval overlap m(alpha); 0 where alpha > alpha_c.

    m = erf(y) with y the retrieval root (y >= y*) of g(y) = sqrt(2 alpha),
    found by vectorised bisection (g is decreasing on [y*, inf)). At alpha -> 0,
    m -> 1; at alpha_c, m jumps from m_c ≈ 0.967 to 0.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    if np.any(alpha <= 0):
        raise ValueError("ags_retrieval_overlap: alpha must be > 0")
    y_star = brentq(_ags_g_prime, 0.5, 4.0, xtol=1e-15, rtol=1e-15)
    target = np.sqrt(2.0 * alpha)
    exists = target <= _ags_g(y_star)
    # g(y) < erf(y)/y <= 1/y, so g(1/target) < target: the root lies in [y*, 1/target].
    lo = np.full_like(alpha, y_star)
    hi = np.maximum(1.0 / target, y_star)
    for _ in range(100):  # bisection halves the bracket: 100 steps reach double precision
        mid = 0.5 * (lo + hi)
        above = _ags_g(mid) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.where(exists, erf(0.5 * (lo + hi)), 0.0)
