"""ε = arccos(R)/π evaluated in double precision whatever the overlap's type (issue 19).

Mutation testing left the float conversion unchecked: an overlap given as a float32 array
(e.g. measured on float32 weights) gave ε rounded to float32.
"""

import numpy as np

from statmech_nn import theory


def test_generalization_error_of_float32_overlaps_is_computed_in_float64():
    """The float32 overlap is taken at its exact value and ε is computed in float64: equal to
    the float64 evaluation of the same numbers, and exact at R = 0 (ε = ½) and R = −1 (ε = 1)."""
    R = np.array([0.0, 0.3, 0.9, 0.999, -1.0], dtype=np.float32)
    eps = theory.generalization_error(R)
    assert eps.dtype == np.float64
    want = np.arccos(R.astype(np.float64)) / np.pi
    np.testing.assert_allclose(eps, want, rtol=1e-15, atol=0)
    assert eps[0] == 0.5 and eps[-1] == 1.0
    # integers and plain Python numbers are overlaps too
    np.testing.assert_array_equal(theory.generalization_error([1, 0, -1]), [0.0, 0.5, 1.0])
