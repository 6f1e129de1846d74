"""Teacher–student perceptron: students, learning curves vs replica theory, capacity vs Cover.

Which simulation matches which curve (THEORY.md, Perceptron):
- ``gibbs`` (uniform sample of the version space)  <->  ε_Gibbs(α), and q = R;
- ``bayes`` (centre of mass of the version space)  <->  ε_Bayes(α);
- ``hebb``                                         <->  ε_Hebb(α) in closed form;
- ``perceptron`` and ``max_stability`` have no curve here (both lie between Gibbs and Bayes).

The replica curves are N → ∞ limits. At finite N the simulated ε sits below them by
an O(1/N) shift: measured at N = 20 with 2000 training sets per α (α = 0.5 … 5),
N·(ε_sim − ε_∞) lies between −0.11 and −0.17 for Gibbs and between −0.11 and −0.14
for Hebb (for Hebb the shift follows from the N − 1 directions orthogonal to the
teacher: R = S/√(S² + P χ²_{N−1}), not χ²_N). The comparison therefore allows
3 standard errors plus 0.2/N, which is 0.004 at the quick config's N = 50.
"""

from itertools import product
from math import comb
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from scipy import optimize

from statmech_nn import perceptron, theory
from statmech_nn.errors import InputError

FINITE_SIZE = 0.2  # allowance c/N for the O(1/N) shift of ε from the N → ∞ curve (see above)
QUICK_N = yaml.safe_load((Path(__file__).parents[1] / "config/quick.yaml").read_text())[
    "perceptron"
]["learning_curves"]["N"]


def problems(n, P, N, seed=0):
    return perceptron.teacher_student_problems(n, P, N, np.random.default_rng(seed))


def lc(**overrides):
    cfg = dict(
        N=QUICK_N,
        alpha=[0.5, 2.0, 5.0],
        algorithms=["gibbs", "bayes", "hebb"],
        n_trials=40,
        billiard_refreshes=8,
        burn_in=0.5,
        free_paths_per_refresh=100,
        perceptron_max_epochs=1000,
        theory_points=64,
        seed=3,
    )
    return perceptron.learning_curves(**{**cfg, **overrides})


# --- capacity ---------------------------------------------------------------------------


@pytest.mark.parametrize(("N", "P"), [(2, 6), (3, 7)])
def test_lp_counts_exactly_covers_number_of_separable_labellings(N, P):
    """For one point set in general position, exactly 2 Σ_{k<N} C(P−1, k) labellings separate.

    Cover's counting theorem holds for every such point set, not only on
    average, so the LP must find exactly that many of the 2^P labellings.
    """
    x = np.random.default_rng(1).standard_normal((P, N))
    count = sum(perceptron.separable(x, np.array(y)) for y in product([-1.0, 1.0], repeat=P))
    assert count == 2 * sum(comb(P - 1, k) for k in range(N))
    assert count == theory.cover_separable_exact(P, N) * 2**P


def test_separable_fraction_agrees_with_cover_at_N50():
    """LP separability of random labels at N = 50 within 3 binomial standard errors of Cover."""
    ds = perceptron.capacity_sweep(N=[50], alpha=[1.6, 2.0, 2.4], n_trials=100, seed=0)
    p = ds.cover_probability.sel(N=50).values
    frac = ds.separable_fraction.sel(N=50).values
    stderr = np.sqrt(p * (1 - p) / 100)
    assert np.all(np.abs(frac - p) <= 3 * stderr), (frac, p)


def test_capacity_dataset_layout():
    """Dims are words, every variable has long_name and units, Cover's curve is ½ at P = 2N."""
    ds = perceptron.capacity_sweep(N=[5, 10], alpha=[0.5, 2.0, 3.0], n_trials=6, seed=0)
    assert ds.separable.dims == ("N", "alpha", "trial")
    assert ds.separable_fraction.dims == ds.cover_probability.dims == ("N", "alpha")
    for name, var in ds.variables.items():
        assert var.attrs.get("units") == "1", name
        if name not in ("N", "alpha", "P", "trial"):
            assert "long_name" in var.attrs, name
    for n in (5, 10):
        assert ds.cover_curve.sel(N=n, P=2 * n).item() == 0.5
    np.testing.assert_array_equal(ds.separable_fraction.sel(alpha=0.5), 1.0)  # P <= N
    assert ds.alpha_c.item() == pytest.approx(2.0, rel=1e-12)
    xr.testing.assert_identical(
        ds, perceptron.capacity_sweep(N=[5, 10], alpha=[0.5, 2.0, 3.0], n_trials=6, seed=0)
    )


# --- students ---------------------------------------------------------------------------


def test_hebb_is_the_label_weighted_sum_of_inputs():
    pr = problems(3, 12, 7)
    w = perceptron.hebb_students(pr)
    expected = np.stack([sum(pr.y[t, m] * pr.x[t, m] for m in range(12)) for t in range(3)])
    np.testing.assert_allclose(w[:, 0], expected, rtol=1e-13)


def test_max_stability_is_the_minimum_norm_solution_with_unit_margins():
    """min |w| s.t. y w·x ≥ 1: stabilities ≥ 1 with equality on the support, |w| as SLSQP's."""
    pr = problems(2, 25, 10, seed=4)
    w = perceptron.max_stability_students(pr)[:, 0]
    a = pr.y[..., None] * pr.x
    for t in range(2):
        stab = a[t] @ w[t]
        assert stab.min() == pytest.approx(1.0, abs=1e-9)
        ref = optimize.minimize(
            lambda v: v @ v,
            a[t].sum(axis=0),
            jac=lambda v: 2 * v,
            constraints=[
                {"type": "ineq", "fun": lambda v, t=t: a[t] @ v - 1, "jac": lambda v, t=t: a[t]}
            ],
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 500},
        )
        assert ref.success
        assert np.linalg.norm(w[t]) == pytest.approx(np.linalg.norm(ref.x), rel=1e-6)


def test_perceptron_algorithm_reaches_zero_training_error():
    """Rosenblatt's algorithm separates separable data; students with other orders differ."""
    pr = problems(8, 60, 30, seed=5)
    w, converged = perceptron.perceptron_students(pr, 2, 1000, np.random.default_rng(0))
    assert converged.all()
    assert perceptron.training_error(w, pr).max() == 0.0
    assert np.all(perceptron.student_overlap(w) < 1 - 1e-6)


def test_billiard_stays_on_the_sphere_inside_the_version_space():
    pr = problems(6, 40, 20, seed=6)
    run = perceptron.billiard_in_version_space(pr, 2, 4, 0.5, 100, np.random.default_rng(0))
    assert run.finished.all() and (run.refreshes > 0).all()
    np.testing.assert_allclose(np.linalg.norm(run.gibbs, axis=-1), 1.0, atol=1e-9)
    assert perceptron.training_error(run.gibbs, pr).max() == 0.0
    assert perceptron.training_error(run.centre, pr).max() == 0.0


def _nishimori_z(alpha, refreshes, N=20, n=200):
    """z-score of mean(q − R) over training sets for billiard Gibbs samples."""
    pr = problems(n, int(alpha * N), N, seed=7)
    run = perceptron.billiard_in_version_space(pr, 2, refreshes, 0.5, 100, np.random.default_rng(1))
    diff = perceptron.student_overlap(run.gibbs) - perceptron.teacher_overlap(
        run.gibbs, pr.teacher
    ).mean(axis=-1)
    return diff.mean() / (diff.std(ddof=1) / np.sqrt(n))


@pytest.mark.parametrize("alpha", [1.0, 5.0])
def test_gibbs_samples_obey_the_teacher_student_symmetry(alpha):
    """Uniform version-space samples have E[q] = E[R] exactly, at every N.

    Given the data the teacher is itself a uniform sample of the version space
    (its prior is uniform on the sphere), so teacher and a Gibbs student are
    exchangeable with a second student: E[w₁·w₂] = E[w₁·w*]. A sampler that
    has not forgotten its start (the teacher) breaks the equality.
    """
    assert abs(_nishimori_z(alpha, refreshes=8)) < 3


def test_symmetry_check_detects_an_unmixed_sampler():
    """The same check fails for a run far too short to forget the teacher (test power)."""
    assert abs(_nishimori_z(5.0, refreshes=0.02)) > 3


# --- learning curves vs replica theory --------------------------------------------------


def test_simulated_learning_curves_match_replica_theory_at_quick_N():
    """Gibbs ↔ ε_Gibbs, Bayes ↔ ε_Bayes, Hebb ↔ ε_Hebb at the quick N: |Δε| ≤ 3 SE + 0.2/N."""
    ds = lc()
    for algorithm in ("gibbs", "bayes", "hebb"):
        d = ds.sel(algorithm=algorithm)
        expected = dict(gibbs=theory.gibbs_error, bayes=theory.bayes_error, hebb=theory.hebb_error)[
            algorithm
        ](d.alpha.values)
        gap = np.abs(d.generalization_error.values - expected)
        tolerance = 3 * d.generalization_error_stderr.values + FINITE_SIZE / QUICK_N
        assert np.all(gap <= tolerance), (algorithm, gap, tolerance)
        if algorithm != "hebb":
            assert np.all(d.training_error.values == 0.0)
        assert d.finished.all()
    gibbs = ds.sel(algorithm="gibbs")
    np.testing.assert_allclose(
        gibbs.student_overlap, gibbs.teacher_overlap, atol=3 * gibbs.student_overlap_stderr.max()
    )


def test_hebb_matches_its_closed_form_with_many_training_sets():
    """With 600 sets the statistical error is small; the gap stays within 3 SE + 0.2/N."""
    ds = lc(algorithms=["hebb"], alpha=[1.0, 4.0], n_trials=600).sel(algorithm="hebb")
    gap = np.abs(ds.generalization_error.values - theory.hebb_error(ds.alpha.values))
    assert np.all(gap <= 3 * ds.generalization_error_stderr.values + FINITE_SIZE / QUICK_N)


def test_learning_curves_dataset_layout_and_determinism():
    """Dims are words with values; units everywhere; theory rows NaN where no curve exists."""
    kw = dict(
        N=16,
        alpha=[0.5, 2.0],
        algorithms=list(perceptron.ALGORITHMS),
        n_trials=4,
        billiard_refreshes=2,
    )
    ds = lc(**kw)
    assert ds.generalization_error.dims == ("algorithm", "alpha")
    assert ds.generalization_error_trials.dims == ("algorithm", "alpha", "trial")
    assert ds.generalization_error_theory.dims == ("algorithm", "alpha_theory")
    np.testing.assert_array_equal(ds.P, [8, 32])
    for name, var in ds.variables.items():
        if name != "algorithm":
            assert var.attrs.get("units") == "1", name
    theory_rows = ds.generalization_error_theory.isnull().all("alpha_theory")
    assert theory_rows.sel(algorithm=["perceptron", "max_stability"]).all()
    assert not theory_rows.sel(algorithm=["gibbs", "bayes", "hebb"]).any()
    np.testing.assert_array_equal(ds.student_overlap.sel(algorithm=["max_stability", "hebb"]), 1)
    xr.testing.assert_identical(ds, lc(**kw))
    # a point's result depends only on (seed, N, P), not on the rest of the grid
    one = lc(**{**kw, "alpha": [2.0]})
    xr.testing.assert_identical(
        one.generalization_error_trials.isel(alpha=0),
        ds.generalization_error_trials.isel(alpha=1),
    )


@pytest.mark.parametrize(
    "bad",
    [dict(algorithms=["gibbs", "adatron"]), dict(N=10, alpha=[1.0, 1.04])],
    ids=["unknown-algorithm", "repeated-P"],
)
def test_bad_settings_raise_one_line_input_errors(bad):
    with pytest.raises(InputError):
        lc(**bad)


@pytest.mark.slow
def test_quick_run_writes_labelled_perceptron_results_and_figures(quick_run):
    """The workflow's perceptron rules produce both files, with provenance, and both figures."""
    for name, variable in [
        ("learning_curves", "generalization_error"),
        ("capacity", "cover_curve"),
    ]:
        with xr.open_dataset(quick_run / f"results/perceptron/{name}.nc") as ds:
            assert ds.attrs["rule"] == f"perceptron_{name}"
            assert ds[variable].attrs["units"] == "1"
    with xr.open_dataset(quick_run / "results/perceptron/learning_curves.nc") as ds:
        assert int(ds["N"]) == QUICK_N
        assert ds["finished"].all()
    for name in ("perceptron_generalization", "perceptron_capacity"):
        for ext in ("pdf", "png"):
            assert (quick_run / f"results/figures/{name}.{ext}").stat().st_size > 0
