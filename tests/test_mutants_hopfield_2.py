"""Hopfield: argument checks with clear messages and the energy-descent Dataset's labels
(issue 19). Mutation testing left unchecked: the messages of two refused inputs, the
energy's long_name, the start coordinate's long_name and that t is the time dimension's
own coordinate (a coordinate t on another dimension still passed the checks by name)."""

import numpy as np
import pytest
import torch

from statmech_nn import hopfield


def test_dynamics_asks_for_coupling_set_when_sets_and_runs_differ():
    """Two coupling sets for three runs is ambiguous: the error names the function and
    says what to pass."""
    gen = torch.Generator().manual_seed(0)
    patterns = hopfield.random_patterns(2, 3, 20, gen)
    couplings = hopfield.hebbian_couplings(patterns)
    spins = patterns[[0, 1, 0], 0]
    with pytest.raises(ValueError, match=r"^asynchronous_dynamics: pass coupling_set when K != B$"):
        hopfield.asynchronous_dynamics(
            couplings, spins, patterns[:, 0], max_sweeps=2, generator=gen
        )


@pytest.mark.parametrize("alpha", [[0.1, 0.05], [0.05, 0.05, 0.1]], ids=["decreasing", "repeated"])
def test_capacity_sweep_refuses_a_load_grid_that_is_not_increasing(alpha):
    """The cumulative couplings add each load's new patterns once, so α must increase."""
    with pytest.raises(ValueError, match="alpha must be positive and strictly increasing"):
        hopfield.capacity_sweep(
            N=[20], alpha=alpha, trials=2, flip_fraction=0.1, max_sweeps=2,
            retrieval_threshold=0.9, seed=0, bootstrap_resamples=2, theory_points=3,
        )  # fmt: skip


@pytest.fixture(scope="module")
def descent():
    return hopfield.energy_descent(
        N=40, alpha=0.1, temperatures=[0.0, 0.3, 0.8], trials=2, sweeps=3, records_per_sweep=2,
        flip_fraction=0.2, seed=5,
    )  # fmt: skip


def test_energy_descent_labels_energy_and_start_states(descent):
    """The figures label their axes from long_name and units."""
    assert descent.energy.attrs == {"long_name": "energy per spin E/N", "units": "1"}
    assert descent.m.attrs == {"long_name": "overlap with pattern 1", "units": "1"}
    assert descent.start.attrs == {"long_name": "start state"}
    assert descent.energy.dims == descent.m.dims == ("temperature", "start", "trial", "t")


def test_energy_descent_time_is_an_indexed_dimension(descent):
    """Every dimension has its own coordinate, so records can be selected by time in sweeps:
    t = 0, 1/2, …, 3 sweeps, and sel(t=1.5) picks the record after 1.5 sweeps."""
    assert set(descent.dims) == {"temperature", "start", "trial", "t", "sweep"}
    assert descent.t.dims == ("t",) and "t" in descent.indexes
    np.testing.assert_allclose(descent.t.values, np.arange(7) / 2, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(descent.m.sel(t=1.5).values, descent.m.isel(t=3).values)
    # the corrupted start is pattern 1 with a fifth of its spins flipped: m = 1 − 2·0.2
    np.testing.assert_allclose(descent.m.sel(t=0.0, start="corrupted"), 0.6, atol=1e-12)
