"""Hopfield dynamics: exact energy bookkeeping, monotone zero-T descent, fixed points,
equality with a site-by-site loop, and Glauber sampling of exp(-E/T) (exact enumeration)."""

import itertools

import numpy as np
import pytest
import torch

from statmech_nn import hopfield


def _instance(n_sets, p, n, seed):
    gen = torch.Generator().manual_seed(seed)
    patterns = hopfield.random_patterns(n_sets, p, n, gen)
    return gen, patterns, hopfield.hebbian_couplings(patterns, normalise=False)


def test_hebbian_couplings_sum_outer_products_with_zero_diagonal():
    _, patterns, _ = _instance(3, 4, 9, seed=1)
    j = hopfield.hebbian_couplings(patterns)
    for k in range(3):
        expected = sum(torch.outer(x, x) for x in patterns[k]) / 9
        expected.fill_diagonal_(0)
        torch.testing.assert_close(j[k], expected, rtol=0, atol=1e-15)
    torch.testing.assert_close(hopfield.hebbian_couplings(patterns, normalise=False), 9 * j)


def test_energy_is_minus_half_the_double_sum():
    _, patterns, _ = _instance(1, 3, 7, seed=2)
    j = hopfield.hebbian_couplings(patterns)[0]
    s = patterns[0, 0]
    double_sum = sum(j[a, b] * s[a] * s[b] for a in range(7) for b in range(7) if a != b)
    assert hopfield.energy(j, s).item() == pytest.approx(-0.5 * double_sum.item(), abs=1e-14)


def test_corrupt_flips_exactly_the_requested_fraction():
    gen = torch.Generator().manual_seed(3)
    s = torch.ones(5, 40, dtype=torch.float64)
    out = hopfield.corrupt(s, 0.25, gen)
    assert torch.equal((out < 0).sum(1), torch.full((5,), 10))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_zero_temperature_never_raises_the_energy(seed):
    """Energy recorded after every single visit, alpha = 0.2 (beyond capacity), random starts."""
    n, p, runs = 60, 12, 16
    gen, patterns, nj = _instance(runs, p, n, seed)
    start = 2.0 * torch.randint(0, 2, (runs, n), generator=gen, dtype=torch.float64) - 1
    traj = hopfield.asynchronous_dynamics(
        nj, start, patterns[:, 0], max_sweeps=30, generator=gen, scale=1 / n, records_per_sweep=n
    )
    assert torch.all(torch.diff(traj.energy, dim=1) <= 1e-12)
    assert torch.all(traj.sweeps_to_fixed_point >= 0)
    # the bookkeeping agrees with -1/2 s^T J s of the final state, which is a fixed point
    final = hopfield.energy(nj / n, traj.state) / n
    torch.testing.assert_close(traj.energy[:, -1], final, rtol=0, atol=1e-12)
    fields = torch.einsum("bij,bj->bi", nj, traj.state)
    assert torch.all(traj.state * fields >= 0)
    overlap = (patterns[:, 0] * traj.state).mean(1)
    torch.testing.assert_close(traj.overlap[:, -1], overlap, rtol=0, atol=1e-12)


def test_stored_patterns_are_fixed_points_at_small_load():
    n, p, sets = 400, 8, 3  # alpha = 0.02: bit error rate H(sqrt(N/P)) ~ 1e-12
    gen, patterns, nj = _instance(sets, p, n, seed=4)
    start = patterns.reshape(-1, n)  # every stored pattern of every set
    traj = hopfield.asynchronous_dynamics(
        nj,
        start,
        patterns[:, 0],
        max_sweeps=3,
        generator=gen,
        coupling_set=torch.arange(sets).repeat_interleave(p),
        scale=1 / n,
    )
    assert torch.all(traj.sweeps_to_fixed_point == 0)
    assert torch.equal(traj.state, start)


def _site_by_site(nj, start, temperature, sweeps, gen, scale):
    """Reference: one visit at a time with the explicit couplings, same random numbers."""
    s = start.clone()
    runs, n = s.shape
    energies = [hopfield.energy(nj * scale, s) / n]
    hot = temperature > 0
    fixed = torch.zeros(runs, dtype=torch.bool)
    for _ in range(sweeps):
        order = torch.rand(runs, n, generator=gen).argsort(dim=1)
        u = torch.rand(runs, n, generator=gen, dtype=torch.float64) if bool(hot.any()) else None
        flipped = torch.zeros(runs, dtype=torch.bool)
        for k in range(n):
            for b in range(runs):
                if fixed[b]:
                    continue
                i = order[b, k]
                h = nj[b, i] @ s[b]
                if hot[b]:
                    new = (
                        1.0
                        if u[b, k] < 1 / (1 + torch.exp(-2 * scale * h / temperature[b]))
                        else -1.0
                    )
                else:
                    new = torch.sign(h).item() if h != 0 else s[b, i].item()
                flipped[b] |= new != s[b, i]
                s[b, i] = new
            energies.append(hopfield.energy(nj * scale, s) / n)
        fixed |= ~flipped & ~hot
    return s, torch.stack(energies, dim=1)


def test_equals_site_by_site_loop_with_the_same_random_numbers():
    n, p, runs, sweeps = 10, 3, 6, 5
    _, patterns, nj = _instance(runs, p, n, seed=5)
    temperature = torch.tensor([0.0, 0.0, 0.3, 0.0, 1.0, 0.5], dtype=torch.float64)
    start = hopfield.corrupt(patterns[:, 0], 0.4, torch.Generator().manual_seed(6))
    traj = hopfield.asynchronous_dynamics(
        nj,
        start,
        patterns[:, 0],
        temperature=temperature,
        max_sweeps=sweeps,
        generator=torch.Generator().manual_seed(7),
        scale=1 / n,
        records_per_sweep=n,
    )
    state, energies = _site_by_site(
        nj, start, temperature, sweeps, torch.Generator().manual_seed(7), 1 / n
    )
    assert torch.equal(traj.state, state)
    torch.testing.assert_close(traj.energy, energies, rtol=0, atol=1e-12)


def test_glauber_samples_the_boltzmann_distribution():
    """<E> after many sweeps equals the exact average over all 2^N states (N = 8)."""
    n, p, runs, temperature = 8, 2, 4000, 0.6
    gen, patterns, nj = _instance(1, p, n, seed=8)
    states = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=n)), dtype=torch.float64)
    e_all = hopfield.energy(nj[0] / n, states)
    weights = torch.softmax(-e_all / temperature, dim=0)
    exact = (weights * e_all).sum().item() / n
    start = 2.0 * torch.randint(0, 2, (runs, n), generator=gen, dtype=torch.float64) - 1
    traj = hopfield.asynchronous_dynamics(
        nj,
        start,
        patterns[:, 0],
        temperature=temperature,
        max_sweeps=20,
        generator=gen,
        coupling_set=torch.zeros(runs, dtype=torch.long),
        scale=1 / n,
    )
    e = traj.energy[:, -1]
    sem = e.std().item() / np.sqrt(runs)
    assert abs(e.mean().item() - exact) < 4 * sem


def test_critical_load_interpolates_the_half_crossing():
    alpha = np.array([0.1, 0.12, 0.14, 0.16])
    assert hopfield.critical_load(alpha, np.array([1.0, 1.0, 0.75, 0.25])) == pytest.approx(0.15)
    assert np.isnan(hopfield.critical_load(alpha, np.ones(4)))
    batch = np.array([[1.0, 1.0, 0.75, 0.25], [0.4, 0.2, 0.1, 0.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(hopfield.critical_load(alpha, batch), [0.15, 0.1, np.nan])


def test_bootstrap_error_of_the_critical_load_is_the_binomial_error_of_a_median():
    """Synthetic sweep: trial t retrieves below its own threshold, thresholds uniform on
    [0.1, 0.2]. The fraction crossing ½ is then the sample median, whose standard error is
    the binomial count error at p = ½ over the density, (1/2) / (f √n) = 0.05 / √n; averaged
    over independent sweeps, the bootstrap error matches it and halves as n quadruples."""
    alpha = np.linspace(0.05, 0.25, 101)
    mean_error = {}
    for n in (25, 100, 400):
        errors = []
        for seed in range(30):
            rng = np.random.default_rng(seed)
            retrieved = alpha[:, None] < rng.uniform(0.1, 0.2, n)[None]
            errors.append(hopfield.bootstrap_critical_load(alpha, retrieved, 400, rng))
        mean_error[n] = np.mean(errors)
        assert mean_error[n] == pytest.approx(0.05 / np.sqrt(n), rel=0.1), n
    assert mean_error[25] / mean_error[100] == pytest.approx(2, rel=0.15)
    assert mean_error[100] / mean_error[400] == pytest.approx(2, rel=0.15)


def test_capacity_sweep_retrieves_below_and_fails_above_capacity():
    ds = hopfield.capacity_sweep(
        N=[200],
        alpha=[0.05, 0.3],
        trials=6,
        flip_fraction=0.1,
        max_sweeps=30,
        retrieval_threshold=0.9,
        seed=0,
        theory_points=50,
    )
    assert ds["m"].dims == ("N", "alpha", "start", "trial")
    m = ds["m_mean"].sel(N=200)
    assert float(m.sel(alpha=0.05, start="stored")) == 1.0
    assert float(m.sel(alpha=0.05, start="corrupted")) > 0.99
    assert float(m.sel(alpha=0.3, start="stored")) < 0.7
    assert 0.05 < float(ds["alpha_c"].sel(N=200, start="stored")) < 0.3
    assert ds["alpha_c_err"].dims == ("N", "start")
    assert abs(float(ds["alpha_c_theory"]) - 0.138) < 1e-3
    for name, var in ds.variables.items():
        assert "long_name" in var.attrs, name


def test_energy_descent_is_monotone_at_zero_temperature():
    ds = hopfield.energy_descent(
        N=100,
        alpha=0.05,
        temperatures=[0.0, 0.4],
        trials=3,
        sweeps=4,
        records_per_sweep=5,
        flip_fraction=0.2,
        seed=0,
    )
    assert ds["energy"].dims == ("temperature", "start", "trial", "t")
    cold = ds["energy"].sel(temperature=0.0)
    assert bool((cold.diff("t") <= 1e-12).all())
    # corrupted starts fall into the stored pattern, whose energy is the reference
    np.testing.assert_allclose(
        cold.sel(start="corrupted").isel(t=-1), ds["pattern_energy"], rtol=0, atol=1e-12
    )
