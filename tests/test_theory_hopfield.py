"""AGS zero-T replica-symmetric Hopfield theory: solver checks against its own equations."""

import numpy as np
import pytest
from scipy.special import erfinv

from statmech_nn import theory


def test_critical_load_is_0138():
    alpha_c = theory.ags_critical_load()
    assert abs(alpha_c - 0.138) < 1e-3


def test_critical_point_is_the_fold_of_the_retrieval_branch():
    alpha_c, m_c = theory.ags_critical_point()
    below = theory.ags_retrieval_overlap(np.array([alpha_c * (1 - 1e-9)]))[0]
    above = theory.ags_retrieval_overlap(np.array([alpha_c * (1 + 1e-9)]))[0]
    assert below == pytest.approx(m_c, abs=1e-3)
    assert above == 0.0
    assert 0.95 < m_c < 0.99  # the jump THEORY.md describes (about 0.97)


@pytest.mark.parametrize("alpha", [0.05, 0.08, 0.1, 0.13, 0.137])
def test_overlap_solves_the_three_saddle_point_equations(alpha):
    """m = erf(y), y = m / sqrt(2 alpha r), r = (1 - C)^-2, C = sqrt(2/(pi alpha r)) exp(-y^2).

    y is recovered from m by erfinv, which loses digits as m -> 1; hence alpha >= 0.05.
    """
    m = theory.ags_retrieval_overlap(np.array([alpha]))[0]
    y = erfinv(m)
    r = m**2 / (2 * alpha * y**2)  # from y = m / sqrt(2 alpha r)
    c = 1 - 1 / np.sqrt(r)  # from r = (1 - C)^-2
    assert c == pytest.approx(np.sqrt(2 / (np.pi * alpha * r)) * np.exp(-(y**2)), rel=1e-6)


def test_overlap_decreases_from_one():
    alpha = np.linspace(1e-3, 0.1379, 200)
    m = theory.ags_retrieval_overlap(alpha)
    assert m[0] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(m) <= 0)
    assert np.all(np.diff(m[alpha > 0.05]) < 0)


def test_overlap_rejects_nonpositive_load():
    with pytest.raises(ValueError, match="alpha"):
        theory.ags_retrieval_overlap(np.array([0.0, 0.1]))
