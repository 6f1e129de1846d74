"""Replica-theory solvers checked against their own equations and exact limits (THEORY.md)."""

from fractions import Fraction
from math import comb

import numpy as np
import pytest
from scipy import integrate, special

from statmech_nn import theory

# --- Perceptron (Gardner, Engel & Van den Broeck) ---


@pytest.mark.parametrize("R", [0.0, 1e-6, 0.3, 0.9, 0.9999, 1.0])
def test_gibbs_integral_matches_adaptive_quadrature(R):
    """Gauss–Hermite I(R) = ∫Dt e^{−Rt²/2}/H(−√R t) equals scipy's adaptive quad to 1e-12."""
    reference, _ = integrate.quad(
        lambda t: (
            np.exp(-0.5 * (1 + R) * t * t - special.log_ndtr(np.sqrt(R) * t)) / np.sqrt(2 * np.pi)
        ),
        -np.inf,
        np.inf,
        epsabs=0,
        epsrel=1e-13,
    )
    assert theory.gibbs_integral(R) == pytest.approx(reference, rel=1e-12)


def test_gibbs_overlap_solves_the_saddle_point_equation():
    """R/√(1−R) = (α/π) I(R) to 1e-10 relative over α from 0.01 to 100; R rises in (0, 1)."""
    alpha = np.geomspace(0.01, 100, 25)
    R = theory.gibbs_overlap(alpha)
    lhs = R / np.sqrt(1 - R)
    rhs = alpha / np.pi * np.array([theory.gibbs_integral(r) for r in R])
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)
    assert np.all((R > 0) & (R < 1)) and np.all(np.diff(R) > 0)


def test_gibbs_overlap_small_alpha_limit():
    """As α → 0 the equation reads R ≈ (α/π) I(0) with I(0) = ∫Dt/H(0) = 2: R ≈ 2α/π."""
    assert theory.gibbs_integral(0.0) == pytest.approx(2.0, rel=1e-14)
    alpha = 1e-6
    assert theory.gibbs_overlap(alpha) == pytest.approx(2 * alpha / np.pi, rel=1e-5)


def test_gibbs_and_bayes_errors_decay_as_c_over_alpha_with_ratio_sqrt2():
    """α·ε(α) → c at large α, with c_G, c_B from the equation's own α → ∞ limit, c_G/c_B = √2.

    The constants come from I(1) (see ``gibbs_asymptotic_constants``); the
    solver's α·ε must approach them with an error shrinking like 1/α, and the
    ratio ε_G/ε_B of the solved curves must approach √2.
    """
    c_G, c_B = theory.gibbs_asymptotic_constants()
    assert c_G / c_B == pytest.approx(np.sqrt(2), rel=1e-14)
    alpha = np.array([1e2, 1e3, 1e4])
    gap_G = np.abs(alpha * theory.gibbs_error(alpha) / c_G - 1)
    gap_B = np.abs(alpha * theory.bayes_error(alpha) / c_B - 1)
    assert gap_G[-1] < 1e-4 and gap_B[-1] < 1e-4
    assert np.all(np.diff(gap_G) < 0) and np.all(np.diff(gap_B) < 0)
    ratio = theory.gibbs_error(alpha) / theory.bayes_error(alpha)
    assert ratio[-1] == pytest.approx(np.sqrt(2), rel=1e-4)
    slope = np.diff(np.log(theory.gibbs_error(alpha))) / np.diff(np.log(alpha))
    np.testing.assert_allclose(slope, -1, atol=2e-3)


def test_bayes_beats_gibbs_and_errors_start_at_one_half():
    """ε_Bayes < ε_Gibbs for all α > 0; both → 1/2 as α → 0 (R → 0)."""
    alpha = np.geomspace(1e-3, 1e3, 30)
    assert np.all(theory.bayes_error(alpha) < theory.gibbs_error(alpha))
    assert theory.gibbs_error(1e-9) == pytest.approx(0.5, abs=1e-9)


def test_hebb_closed_form_limits():
    """Hebb: R → √(2α/π) as α → 0 and ε ≈ (1/π)√(π/(2α)) = 1/√(2πα) as α → ∞."""
    assert theory.hebb_overlap(1e-8) == pytest.approx(np.sqrt(2e-8 / np.pi), rel=1e-7)
    alpha = 1e8
    assert theory.hebb_error(alpha) == pytest.approx(1 / np.sqrt(2 * np.pi * alpha), rel=1e-7)


def test_gardner_capacity_at_zero_stability_is_two():
    """α_c(0) = 1/∫_0^∞ Dt t² = 2 from the quadrature."""
    assert theory.gardner_capacity(0.0) == pytest.approx(2.0, rel=1e-12)


def test_gardner_capacity_matches_gaussian_moments():
    """∫_{−κ}^∞ Dt (t+κ)² = (1+κ²)Φ(κ) + κφ(κ), so α_c falls with κ as the quadrature says."""
    kappa = np.array([0.25, 0.5, 1.0, 2.0])
    phi = np.exp(-0.5 * kappa**2) / np.sqrt(2 * np.pi)
    expected = 1 / ((1 + kappa**2) * special.ndtr(kappa) + kappa * phi)
    np.testing.assert_allclose(theory.gardner_capacity(kappa), expected, rtol=1e-11)
    assert np.all(np.diff(theory.gardner_capacity(kappa)) < 0)


@pytest.mark.parametrize("N", [1, 2, 7, 50, 500])
def test_cover_gives_exactly_one_half_at_P_equal_2N(N):
    """P_sep(2N, N) = 1/2 exactly (integer arithmetic), by the symmetry of C(2N−1, k)."""
    assert theory.cover_separable_exact(2 * N, N) == Fraction(1, 2)
    assert theory.cover_separable(2 * N, N) == 0.5


def test_cover_small_cases_and_bounds():
    """P ≤ N: always separable; N = 1: only the 2 sign-consistent labellings; monotone in P."""
    assert all(theory.cover_separable_exact(P, 5) == 1 for P in range(0, 6))
    assert all(theory.cover_separable_exact(P, 1) == Fraction(2, 2**P) for P in range(1, 12))
    assert theory.cover_separable_exact(6, 3) == Fraction(2 * sum(comb(5, k) for k in range(3)), 64)
    p = theory.cover_separable(np.arange(1, 200), 40)
    assert np.all(np.diff(p) <= 0) and p[-1] < 1e-6
