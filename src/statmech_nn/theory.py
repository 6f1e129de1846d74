"""Replica-theory reference curves the simulations are checked against.

Each function solves the equations of ``THEORY.md`` numerically (quadrature and
root finding), never from typed-in tables. Notation: Dt = e^{−t²/2}/√(2π) dt and
H(x) = ∫_x^∞ Dt = Φ(−x), Φ the standard normal distribution function.
"""

from fractions import Fraction
from functools import cache
from math import comb

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, optimize, special
from scipy.optimize import brentq
from scipy.special import erf

# --- Perceptron (Gardner, Engel & Van den Broeck) ---
#
# Teacher–student perceptron with spherical weights, isotropic Gaussian inputs,
# N → ∞ at fixed α = P/N. A student with normalised teacher overlap R errs on a
# fresh input with probability ε = arccos(R)/π (the angle between the two
# weight vectors over π). References: E. Gardner, J. Phys. A 21, 257 (1988);
# T. M. Cover, IEEE Trans. Electron. Comput. 14, 326 (1965); A. Engel and
# C. Van den Broeck, "Statistical Mechanics of Learning" (CUP 2001), ch. 2–3.

_GAUSS_ORDER = 160  # Gauss–Hermite nodes: ≲1e-12 relative error on the smooth integrands below


@cache
def _normal_nodes(order: int = _GAUSS_ORDER) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t_i and weights w_i with Σ w_i f(t_i) ≈ ∫ Dt f(t) (probabilists' Gauss–Hermite)."""
    t, w = np.polynomial.hermite_e.hermegauss(order)
    return t, w / np.sqrt(2.0 * np.pi)


def gibbs_integral(R: float) -> float:
    """I(R) = ∫ Dt e^{−R t²/2} / H(−√R t), the right-hand side of the Gibbs equation over α/π.

    Written as ∫ Dt exp(−R t²/2 − log Φ(√R t)) with ``log_ndtr`` so that the
    tail t → −∞, where H(−√R t) underflows, stays exact. The integrand grows
    at most linearly in |t| against the Gaussian weight, so Gauss–Hermite
    quadrature converges fast; ``tests/test_theory.py`` checks it against
    adaptive quadrature.
    """
    t, w = _normal_nodes()
    return float(np.sum(w * np.exp(-0.5 * R * t**2 - special.log_ndtr(np.sqrt(R) * t))))


def _gibbs_residual(logit_R: float, alpha: float) -> float:
    """log[R/√(1−R)] − log[(α/π) I(R)], with R = 1/(1+e^{−s}) so 1−R never loses digits."""
    R = special.expit(logit_R)
    log_lhs = special.log_expit(logit_R) - 0.5 * special.log_expit(-logit_R)
    return log_lhs - np.log(alpha / np.pi * gibbs_integral(R))


def gibbs_overlap(alpha: ArrayLike) -> np.ndarray:
    """Teacher–student overlap R(α) of Gibbs learning (uniform sampling of the version space).

    Solves the replica-symmetric saddle point (Engel & Van den Broeck eq. 2.42)
    R/√(1−R) = (α/π) ∫ Dt e^{−R t²/2}/H(−√R t) for R ∈ (0, 1) by Brent's method
    in the logit of R, which brackets the root for any α between ~1e-15 and
    ~1e15 (small α: R ≈ 2α/π; large α: 1−R ∝ α^{−2}). Two Gibbs students of
    the same training set have mutual overlap q = R.
    """
    alpha = np.asarray(alpha, dtype=float)
    if np.any(alpha <= 0):
        raise ValueError("alpha must be positive")
    roots = [
        special.expit(optimize.brentq(_gibbs_residual, -40.0, 40.0, args=(a,), xtol=1e-14))
        for a in alpha.ravel()
    ]
    return np.reshape(roots, alpha.shape)


def generalization_error(R: ArrayLike) -> np.ndarray:
    """ε = arccos(R)/π: the probability that a student with teacher overlap R errs.

    Exact for any N when inputs are isotropic Gaussians and R is the cosine of
    the angle between student and teacher.
    """
    return np.arccos(np.clip(np.asarray(R, dtype=float), -1.0, 1.0)) / np.pi


def gibbs_error(alpha: ArrayLike) -> np.ndarray:
    """ε_Gibbs(α) = arccos(R)/π with R from :func:`gibbs_overlap`."""
    return generalization_error(gibbs_overlap(alpha))


def bayes_error(alpha: ArrayLike) -> np.ndarray:
    """ε_Bayes(α) = arccos(√R)/π: the centre of mass of the version space has overlap √R."""
    return generalization_error(np.sqrt(gibbs_overlap(alpha)))


def hebb_overlap(alpha: ArrayLike) -> np.ndarray:
    """Teacher overlap of the Hebb rule J = Σ_μ y_μ x_μ: R = (1 + π/(2α))^{−1/2}."""
    alpha = np.asarray(alpha, dtype=float)
    return 1.0 / np.sqrt(1.0 + np.pi / (2.0 * alpha))


def hebb_error(alpha: ArrayLike) -> np.ndarray:
    """ε_Hebb(α) = arccos(R_Hebb)/π."""
    return generalization_error(hebb_overlap(alpha))


def gibbs_asymptotic_constants() -> tuple[float, float]:
    """(c_G, c_B) with ε_Gibbs ≈ c_G/α and ε_Bayes ≈ c_B/α as α → ∞, from the equation itself.

    As α → ∞, R → 1 and the Gibbs equation becomes 1/√(1−R) ≈ (α/π) I(1), with
    I(1) = ∫ Dt e^{−t²/2}/H(−t) finite. Since arccos(1−u) ≈ √(2u) and
    arccos(√(1−u)) ≈ √u for small u, ε_Gibbs ≈ √2/(α I(1)) and
    ε_Bayes ≈ 1/(α I(1)): c_G = √2/I(1), c_B = 1/I(1), so c_G/c_B = √2.
    """
    i1 = gibbs_integral(1.0)
    return float(np.sqrt(2.0) / i1), float(1.0 / i1)


def gardner_capacity(kappa: ArrayLike = 0.0) -> np.ndarray:
    """Gardner's storage capacity α_c(κ) = [∫_{−κ}^∞ Dt (t+κ)²]^{−1} at stability κ.

    The largest load at which random ±1 labels of N-dimensional Gaussian
    patterns can still be realised with every stability ≥ κ, N → ∞
    (Gardner 1988). Computed by adaptive quadrature; α_c(0) = 2.
    """
    kappa = np.asarray(kappa, dtype=float)

    def one(k: float) -> float:
        value, _ = integrate.quad(
            lambda t: (t + k) ** 2 * np.exp(-0.5 * t * t) / np.sqrt(2.0 * np.pi),
            -k,
            np.inf,
            epsabs=1e-14,
            epsrel=1e-13,
        )
        return 1.0 / value

    return np.reshape([one(k) for k in kappa.ravel()], kappa.shape)


def cover_separable_exact(P: int, N: int) -> Fraction:
    """Cover's probability that P random dichotomies of N-dim points are linearly separable.

    For P points in general position in R^N, the fraction of the 2^P labellings
    realisable by a hyperplane through the origin is
    P_sep(P, N) = 2^{1−P} Σ_{k=0}^{N−1} C(P−1, k) (Cover 1965), returned as an
    exact fraction (integer arithmetic), so P_sep(2N, N) is exactly 1/2.
    """
    if P < 0 or N < 1:
        raise ValueError(f"need P >= 0 and N >= 1, got P={P}, N={N}")
    if P == 0:
        return Fraction(1)
    return Fraction(sum(comb(P - 1, k) for k in range(min(N, P))), 2 ** (P - 1))


def cover_separable(P: ArrayLike, N: int) -> np.ndarray:
    """:func:`cover_separable_exact` as float64 (correctly rounded), element-wise over P."""
    P = np.asarray(P)
    return np.reshape([float(cover_separable_exact(int(p), N)) for p in P.ravel()], P.shape)


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
