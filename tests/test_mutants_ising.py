"""The Ising study's Dataset (ising.thermodynamics) checked on a tiny torus (issue 19).

Mutation testing found its assembly unexercised by the unit tests (only the
workflow builds it): a curve dropped or mislabelled, a dimension renamed or an
attr lost survived. Here a 4×4 torus at three temperatures, short chains:
every variable's dims, name and units, the theory curves equal the functions
they come from, and the simulation agrees with exact enumeration within a few
binning errors.
"""

import numpy as np
import pytest

from statmech_nn import ising

TEMPS = [1.6, 2.4, 3.4]


@pytest.fixture(scope="module")
def study():
    return ising.thermodynamics(
        L=4, temperatures=TEMPS, chains=8, burn_in=50, measurements=300, thin=2, bins=10,
        keep_samples=6, seed=3, theory_points=7,
    )  # fmt: skip


def test_dims_coords_and_attrs(study):
    assert study.samples.dims == ("temperature", "sample", "row", "column")
    assert study.samples.shape == (3, 6, 4, 4)
    assert set(np.unique(study.samples.values)) <= {-1, 1}
    np.testing.assert_array_equal(study.temperature.values, TEMPS)
    fine = np.linspace(1.6, 3.4, 7)
    np.testing.assert_allclose(study.temperature_theory.values, fine, rtol=0, atol=0)
    assert study.temperature.attrs == {"long_name": "temperature T", "units": "J/k_B"}
    assert study.temperature_theory.attrs["units"] == "J/k_B"
    assert study.attrs["T_c"] == pytest.approx(2 / np.log(1 + np.sqrt(2)), rel=1e-15)
    assert {k: study.attrs[k] for k in ("L", "chains", "burn_in", "measurements", "thin")} == {
        "L": 4, "chains": 8, "burn_in": 50, "measurements": 300, "thin": 2,
    }  # fmt: skip
    assert study.attrs["bins"] == 10
    assert study.acceptance.dims == ("temperature",)
    assert (np.diff(study.acceptance.values) > 0).all()  # hotter: more flips accepted


def test_theory_curves_are_the_functions_on_the_grid(study):
    fine = study.temperature_theory.values
    np.testing.assert_allclose(study.onsager_energy.values, ising.onsager_energy(fine), rtol=1e-14)
    np.testing.assert_allclose(
        study.onsager_specific_heat.values, ising.onsager_specific_heat(fine), rtol=1e-14
    )
    np.testing.assert_allclose(
        study.onsager_abs_magnetisation.values, ising.onsager_magnetisation(fine), rtol=1e-14
    )
    kaufman = ising.kaufman_thermodynamics(4, fine)
    exact = ising.exact_thermodynamics(4, np.asarray(TEMPS))
    for name in ("energy", "specific_heat"):
        np.testing.assert_allclose(
            study[f"kaufman_{name}_theory"].values, kaufman[name], rtol=1e-12
        )
        assert study[f"kaufman_{name}_theory"].dims == ("temperature_theory",)
    for name in ising.QUANTITIES:
        np.testing.assert_allclose(study[f"exact_{name}"].values, exact[name], rtol=1e-12)
        assert study[f"exact_{name}_theory"].dims == ("temperature_theory",)
    assert study.onsager_energy.attrs["units"] == "J"
    assert study.onsager_specific_heat.attrs["units"] == "k_B"
    assert study.onsager_abs_magnetisation.attrs["long_name"] == "Yang spontaneous magnetisation"
    assert "Onsager energy" in study.onsager_energy.attrs["long_name"]


def test_simulation_agrees_with_enumeration_within_its_errors(study):
    for name, (long_name, units) in ising.QUANTITIES.items():
        value, err = study[name], study[f"{name}_err"]
        assert value.dims == err.dims == ("temperature",)
        assert value.attrs == {"long_name": long_name, "units": units}
        assert err.attrs["units"] == units and long_name in err.attrs["long_name"]
        assert (err.values > 0).all()
        z = np.abs(value.values - study[f"exact_{name}"].values) / err.values
        assert (z < 5).all(), (name, z)


def test_every_variable_and_coordinate_is_labelled(study):
    """io.labelled's promise (DESIGN §4) for the whole study file: a non-empty long_name on
    every variable and coordinate, units on every data variable, a coordinate on every
    dimension. (The index coordinates sample, row and column carry no units: counts.)"""
    for name, var in study.data_vars.items():
        assert isinstance(var.attrs.get("long_name"), str) and var.attrs["long_name"], name
        assert isinstance(var.attrs.get("units"), str) and var.attrs["units"], name
    for name, coord in study.coords.items():
        assert isinstance(coord.attrs.get("long_name"), str) and coord.attrs["long_name"], name
    assert set(study.coords) == set(study.dims)
    np.testing.assert_array_equal(study.row.values, np.arange(4))
    np.testing.assert_array_equal(study.column.values, np.arange(4))
    assert study.acceptance.attrs == {"long_name": "Metropolis acceptance", "units": "1"}
    assert study.onsager_specific_heat.attrs == {
        "long_name": "Onsager specific heat",
        "units": "k_B",
    }
