"""Perceptron kernels and the labels of the study Datasets (issue 19).

Mutation testing left unchecked: the billiard's renormalisation onto the sphere in long
runs, that the perceptron algorithm's look-ahead block is only a speed-up, that the
samplers draw from the study seed, and several labels of the capacity and learning-curve
Datasets.
"""

import numpy as np
import pytest

from statmech_nn import perceptron, theory
from statmech_nn.perceptron import study as perceptron_study


def test_long_billiard_runs_stay_on_the_unit_sphere():
    """At α = 10 (short free paths) a run of thousands of events keeps every Gibbs sample a
    unit vector to round-off and inside the version space."""
    pr = perceptron.teacher_student_problems(4, 200, 20, np.random.default_rng(6))
    run = perceptron.billiard_in_version_space(pr, 2, 30, 0.5, 100, np.random.default_rng(0))
    assert run.finished.all() and run.events.min() > 2000
    np.testing.assert_allclose(np.linalg.norm(run.gibbs, axis=-1), 1.0, rtol=0, atol=1e-12)
    assert perceptron.training_error(run.gibbs, pr).max() == 0.0


def test_perceptron_students_do_not_depend_on_the_look_ahead_block():
    """The block only batches the search for the next mistake: with the same random orders
    (same seed) every block size gives the same weights, i.e. the same sequence of updates,
    and every converged student classifies its training set without error."""
    pr = perceptron.teacher_student_problems(3, 30, 10, np.random.default_rng(4))
    runs = [
        perceptron.perceptron_students(pr, 2, 1000, np.random.default_rng(9), block=block)
        for block in (1, 3, 32)
    ]
    w1, ok1 = runs[0]
    assert ok1.all()
    assert perceptron.training_error(w1, pr).max() == 0.0
    for w, ok in runs[1:]:
        np.testing.assert_array_equal(ok, ok1)
        np.testing.assert_array_equal(w, w1)


def test_samplers_draw_from_the_study_seed(monkeypatch):
    """Given the same training sets, another study seed gives other Gibbs samples and other
    perceptron orders: replicate studies do not share their sampling noise."""
    fixed = perceptron.teacher_student_problems(3, 12, 8, np.random.default_rng(0))
    monkeypatch.setattr(perceptron_study, "teacher_student_problems", lambda *args: fixed)
    kw = {
        "N": 8, "alpha": [1.5], "algorithms": ["gibbs", "perceptron"], "n_trials": 3,
        "billiard_refreshes": 2, "burn_in": 0.5, "free_paths_per_refresh": 10,
        "perceptron_max_epochs": 100, "theory_points": 3,
    }  # fmt: skip
    a = perceptron.learning_curves(**kw, seed=1)
    b = perceptron.learning_curves(**kw, seed=2)
    for algorithm in ("gibbs", "perceptron"):
        ra = a.teacher_overlap_trials.sel(algorithm=algorithm).values
        rb = b.teacher_overlap_trials.sel(algorithm=algorithm).values
        assert not np.allclose(ra, rb, rtol=0, atol=1e-6), algorithm
    # the same seed, the same result
    again = perceptron.learning_curves(**kw, seed=1)
    np.testing.assert_array_equal(a.teacher_overlap_trials, again.teacher_overlap_trials)


def test_learning_curves_label_the_generalization_error():
    """ε's label says how it is computed (from R, no test set) and what it averages."""
    ds = perceptron.learning_curves(
        N=10, alpha=[1.0, 2.0], algorithms=["hebb"], n_trials=3, billiard_refreshes=2,
        burn_in=0.5, free_paths_per_refresh=10, perceptron_max_epochs=10, theory_points=4,
        seed=0,
    )  # fmt: skip
    base = "generalization error arccos(R)/pi"
    assert ds.generalization_error.attrs == {
        "long_name": f"{base}, mean over training sets",
        "units": "1",
    }
    assert ds.generalization_error_trials.attrs["long_name"] == f"{base}, per training set"
    assert ds.generalization_error_stderr.attrs["long_name"] == f"standard error of {base}"
    np.testing.assert_allclose(
        ds.generalization_error_trials.values,
        theory.generalization_error(ds.teacher_overlap_trials.values),
        rtol=1e-15,
    )


def test_capacity_sweep_labels_cover_gardner_patterns_and_trials():
    """Cover's curve, Gardner's α_c = 2 and the (N, alpha) number of patterns are labelled
    and laid out as the capacity figure reads them."""
    ds = perceptron.capacity_sweep(N=[4, 6], alpha=[0.5, 2.0, 3.0], n_trials=3, seed=1)
    assert ds.cover_probability.attrs == {
        "long_name": "Cover's exact probability of separability",
        "units": "1",
    }
    assert ds.cover_probability.dims == ("N", "alpha")
    np.testing.assert_allclose(
        ds.cover_probability.values,
        [theory.cover_separable(np.array([2, 8, 12]), 4),
         theory.cover_separable(np.array([3, 12, 18]), 6)],
        rtol=1e-15,
    )  # fmt: skip
    assert float(ds.alpha_c) == pytest.approx(2.0, rel=1e-6)
    assert ds.alpha_c.attrs == {
        "long_name": "Gardner capacity alpha_c(kappa=0), N->inf",
        "units": "1",
    }
    assert ds.patterns.dims == ("N", "alpha")
    np.testing.assert_array_equal(ds.patterns.values, [[2, 8, 12], [3, 12, 18]])
    assert ds.patterns.attrs == {"long_name": "number of patterns", "units": "1"}
    assert set(ds.dims) == {"N", "alpha", "P", "trial"}
    assert ds.trial.attrs == {"long_name": "problem", "units": "1"}
    np.testing.assert_array_equal(ds.trial.values, [0, 1, 2])
