"""Hopfield Datasets: coordinates, attrs and the physics they label (issue 19).

Mutation testing found the coordinates of the energy-descent Dataset
unchecked (a renamed time coordinate survived). A small network, two
temperatures, a few sweeps.
"""

import numpy as np
import pytest
import torch

from statmech_nn import hopfield, theory


@pytest.fixture(scope="module")
def descent():
    return hopfield.energy_descent(
        N=60, alpha=0.1, temperatures=[0.0, 0.5], trials=3, sweeps=4, records_per_sweep=6,
        flip_fraction=0.25, seed=2,
    )  # fmt: skip


def test_energy_descent_coordinates_and_attrs(descent):
    assert set(descent.coords) == {"temperature", "start", "trial", "t", "sweep"}
    np.testing.assert_allclose(descent.t.values, np.arange(4 * 6 + 1) / 6, rtol=0, atol=1e-15)
    assert descent.t.attrs == {"long_name": "time", "units": "sweeps"}
    np.testing.assert_array_equal(descent.sweep.values, [1, 2, 3, 4])
    assert descent.start.values.tolist() == ["random", "corrupted"]
    np.testing.assert_array_equal(descent.trial.values, [0, 1, 2])
    np.testing.assert_array_equal(descent.temperature.values, [0.0, 0.5])
    assert descent.temperature.attrs == {
        "long_name": "temperature T (0: sign rule, >0: Glauber)",
        "units": "1",
    }
    assert descent.trial.attrs == {"long_name": "trial", "units": "1"}
    assert descent.sweep.attrs == {"long_name": "sweep", "units": "1"}
    assert descent.attrs == {"N": 60, "P": 6, "alpha": 0.1, "flip_fraction": 0.25}
    assert descent.flips.dims == ("temperature", "start", "trial", "sweep")
    assert descent.pattern_energy.dims == ("trial",)


def test_energy_descent_starts_where_it_says(descent):
    m0 = descent.m.isel(t=0)
    # the corrupted start is pattern 1 with a quarter of the spins flipped: m = 1 − 2·0.25
    np.testing.assert_allclose(m0.sel(start="corrupted"), 0.5, rtol=0, atol=1e-12)
    assert float(abs(m0.sel(start="random")).max()) < 0.6
    # E/N of the stored pattern: −(1/2N²) Σ_ij J_ij s_i s_j with J = Σ_μ ξξᵀ (no 1/N)
    assert (descent.pattern_energy < -0.4).all() and (descent.pattern_energy > -0.7).all()
    cold = descent.flips.sel(temperature=0.0)
    hot = descent.flips.sel(temperature=0.5)
    assert int(hot.sum()) > int(cold.sum())  # Glauber keeps flipping at T > 0


def test_bootstrap_error_needs_two_crossing_resamples_and_no_more():
    """Every trial retrieves up to the same load: every resample crosses ½ at the same α_c,
    so two resamples give a standard deviation of exactly 0, one resample NaN."""
    alpha = np.array([0.05, 0.1, 0.15, 0.2])
    retrieved = np.array([[True, True, False, False]] * 5).T  # (A, trials)
    two = hopfield.bootstrap_critical_load(alpha, retrieved, 2, np.random.default_rng(0))
    one = hopfield.bootstrap_critical_load(alpha, retrieved, 1, np.random.default_rng(0))
    assert float(two) == 0.0 and np.isnan(one)
    # trials that differ: the error is the sample standard deviation of the crossing loads
    mixed = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]], bool).T
    rng = np.random.default_rng(5)
    err = hopfield.bootstrap_critical_load(alpha, mixed, 400, rng)
    draw = np.random.default_rng(5).integers(0, 4, (400, 4))
    loads = hopfield.critical_load(alpha, mixed[:, draw].mean(-1).T)
    assert float(err) == pytest.approx(np.nanstd(loads, ddof=1), rel=1e-12)


def test_capacity_sweep_labels_the_sweeps_to_a_fixed_point():
    ds = hopfield.capacity_sweep(
        N=[40], alpha=[0.05, 0.3], trials=2, flip_fraction=0.1, max_sweeps=5,
        retrieval_threshold=0.9, seed=0, bootstrap_resamples=10, theory_points=5,
    )  # fmt: skip
    names = {v.attrs["long_name"] for v in ds.data_vars.values()}
    assert "sweeps with flips before a fixed point (-1: none reached)" in names


def test_energy_descent_draws_everything_from_its_seed():
    """The same seed twice gives the same runs whatever the global torch RNG state."""
    kw = {
        "N": 40, "alpha": 0.1, "temperatures": [0.0, 0.4], "trials": 2, "sweeps": 2,
        "records_per_sweep": 2, "flip_fraction": 0.2, "seed": 7,
    }  # fmt: skip
    torch.manual_seed(0)
    a = hopfield.energy_descent(**kw)
    torch.manual_seed(999)
    b = hopfield.energy_descent(**kw)
    for name in ("energy", "m", "flips", "pattern_energy"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.parametrize("alpha", [[0.04, 0.12, 0.16], [0.05, 0.25, 0.35]])
def test_capacity_theory_grid_spans_a_quarter_of_the_first_load_to_the_last(alpha):
    """The AGS curve is drawn from α₀/4 to max(last α, 0.2) (past the AGS α_c ≈ 0.138)."""
    ds = hopfield.capacity_sweep(
        N=[30], alpha=alpha, trials=2, flip_fraction=0.1, max_sweeps=3,
        retrieval_threshold=0.9, seed=0, bootstrap_resamples=4, theory_points=9,
    )  # fmt: skip
    want = np.linspace(alpha[0] / 4, max(alpha[-1], 0.2), 9)
    np.testing.assert_allclose(ds.alpha_theory.values, want, rtol=1e-15, atol=0)
    np.testing.assert_allclose(
        ds.m_theory.values, theory.ags_retrieval_overlap(want), rtol=1e-12, equal_nan=True
    )


def test_capacity_sweep_names_and_labels_every_variable():
    ds = hopfield.capacity_sweep(
        N=[30, 40], alpha=[0.05, 0.2], trials=2, flip_fraction=0.1, max_sweeps=4,
        retrieval_threshold=0.9, seed=1, bootstrap_resamples=5, theory_points=6,
    )  # fmt: skip
    assert set(ds.data_vars) == {
        "m", "sweeps_to_fixed_point", "load", "m_mean", "m_sem", "retrieval_fraction",
        "alpha_c", "alpha_c_err", "m_theory", "alpha_c_theory", "m_c_theory",
    }  # fmt: skip
    for name, var in ds.data_vars.items():
        assert isinstance(var.attrs.get("long_name"), str) and var.attrs["long_name"], name
        assert isinstance(var.attrs.get("units"), str) and var.attrs["units"], name
    for name, coord in ds.coords.items():
        assert isinstance(coord.attrs.get("long_name"), str) and coord.attrs["long_name"], name
        if name != "start":  # the start kinds are words, without units
            assert coord.attrs.get("units") == "1", name
    assert set(ds.coords) == set(ds.dims)
    assert ds.attrs == {
        "flip_fraction": 0.1, "retrieval_threshold": 0.9, "max_sweeps": 4,
        "bootstrap_resamples": 5,
    }  # fmt: skip
