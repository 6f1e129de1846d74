"""Boundary and shape promises of theory.py that mutation testing found unexercised (issue 19).

Each test pins a promise a plausible bug would break: rejected inputs at the
boundary (α = 0, N = 0), the messages that name the bad input, arrays of any
shape, Gardner's default κ = 0, the clip of round-off |R| > 1, and the AGS
retrieval jump at α_c itself (m = m_c, not 0).
"""

from fractions import Fraction
from math import erf

import numpy as np
import pytest

from statmech_nn import theory


def test_zero_load_is_rejected_with_a_message_naming_alpha():
    with pytest.raises(ValueError, match="alpha must be positive"):
        theory.gibbs_overlap(0.0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        theory.ags_retrieval_overlap(np.array([0.05, 0.0]))
    assert float(theory.gibbs_overlap(1e-12)) == pytest.approx(2e-12 / np.pi, rel=1e-6)


@pytest.mark.parametrize(("P", "N"), [(0, 0), (3, 0), (-1, 2)])
def test_cover_rejects_an_empty_space_or_a_negative_count(P, N):
    with pytest.raises(ValueError, match=rf"need P >= 0 and N >= 1, got P={P}, N={N}"):
        theory.cover_separable_exact(P, N)


def test_cover_small_cases_are_exact():
    assert theory.cover_separable_exact(0, 1) == 1
    assert theory.cover_separable_exact(1, 1) == 1
    assert theory.cover_separable_exact(3, 1) == Fraction(1, 4)
    assert theory.cover_separable_exact(4, 2) == Fraction(1, 2)


def test_curves_keep_the_shape_of_a_two_dimensional_input():
    alpha = np.array([[0.3, 1.0, 2.5], [5.0, 0.7, 12.0]])
    kappa = np.array([[0.0, 0.5], [1.0, -0.3]])
    P = np.array([[1, 4, 7], [10, 3, 2]])
    cases = [
        (theory.gibbs_overlap, alpha),
        (theory.gibbs_error, alpha),
        (theory.gardner_capacity, kappa),
        (lambda p: theory.cover_separable(p, 3), P),
        (theory.hebb_overlap, alpha),
    ]
    for function, x in cases:
        out = function(x)
        assert out.shape == x.shape
        flat = np.array([float(function(np.array([v]))[0]) for v in x.ravel()])
        np.testing.assert_allclose(out.ravel(), flat, rtol=1e-14)


def test_gardner_capacity_default_is_zero_stability():
    assert float(theory.gardner_capacity()) == pytest.approx(2.0, rel=1e-12)
    # ∫_{−κ}^∞ Dt (t+κ)² = (1+κ²)H(−κ) + κ e^{−κ²/2}/√(2π)
    k = 0.8
    gauss = np.exp(-k * k / 2) / np.sqrt(2 * np.pi)
    integral = (1 + k * k) * 0.5 * (1 + erf(k / np.sqrt(2))) + k * gauss
    assert float(theory.gardner_capacity(k)) == pytest.approx(1 / integral, rel=1e-12)


def test_generalization_error_clips_round_off_beyond_one():
    eps = theory.generalization_error(np.array([1 + 1e-12, 2.0, -1 - 1e-12, -2.0, 0.5]))
    np.testing.assert_allclose(eps, [0.0, 0.0, 1.0, 1.0, 1 / 3], rtol=1e-14, atol=0)


def test_ags_retrieval_at_the_critical_load_is_the_jump_value():
    alpha_c, m_c = theory.ags_critical_point()
    m = theory.ags_retrieval_overlap(np.array([alpha_c, alpha_c * (1 + 1e-9)]))
    assert m[0] == pytest.approx(m_c, abs=1e-6)
    assert m[1] == 0.0
