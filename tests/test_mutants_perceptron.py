"""Perceptron kernels on shapes that tell their axes apart (issue 19).

Mutation testing found training_error's average taken over the wrong axis
surviving: the tests had as many students as examples. Here S ≠ P, checked
against a loop over students and examples.
"""

import numpy as np

from statmech_nn import perceptron


def test_training_error_averages_over_examples_per_student():
    rng = np.random.default_rng(8)
    problems = perceptron.teacher_student_problems(2, 7, 5, rng)  # n = 2 sets of P = 7 in N = 5
    students = rng.standard_normal((2, 3, 5))  # S = 3 students per set
    students[:, 0] = problems.teacher  # the teacher itself makes no training error
    got = perceptron.training_error(students, problems)
    assert got.shape == (2, 3)
    want = np.array([
        [np.mean([problems.y[t, p] * students[t, s] @ problems.x[t, p] <= 0 for p in range(7)])
         for s in range(3)]
        for t in range(2)
    ])  # fmt: skip
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got[:, 0], 0.0)
    np.testing.assert_array_equal(perceptron.training_error(-students, problems)[:, 0], 1.0)


def test_learning_curves_dataset_names_its_theory_grid_and_note():
    ds = perceptron.learning_curves(
        N=12, alpha=[1.0, 3.0], algorithms=["hebb", "perceptron"], n_trials=3,
        billiard_refreshes=2, burn_in=0.5, free_paths_per_refresh=10, perceptron_max_epochs=50,
        theory_points=5, seed=1,
    )  # fmt: skip
    assert ds.attrs["theory"] == perceptron.THEORY_NOTE
    assert "alpha_theory" in ds.coords and ds.alpha_theory.size == 5
    assert ds.alpha_theory.attrs == {"long_name": "load P/N", "units": "1"}
    assert ds.algorithm.values.tolist() == ["hebb", "perceptron"]
    assert ds.finished.attrs["long_name"] == "1 if every student's rule reached its end"


def test_capacity_sweep_labels_its_fraction_and_effective_load():
    ds = perceptron.capacity_sweep(N=[4], alpha=[1.0, 3.0], n_trials=3, seed=2)
    assert ds.separable_fraction.attrs["long_name"] == "fraction of separable problems"
    assert ds.alpha_effective.attrs == {"long_name": "load P/N", "units": "1"}
    np.testing.assert_allclose(ds.alpha_effective.values, [[1.0, 3.0]], rtol=1e-15)
    assert ds.separable_fraction.dims == ("N", "alpha")
