"""Ising exact references and the Metropolis simulation (issue 19).

Mutation testing left unchecked: that each temperature's exact enumeration is independent
of the others in the grid (down to T → 0), that Kaufman's ln Z accepts β of any shape,
and that the simulation draws every random number from the generator it is given.
"""

import numpy as np
import pytest
import torch

from statmech_nn import ising


def test_exact_thermodynamics_at_each_temperature_ignores_the_rest_of_the_grid():
    """A grid reaching far below T_c (T = 0.02, where exp(−E/T) spans ~10^700) gives at every
    T what that T alone gives; at T = 0.02 the 4×4 torus is in a ground state: e = −2,
    |m| = 1, c = χ = 0 up to e^{−8/T} corrections."""
    temps = np.array([0.02, 0.5, ising.T_C, 5.0])
    grid = ising.exact_thermodynamics(4, temps)
    # c and χ are differences of moments (⟨e²⟩ − ⟨e⟩², cancelling at low T), so the order of
    # the sums shows at 1e-9 relative there; e and |m| agree to round-off
    rel = {"energy": 1e-13, "abs_magnetisation": 1e-13, "specific_heat": 1e-7}
    for k, t in enumerate(temps):
        alone = ising.exact_thermodynamics(4, np.array([t]))
        for name, values in grid.items():
            assert np.isfinite(values[k]), (name, t)
            want = pytest.approx(alone[name][0], rel=rel.get(name, 1e-7), abs=1e-300)
            assert values[k] == want, (name, t)
    assert grid["energy"][0] == pytest.approx(-2.0, rel=1e-15)
    assert grid["abs_magnetisation"][0] == pytest.approx(1.0, rel=1e-15)
    assert grid["specific_heat"][0] == pytest.approx(0.0, abs=1e-100)
    assert grid["susceptibility"][0] == pytest.approx(0.0, abs=1e-100)


def test_kaufman_log_partition_takes_beta_of_any_shape():
    """ln Z(β) elementwise for a scalar β and a (2, 3) grid of β, equal to the enumeration
    of the 4×4 torus's 2^16 states at each β."""
    energy, _, count = ising.density_of_states(4)
    beta = np.array([[0.1, 0.3, 1 / ising.T_C], [0.5, 0.8, 1.5]])
    enumerated = np.logaddexp.reduce(np.log(count) - beta[..., None] * energy, axis=-1)
    grid = ising.kaufman_log_partition(4, torch.as_tensor(beta))
    assert grid.shape == (2, 3)
    np.testing.assert_allclose(grid.numpy(), enumerated, rtol=1e-13, atol=0)
    scalar = ising.kaufman_log_partition(4, torch.tensor(0.3, dtype=torch.float64))
    assert scalar.shape == ()
    assert float(scalar) == pytest.approx(enumerated[0, 1], rel=1e-13)


def test_simulate_draws_only_from_its_generator():
    """Two runs with equally seeded generators are identical whatever the global torch RNG
    state (hot chains, so most proposals are decided by the random numbers)."""
    kw = {
        "L": 4, "temperatures": [2.0, 3.5], "chains": 3, "burn_in": 3, "measurements": 6,
        "thin": 2, "keep_samples": 4,
    }  # fmt: skip
    torch.manual_seed(0)
    a = ising.simulate(**kw, generator=torch.Generator().manual_seed(11))
    torch.manual_seed(1)
    b = ising.simulate(**kw, generator=torch.Generator().manual_seed(11))
    for name in ("e", "m", "samples", "acceptance"):
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)
    # and a different seed gives a different run (the generator is used)
    c = ising.simulate(**kw, generator=torch.Generator().manual_seed(12))
    assert not torch.equal(a["e"], c["e"])
