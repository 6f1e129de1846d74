"""2D Ising model: lattice bookkeeping, exact enumeration, Onsager's curves, and Metropolis
sampling checked against enumeration for L = 4."""

import numpy as np
import pytest
import torch

from statmech_nn import ising


def _random_spins(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    return (2 * torch.randint(0, 2, shape, generator=gen) - 1).to(torch.float64)


def test_blocks_round_trip_and_reproduce_lattice_neighbours_and_energy():
    spins = _random_spins((3, 6, 6), seed=0)
    blocks = ising.to_blocks(spins)
    assert torch.equal(ising.from_blocks(blocks), spins)
    full = ising.to_blocks(ising.neighbour_sum(spins))
    assert torch.equal(ising.block_neighbour_sums(blocks, even=True), full[..., :2, :, :])
    assert torch.equal(ising.block_neighbour_sums(blocks, even=False), full[..., 2:, :, :])
    torch.testing.assert_close(ising.block_energy_per_spin(blocks), ising.energy_per_spin(spins))


def test_odd_lattice_is_rejected():
    with pytest.raises(ValueError, match="even L"):
        ising.to_blocks(torch.ones(5, 5))


def test_ground_states_and_antiferromagnet_energies():
    up = torch.ones(4, 4)
    staggered = ising.from_blocks(ising.to_blocks(up) * torch.tensor([1, 1, -1, -1])[:, None, None])
    assert ising.energy_per_spin(up).item() == -2.0
    assert ising.energy_per_spin(staggered).item() == 2.0
    assert ising.magnetisation_per_spin(staggered).item() == 0.0


def test_density_of_states_of_the_4x4_torus():
    energy, magnet, count = ising.density_of_states(4)
    assert count.sum() == 2**16
    assert count[(energy == -32)].sum() == 2  # the two ordered states
    assert count[(energy == -24)].sum() == 32  # one flipped spin
    # spin-flip symmetry g(E, M) = g(E, -M)
    table = {(e, m): c for e, m, c in zip(energy, magnet, count, strict=True)}
    assert all(table[(e, -m)] == c for (e, m), c in table.items())


def test_onsager_energy_at_the_critical_point_and_in_both_limits():
    assert ising.onsager_energy(np.array([ising.T_C]))[0] == pytest.approx(-np.sqrt(2), rel=1e-12)
    # low T: one flipped spin costs 8, so u = -2 + 8 exp(-8/T) + ...
    assert ising.onsager_energy(np.array([0.5]))[0] == pytest.approx(-2 + 8 * np.exp(-16), abs=1e-9)
    # high T: ln Z/N = ln 2 + 2 ln cosh(b) + t^4 + O(t^6), t = tanh(b): u = -2t - 4t^3(1 - t^2)
    t = np.tanh(1 / 20)
    expected = -2 * t - 4 * t**3 * (1 - t**2)
    assert ising.onsager_energy(np.array([20.0]))[0] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 2.2, 2.3, 2.5, 3.5])
def test_onsager_specific_heat_is_the_temperature_derivative_of_the_energy(temperature):
    h = 1e-5
    derivative = (
        ising.onsager_energy(np.array([temperature + h]))
        - ising.onsager_energy(np.array([temperature - h]))
    ) / (2 * h)
    assert ising.onsager_specific_heat(np.array([temperature]))[0] == pytest.approx(
        derivative[0], rel=1e-6
    )


def test_onsager_magnetisation_vanishes_above_the_critical_point():
    t = np.array([0.5, 1.5, 2.2, ising.T_C * (1 - 1e-9), ising.T_C * (1 + 1e-9), 3.0])
    m = ising.onsager_magnetisation(t)
    assert m[0] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(m[:4]) < 0)
    assert m[3] < 0.1  # M ~ (T_c - T)^(1/8) drops steeply
    assert np.all(m[4:] == 0)


@pytest.mark.parametrize(("temperature", "rel"), [(20.0, 0.1), (40.0, 0.03)])
def test_onsager_and_4x4_enumeration_differ_by_the_winding_loops(temperature, rel):
    """Two independent exact results: the torus adds 2L winding loops of length L = 4 to the
    high-T expansion, ln Z/N += t^4 / 2, so u_4x4 - u_inf = -2 t^3 (1 - t^2) + O(t^5)."""
    t = np.tanh(1 / temperature)
    exact = ising.exact_thermodynamics(4, np.array([temperature]))["energy"][0]
    difference = exact - ising.onsager_energy(np.array([temperature]))[0]
    assert difference == pytest.approx(-2 * t**3 * (1 - t**2), rel=rel)


def test_binned_statistics_of_independent_samples():
    gen = torch.Generator().manual_seed(1)
    e = torch.randn(2, 4, 1000, generator=gen, dtype=torch.float64)
    m = torch.rand(2, 4, 1000, generator=gen, dtype=torch.float64)
    stats = ising.binned_statistics(e, m, torch.tensor([1.0, 2.0]), n_spins=16, bins=20)
    value, err = stats["energy"]
    torch.testing.assert_close(value, e.mean((1, 2)))
    assert torch.all((err > 0.8 / np.sqrt(4000)) & (err < 1.2 / np.sqrt(4000)))
    c, _ = stats["specific_heat"]
    torch.testing.assert_close(
        c, torch.tensor([1.0, 0.25], dtype=torch.float64) * 16 * e.var((1, 2), correction=0)
    )


def test_metropolis_matches_exact_enumeration_for_L4():
    """<e>, <|m|> (and the fluctuations c, chi) within 3 binning standard errors of
    enumeration at three temperatures, one of them T_c."""
    temps = np.array([1.8, ising.T_C, 3.2])
    ds = ising.thermodynamics(
        L=4,
        temperatures=temps,
        chains=32,
        burn_in=200,
        measurements=2000,
        thin=1,
        bins=10,
        keep_samples=50,
        seed=3,
        theory_points=10,
    )
    for name in ("energy", "abs_magnetisation", "specific_heat", "susceptibility"):
        deviation = np.abs(ds[name] - ds[f"exact_{name}"]) / ds[f"{name}_err"]
        assert bool((deviation < 3).all()), (name, deviation.values)
    assert ds["samples"].dims == ("temperature", "sample", "row", "column")
    assert ds["samples"].shape == (3, 50, 4, 4)
    assert set(np.unique(ds["samples"].values)) <= {-1, 1}


TEMPERATURES = np.array([0.8, 1.5, 2.0, 2.2, ising.T_C, 2.3, 2.6, 3.2, 5.0, 20.0])


def test_kaufman_partition_function_equals_enumeration_for_L4():
    """ln Z, e and c of the 4x4 torus from Kaufman's four products against the 2^16 states,
    through T_c (where Z_4 changes sign) and at both ends."""
    energy, _, count = ising.density_of_states(4)
    beta = 1 / TEMPERATURES
    enumerated = np.logaddexp.reduce(np.log(count) - beta[:, None] * energy, axis=1)
    kaufman = ising.kaufman_log_partition(4, torch.as_tensor(beta)).numpy()
    np.testing.assert_allclose(kaufman, enumerated, rtol=0, atol=1e-10)
    exact = ising.exact_thermodynamics(4, TEMPERATURES)
    finite = ising.kaufman_thermodynamics(4, TEMPERATURES)
    for name in ising.KAUFMAN_QUANTITIES:
        np.testing.assert_allclose(finite[name], exact[name], rtol=0, atol=1e-10)


def test_kaufman_tends_to_onsager_exponentially_away_from_the_critical_point():
    temps = np.array([1.5, 2.0, 3.0, 3.5])
    gaps = [
        np.abs(ising.kaufman_thermodynamics(L, temps)["energy"] - ising.onsager_energy(temps))
        for L in (8, 16, 32, 64)
    ]
    assert np.all(np.diff(gaps[:3], axis=0) < 0)
    assert np.all(gaps[-1] < 1e-10)  # float64 rounding from here on
    c_64 = ising.kaufman_thermodynamics(64, temps)["specific_heat"]
    np.testing.assert_allclose(c_64, ising.onsager_specific_heat(temps), rtol=1e-9)


def test_kaufman_at_the_critical_point_approaches_onsager_as_one_over_L():
    """At T_c, u_L - u_inf ~ a/L and c_L grows like (8/pi) K_c^2 ln L (Ferdinand & Fisher,
    Phys. Rev. 185, 832 (1969)): doubling L adds (8/pi) K_c^2 ln 2 = 0.3428 to c."""
    t_c = np.array([ising.T_C])
    sizes = (16, 32, 64, 128)
    runs = [ising.kaufman_thermodynamics(L, t_c) for L in sizes]
    u_inf = ising.onsager_energy(t_c)[0]
    scaled = [L * (run["energy"][0] - u_inf) for L, run in zip(sizes, runs, strict=True)]
    assert np.all(np.array(scaled) < 0)
    assert scaled[-1] == pytest.approx(scaled[-2], rel=2e-3)
    step = runs[-1]["specific_heat"][0] - runs[-2]["specific_heat"][0]
    assert step == pytest.approx(8 / np.pi * (1 / ising.T_C) ** 2 * np.log(2), rel=5e-3)


def test_yang_magnetisation_against_the_low_temperature_series_and_the_exponent():
    """Low T: M = 1 - 2u^2 - 8u^3 - 34u^4 - 152u^5 - 714u^6 + O(u^7), u = e^{-4/T} (Domb 1960);
    near T_c: d ln M / d ln(T_c - T) -> 1/8."""
    temps = np.array([0.8, 1.0, 1.2])
    u = np.exp(-4 / temps)
    series = 1 - 2 * u**2 - 8 * u**3 - 34 * u**4 - 152 * u**5 - 714 * u**6
    np.testing.assert_allclose(ising.onsager_magnetisation(temps), series, rtol=1e-6)
    distance = np.array([1e-6, 1e-7, 1e-8])
    m = ising.onsager_magnetisation(ising.T_C - distance)
    slopes = np.diff(np.log(m)) / np.diff(np.log(distance))
    np.testing.assert_allclose(slopes, 1 / 8, rtol=1e-5)


def test_metropolis_acceptance_with_thinning_equals_the_exact_equilibrium_rate():
    """The checkerboard sweep keeps equilibrium, so the acceptance per site visit is
    <min(1, exp(-2 s_i h_i / T))> over the 2^16 states of the 4x4 torus; records every
    third sweep, so every sweep between records must be counted once."""
    temps = np.array([1.8, 2.6])
    states = ising.all_states(4).to(torch.float64)
    cost = 2 * states[:, 0, 0] * ising.neighbour_sum(states)[:, 0, 0]  # ΔE of flipping site 0
    t = torch.tensor(temps)[:, None]
    weights = torch.softmax(-16 * ising.energy_per_spin(states)[None] / t, 1)
    exact = (weights * torch.exp(-cost[None] / t).clamp(max=1)).sum(1)
    gen = torch.Generator().manual_seed(5)
    run = ising.simulate(4, temps, 64, 100, 100, 3, 1, gen, dtype=torch.float64)
    torch.testing.assert_close(run["acceptance"], exact, rtol=0.02, atol=0)


@pytest.mark.parametrize("temperature", [0.3, 1.8, 2.3, 3.2, 1e4])
def test_entropy_by_enumeration_equals_kaufman_and_its_limits(temperature):
    """H = ln Z + N u / T from Kaufman's Z (an independent route); ln 2 (two ground states)
    as T -> 0 and 16 ln 2 as T -> infinity."""
    beta = torch.tensor([1 / temperature], dtype=torch.float64)
    log_z = ising.kaufman_log_partition(4, beta).item()
    u = ising.kaufman_thermodynamics(4, np.array([temperature]))["energy"][0]
    entropy = ising.exact_entropy(4, temperature)
    assert entropy == pytest.approx(log_z + 16 * u / temperature, abs=1e-9)
    assert np.log(2) - 1e-6 < entropy < 16 * np.log(2) + 1e-12
    if temperature in (0.3, 1e4):
        assert entropy == pytest.approx(np.log(2) if temperature < 1 else 16 * np.log(2), rel=1e-5)
