"""Teacher–student perceptron studies (config values in, labelled Dataset out): learning
curves of each student against replica theory, and capacity against Cover and Gardner.

A teacher w* drawn uniformly on the unit sphere of R^N labels P = αN standard
Gaussian inputs x_μ by y_μ = sign(w*·x_μ). A student w (any norm) errs on a
fresh input with probability ε = arccos(R)/π, R = w·w*/(|w||w*|), exactly at
every N, so ε is computed from R and needs no test set. The students:

- ``gibbs``: a uniform sample of the version space {w on the sphere : y_μ w·x_μ > 0 ∀μ},
  drawn by a billiard in the version space (see :func:`.billiard.billiard_in_version_space`).
  Replica theory: ε_Gibbs(α) (``theory.gibbs_error``); two Gibbs students have q = R.
- ``bayes``: the centre of mass of the version space, estimated by the time average
  of the same billiard trajectories, both chains pooled (Ruján 1997). Replica
  theory: ε_Bayes(α), approached from above as the runs lengthen (a finite
  average of samples lies closer to the Gibbs overlap); q is the cosine between
  the two chains' averages and tends to 1.
- ``perceptron``: Rosenblatt's perceptron algorithm from w = 0, examples in a random
  order per student, cycled until no training error. No replica curve.
- ``max_stability``: the maximal-stability (max-margin) perceptron, the unique
  minimum-norm w with y_μ w·x_μ ≥ 1, by non-negative least squares.
  No replica curve here (it lies close to ε_Bayes).
- ``hebb``: w = Σ_μ y_μ x_μ. Replica theory: ε_Hebb(α) in closed form.

Capacity: random ±1 labels of Gaussian inputs, separable by a hyperplane through
the origin iff a linear programme has a positive optimal margin; the fraction of
separable problems is set against Cover's exact P_sep(P, N) and Gardner's α_c = 2.
References: Engel & Van den Broeck, "Statistical Mechanics of Learning" (2001);
P. Ruján, Neural Comput. 9, 99 (1997); Lawson & Hanson, "Solving Least Squares
Problems" (1974), ch. 23 (least-distance programming).
"""

from collections.abc import Sequence

import numpy as np
import xarray as xr

from statmech_nn import theory
from statmech_nn.errors import InputError
from statmech_nn.io import labelled
from statmech_nn.perceptron.billiard import billiard_in_version_space
from statmech_nn.perceptron.capacity import separable_fraction
from statmech_nn.perceptron.problems import teacher_student_problems
from statmech_nn.perceptron.students import N_STUDENTS, student_outcome
from statmech_nn.seeds import derive_seed

ALGORITHMS = ("gibbs", "bayes", "perceptron", "max_stability", "hebb")
THEORY = {  # algorithm -> (R(α), ε(α)) of the replica theory that describes it
    "gibbs": (theory.gibbs_overlap, theory.gibbs_error),
    "bayes": (lambda a: np.sqrt(theory.gibbs_overlap(a)), theory.bayes_error),
    "hebb": (theory.hebb_overlap, theory.hebb_error),
}
THEORY_NOTE = (
    "gibbs <-> Gibbs learning, replica-symmetric saddle point; bayes <-> Bayes-optimal "
    "arccos(sqrt R)/pi with the Gibbs R; hebb <-> Hebb rule closed form; perceptron and "
    "max_stability: no curve computed (theory rows are NaN)"
)


def _mean_stderr(x: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean along ``axis``."""
    n = x.shape[axis]
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / np.sqrt(n)


def learning_curves(
    N: int,
    alpha: Sequence[float],
    algorithms: Sequence[str],
    n_trials: int,
    billiard_refreshes: float,
    burn_in: float,
    free_paths_per_refresh: float,
    perceptron_max_epochs: int,
    theory_points: int,
    seed: int,
) -> xr.Dataset:
    """ε(α), R(α) and q(α) of each student algorithm over ``n_trials`` training sets per α.

    Every α = P/N (P = round(αN)) draws ``n_trials`` fresh teachers and training
    sets from a seed derived from (seed, N, P), shared by all algorithms; algorithms
    that need randomness draw from their own derived stream, so results at one
    α do not depend on the rest of the grid or the algorithm list. Per set, R and
    ε are averaged over its two students; means and standard errors are over
    sets. Replica-theory curves (N → ∞) are stored on a log grid spanning α.
    """
    unknown = sorted(set(algorithms) - set(ALGORITHMS))
    if unknown:
        raise InputError(f"unknown perceptron algorithm(s) {unknown}; choose from {ALGORITHMS}")
    P = np.array([max(int(round(a * N)), 1) for a in alpha])
    if len(set(P)) != len(P):
        raise InputError(f"alpha grid {list(alpha)} gives repeated P = round(alpha*N) at N={N}")
    shape = (len(algorithms), len(P), n_trials)
    R, q, eps, train_err = (np.empty(shape) for _ in range(4))
    finished = np.empty(shape, dtype=bool)
    for j, p in enumerate(P):
        problems = teacher_student_problems(
            n_trials, int(p), N, np.random.default_rng(derive_seed(seed, N, int(p)))
        )
        billiard = None
        if {"gibbs", "bayes"} & set(algorithms):
            billiard = billiard_in_version_space(
                problems,
                N_STUDENTS,
                billiard_refreshes,
                burn_in,
                free_paths_per_refresh,
                np.random.default_rng(derive_seed(seed, N, int(p), "billiard")),
            )
        for i, algorithm in enumerate(algorithms):
            rng = np.random.default_rng(derive_seed(seed, N, int(p), algorithm))
            r, q[i, j], train_err[i, j], finished[i, j] = student_outcome(
                algorithm, problems, perceptron_max_epochs, billiard, rng
            )
            R[i, j] = r.mean(axis=-1)
            eps[i, j] = theory.generalization_error(r).mean(axis=-1)
    alpha_eff = P / N
    grid = np.geomspace(alpha_eff.min() / 2, alpha_eff.max() * 2, theory_points)
    R_th = np.full((len(algorithms), theory_points), np.nan)
    eps_th = np.full_like(R_th, np.nan)
    for i, algorithm in enumerate(algorithms):
        if algorithm in THEORY:
            R_th[i], eps_th[i] = (f(grid) for f in THEORY[algorithm])
    dims, dims_trial = ("algorithm", "alpha"), ("algorithm", "alpha", "trial")
    variables = {}
    for name, values, long_name in [
        ("generalization_error", eps, "generalization error arccos(R)/pi"),
        ("teacher_overlap", R, "student-teacher overlap R"),
        ("student_overlap", q, "student-student overlap q"),
    ]:
        mean, stderr = _mean_stderr(values)
        variables[f"{name}_trials"] = labelled(values, dims_trial, f"{long_name}, per training set")
        variables[name] = labelled(mean, dims, f"{long_name}, mean over training sets")
        variables[f"{name}_stderr"] = labelled(stderr, dims, f"standard error of {long_name}")
    variables["training_error"] = labelled(
        train_err, dims_trial, "fraction of training examples misclassified"
    )
    variables["finished"] = labelled(
        finished.astype(np.int8), dims_trial, "1 if every student's rule reached its end"
    )
    variables["generalization_error_theory"] = labelled(
        eps_th, ("algorithm", "alpha_theory"), "replica theory of the generalization error (N->inf)"
    )
    variables["teacher_overlap_theory"] = labelled(
        R_th, ("algorithm", "alpha_theory"), "replica theory of the teacher overlap R (N->inf)"
    )
    coords = {
        "algorithm": ("algorithm", list(algorithms)),
        "alpha": ("alpha", alpha_eff, {"long_name": "load P/N", "units": "1"}),
        "P": ("alpha", P, {"long_name": "number of training examples", "units": "1"}),
        "trial": ("trial", np.arange(n_trials), {"long_name": "training set", "units": "1"}),
        "alpha_theory": ("alpha_theory", grid, {"long_name": "load P/N", "units": "1"}),
        "N": ((), N, {"long_name": "input dimension", "units": "1"}),
    }
    return xr.Dataset(variables, coords=coords, attrs={"theory": THEORY_NOTE})


def capacity_sweep(
    N: Sequence[int], alpha: Sequence[float], n_trials: int, seed: int
) -> xr.Dataset:
    """Fraction of random-label problems linearly separable vs α = P/N at several N.

    One LP per problem (see :func:`.capacity.separable`); problems at (N, P) come from a
    seed derived from (seed, N, P). Stored next to Cover's exact P_sep(P, N) at
    the same P and for every P up to the largest one (the curve), and Gardner's
    α_c(0) from quadrature.
    """
    N = [int(n) for n in N]
    P = np.array([[max(int(round(a * n)), 1) for a in alpha] for n in N])
    outcome = np.stack(
        [
            np.stack(
                [
                    separable_fraction(
                        int(p), n, n_trials, np.random.default_rng(derive_seed(seed, n, int(p)))
                    )
                    for p in row
                ]
            )
            for n, row in zip(N, P, strict=True)
        ]
    )
    frac = outcome.mean(axis=-1)
    P_curve = np.arange(1, P.max() + 1)
    cover_curve = np.stack([theory.cover_separable(P_curve, n) for n in N])
    cover_at = np.stack([theory.cover_separable(row, n) for n, row in zip(N, P, strict=True)])
    variables = {
        "separable": labelled(
            outcome.astype(np.int8), ("N", "alpha", "trial"), "1 if the labels are separable"
        ),
        "separable_fraction": labelled(frac, ("N", "alpha"), "fraction of separable problems"),
        "separable_fraction_stderr": labelled(
            np.sqrt(frac * (1 - frac) / n_trials),
            ("N", "alpha"),
            "binomial standard error of the separable fraction",
        ),
        "cover_probability": labelled(
            cover_at, ("N", "alpha"), "Cover's exact probability of separability"
        ),
        "cover_curve": labelled(
            cover_curve, ("N", "P"), "Cover's exact probability of separability at every P"
        ),
        "alpha_c": labelled(
            theory.gardner_capacity(0.0), (), "Gardner capacity alpha_c(kappa=0), N->inf"
        ),
    }
    coords = {
        "N": ("N", N, {"long_name": "input dimension", "units": "1"}),
        "alpha": ("alpha", np.asarray(alpha, float), {"long_name": "nominal load", "units": "1"}),
        "alpha_effective": (
            ("N", "alpha"),
            P / np.array(N)[:, None],
            {"long_name": "load P/N", "units": "1"},
        ),
        "patterns": (("N", "alpha"), P, {"long_name": "number of patterns", "units": "1"}),
        "P": ("P", P_curve, {"long_name": "number of patterns", "units": "1"}),
        "trial": ("trial", np.arange(n_trials), {"long_name": "problem", "units": "1"}),
    }
    return xr.Dataset(variables, coords=coords)
