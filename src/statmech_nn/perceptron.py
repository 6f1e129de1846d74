"""Teacher–student perceptron with spherical weights: students, learning curves, capacity.

A teacher w* drawn uniformly on the unit sphere of R^N labels P = αN standard
Gaussian inputs x_μ by y_μ = sign(w*·x_μ). A student w (any norm) errs on a
fresh input with probability ε = arccos(R)/π, R = w·w*/(|w||w*|), exactly at
every N, so ε is computed from R and needs no test set. The students:

- ``gibbs``: a uniform sample of the version space {w on the sphere : y_μ w·x_μ > 0 ∀μ},
  drawn by a billiard in the version space (see :func:`billiard_in_version_space`).
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
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import optimize

from statmech_nn import theory
from statmech_nn.errors import InputError
from statmech_nn.io import labelled
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
N_STUDENTS = 2  # students per training set: their mutual overlap is q


@dataclass(frozen=True)
class Problems:
    """``n`` teacher–student sets: unit teachers (n, N), inputs (n, P, N), labels (n, P)."""

    teacher: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def constraints(self) -> np.ndarray:
        """Rows a_μ = y_μ x_μ/|x_μ| (n, P, N): w is consistent with the set iff a_μ·w > 0 ∀μ."""
        a = self.y[..., None] * self.x
        return a / np.linalg.norm(a, axis=-1, keepdims=True)


def teacher_student_problems(n: int, P: int, N: int, rng: np.random.Generator) -> Problems:
    """``n`` independent training sets of P Gaussian inputs labelled by a random unit teacher."""
    teacher = rng.standard_normal((n, N))
    teacher /= np.linalg.norm(teacher, axis=-1, keepdims=True)
    x = rng.standard_normal((n, P, N))
    y = np.sign(np.einsum("tpn,tn->tp", x, teacher))
    return Problems(teacher, x, y)


def hebb_students(problems: Problems) -> np.ndarray:
    """The Hebb rule w = Σ_μ y_μ x_μ for every training set, shape (n, 1, N)."""
    return np.einsum("tp,tpn->tn", problems.y, problems.x)[:, None, :]


def perceptron_students(
    problems: Problems,
    n_students: int,
    max_epochs: int,
    rng: np.random.Generator,
    block: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Rosenblatt's perceptron algorithm, all training sets and students at once.

    Each student starts at w = 0 and cycles through the examples in its own
    random order, adding y_μ x_μ whenever y_μ w·x_μ ≤ 0, until P consecutive
    examples pass without a mistake (a full cycle: zero training error; for
    separable data this happens after finitely many updates, Novikoff 1962) or
    after ``max_epochs`` cycles. Examples before a student's next mistake leave
    w unchanged, so each step looks ``block`` examples ahead at once and jumps
    to the first mistake. Returns the weights (n, n_students, N) and whether
    each student converged (n, n_students).
    """
    n, P, N = problems.x.shape
    a = (problems.y[..., None] * problems.x).reshape(n * P, N)
    order = rng.permuted(np.broadcast_to(np.arange(P), (n, n_students, P)), axis=-1)
    order += (np.arange(n) * P)[:, None, None]  # rows of a viewed as (n·P, N)
    chains = np.arange(n * n_students)
    order = order.reshape(n * n_students, P)
    w = np.zeros((n * n_students, N))
    position = np.zeros(n * n_students, dtype=np.int64)  # examples visited so far
    clean = np.zeros(n * n_students, dtype=np.int64)  # consecutive examples without mistake
    converged = np.zeros(n * n_students, dtype=bool)
    ahead = np.arange(block)
    while True:
        running = ~converged & (position < max_epochs * P)
        if not running.any():
            break
        c = chains[running]
        x = a[order[c[:, None], (position[c, None] + ahead) % P]]  # (chains, block, N)
        wrong = np.einsum("cbn,cn->cb", x, w[c]) <= 0
        first = np.where(wrong.any(axis=-1), wrong.argmax(axis=-1), block)
        done = clean[c] + first >= P
        converged[c[done]] = True
        update = (first < block) & ~done
        u = c[update]
        w[u] += x[update, first[update]]
        position[c] += np.minimum(first + 1, block)
        clean[c] = np.where(update, 0, clean[c] + block)
    return w.reshape(n, n_students, N), converged.reshape(n, n_students)


def max_stability_students(problems: Problems) -> np.ndarray:
    """The maximal-stability perceptron: min |w| subject to y_μ w·x_μ ≥ 1, shape (n, 1, N).

    Solved exactly as a least-distance programme (Lawson & Hanson ch. 23): with
    E = [Aᵀ; 1ᵀ] and f = (0, …, 0, 1), the non-negative least-squares solution
    u of min |E u − f| gives r = E u − f and w = −r_{:N}/r_N. One NNLS per set
    (scipy has no batched solver); each takes milliseconds at N ≈ 100.
    """
    n, P, N = problems.x.shape
    a = problems.y[..., None] * problems.x
    f = np.zeros(N + 1)
    f[-1] = 1.0
    w = np.empty((n, 1, N))
    for t in range(n):
        e = np.vstack([a[t].T, np.ones((1, P))])
        u, _ = optimize.nnls(e, f, maxiter=50 * (P + N))
        r = e @ u - f
        w[t, 0] = -r[:N] / r[N]
    return w


def _random_tangent(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors uniform on the great sphere orthogonal to each unit w (..., N)."""
    g = rng.standard_normal(w.shape)
    g -= np.sum(g * w, axis=-1, keepdims=True) * w
    return g / np.linalg.norm(g, axis=-1, keepdims=True)


@dataclass(frozen=True)
class BilliardRun:
    """Gibbs samples and centre-of-mass estimates (n, chains, N) with per-chain diagnostics."""

    gibbs: np.ndarray
    centre: np.ndarray
    finished: np.ndarray
    events: np.ndarray
    refreshes: np.ndarray


def billiard_in_version_space(
    problems: Problems,
    n_chains: int,
    refreshes: float,
    burn_in: float,
    free_paths_per_refresh: float,
    rng: np.random.Generator,
    pilot_events: int = 32,
) -> BilliardRun:
    """Uniform samples and the centre of mass of the version space by a spherical billiard.

    A point w moves on the unit sphere along great circles with unit tangent
    velocity v and reflects specularly (v ← v − 2(v·a)a) off the walls a_μ·w = 0;
    the velocity is redrawn uniformly at the events of a Poisson process in path
    length (mean τ). The reflected geodesic flow preserves the uniform measure on
    the version space and the refreshes make it ergodic (the "billiard walk" of
    Gryazina & Polyak 2014, here on the sphere as in Ruján 1997), so w at any
    fixed path length is a uniform sample once the start is forgotten.

    Chains start at the teacher, which lies inside. ``pilot_events`` of pure
    billiard measure the mean free path ℓ of each chain, which fixes
    τ = ``free_paths_per_refresh`` · ℓ and the path length L = ``refreshes`` · τ
    run after the pilot. Then:

    - the Gibbs sample is w at path length exactly L (a fixed time, so it is
      unbiased; sampling at the last refresh before an event budget would not be);
    - the centre of mass is the time average of w over the arcs after the first
      ``burn_in`` fraction of L, using ∫_0^θ (w cos u + v sin u) du = w sin θ + v (1 − cos θ).

    One event (a reflection, a refresh or the end) costs one product A v
    (P·N per chain), vectorised over sets and chains. Along an arc
    w(θ) = w cos θ + v sin θ the margin m_μ cos θ + s_μ sin θ (m = A w > 0,
    s = A v) first vanishes at θ_μ = π/2 + arctan(s_μ/m_μ), so the next wall
    is the one with the least s/m. A chain still running after ten times the
    expected number of events is stopped and marked unfinished.
    """
    a = problems.constraints
    n, P, N = a.shape
    w = np.repeat(problems.teacher[:, None, :], n_chains, axis=1)
    v = _random_tangent(w, rng)
    m = np.einsum("tpn,tcn->tcp", a, w)
    rows, cols = np.arange(n)[:, None], np.arange(n_chains)[None, :]
    to_refresh = np.full((n, n_chains), np.inf)  # no refreshes during the pilot
    to_end = np.full((n, n_chains), np.inf)
    to_average = np.full((n, n_chains), np.inf)
    pilot_path = np.zeros((n, n_chains))
    tau = np.ones((n, n_chains))
    centre = np.zeros_like(w)
    events = np.zeros((n, n_chains), dtype=np.int64)
    n_refreshes = np.zeros((n, n_chains), dtype=np.int64)
    running = np.ones((n, n_chains), dtype=bool)
    max_events = pilot_events + int(10 * refreshes * (free_paths_per_refresh + 1))
    for event in range(max_events):
        if event == pilot_events:
            tau = free_paths_per_refresh * pilot_path / pilot_events
            to_refresh = rng.exponential(tau)
            to_end = refreshes * tau
            to_average = burn_in * to_end
        s = np.einsum("tpn,tcn->tcp", a, v)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.nan_to_num(s / m, nan=np.inf, posinf=np.inf)
        wall = ratio.argmin(axis=-1)
        to_wall = np.pi / 2 + np.arctan(np.take_along_axis(ratio, wall[..., None], -1)[..., 0])
        theta = np.where(running, np.minimum(np.minimum(to_wall, to_refresh), to_end), 0.0)
        hit = running & (to_wall <= theta)
        refresh = running & ~hit & (to_refresh <= theta)
        cos, sin = np.cos(theta)[..., None], np.sin(theta)[..., None]
        averaging = (to_average <= 0.0)[..., None]
        centre += np.where(averaging, w * sin + v * (1.0 - cos), 0.0)
        w, v = w * cos + v * sin, v * cos - w * sin
        m = np.maximum(m * cos + s * sin, 0.0)
        m[rows, cols, wall] = np.where(hit, 0.0, m[rows, cols, wall])
        if event < pilot_events:
            pilot_path += theta
        to_refresh, to_end, to_average = to_refresh - theta, to_end - theta, to_average - theta
        normal = a[rows, wall]
        v = np.where(hit[..., None], v - 2.0 * np.sum(v * normal, -1, keepdims=True) * normal, v)
        if refresh.any():
            v = np.where(refresh[..., None], _random_tangent(w, rng), v)
            to_refresh = np.where(refresh, rng.exponential(tau), to_refresh)
        events += running
        n_refreshes += refresh
        running &= to_end > 0.0
        if not running.any():
            break
        if event % 64 == 63:  # undo round-off drift off the sphere and in the margins
            w /= np.linalg.norm(w, axis=-1, keepdims=True)
            v -= np.sum(v * w, -1, keepdims=True) * w
            v /= np.linalg.norm(v, axis=-1, keepdims=True)
            m = np.maximum(np.einsum("tpn,tcn->tcp", a, w), 0.0)
    return BilliardRun(w, centre, ~running, events, n_refreshes)


def teacher_overlap(students: np.ndarray, teacher: np.ndarray) -> np.ndarray:
    """R = w·w*/(|w||w*|) for students (n, S, N) and unit teachers (n, N), shape (n, S)."""
    return np.einsum("tsn,tn->ts", students, teacher) / np.linalg.norm(students, axis=-1)


def student_overlap(students: np.ndarray) -> np.ndarray:
    """q = w_1·w_2/(|w_1||w_2|) between the first two students of each set, shape (n,)."""
    unit = students / np.linalg.norm(students, axis=-1, keepdims=True)
    return np.einsum("tn,tn->t", unit[:, 0], unit[:, 1])


def training_error(students: np.ndarray, problems: Problems) -> np.ndarray:
    """Fraction of training examples with y_μ w·x_μ ≤ 0, shape (n, S)."""
    margins = np.einsum("tpn,tsn->tsp", problems.y[..., None] * problems.x, students)
    return np.mean(margins <= 0, axis=-1)


def _outcome(
    algorithm: str, problems: Problems, max_epochs: int, billiard: BilliardRun | None, rng
) -> tuple[np.ndarray, ...]:
    """Teacher overlaps (n, S), student overlap q (n,), training error (n,), finished (n,)."""
    n = problems.x.shape[0]
    finished = np.ones(n, dtype=bool)
    if algorithm == "bayes":  # one student per set: the centre of mass from both chains
        pooled = billiard.centre.sum(axis=1, keepdims=True)
        return (
            teacher_overlap(pooled, problems.teacher),
            student_overlap(billiard.centre),
            training_error(pooled, problems)[:, 0],
            billiard.finished.all(axis=-1),
        )
    if algorithm == "gibbs":
        students, finished = billiard.gibbs, billiard.finished.all(axis=-1)
    elif algorithm == "perceptron":
        students, done = perceptron_students(problems, N_STUDENTS, max_epochs, rng)
        finished = done.all(axis=-1)
    else:  # deterministic rules: one student per set, q = 1 by construction
        rule = {"max_stability": max_stability_students, "hebb": hebb_students}[algorithm]
        students = np.repeat(rule(problems), N_STUDENTS, axis=1)
    return (
        teacher_overlap(students, problems.teacher),
        student_overlap(students),
        training_error(students, problems).mean(axis=-1),
        finished,
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
            r, q[i, j], train_err[i, j], finished[i, j] = _outcome(
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


def separable(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether some w ≠ 0 has y_μ w·x_μ > 0 for all μ (a hyperplane through the origin).

    Solved as the linear programme max κ s.t. y_μ w·x_μ ≥ κ, −1 ≤ w_i ≤ 1, κ ≤ 1
    (HiGHS dual simplex). It is always feasible (w = 0, κ = 0) and bounded, so it
    never ends in the numerically fragile "infeasible" branch; the labels are
    separable iff the optimal κ > 0 (it is exactly 0 otherwise).
    """
    P, N = x.shape
    cost = np.zeros(N + 1)
    cost[-1] = -1.0
    a_ub = np.hstack([-(y[:, None] * x), np.ones((P, 1))])
    res = optimize.linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.zeros(P),
        bounds=[(-1.0, 1.0)] * N + [(None, 1.0)],
        method="highs-ds",
    )
    if res.status != 0:
        raise RuntimeError(f"linprog failed on a separability problem: {res.message}")
    return bool(-res.fun > 1e-9)


def separable_fraction(P: int, N: int, n_trials: int, rng: np.random.Generator) -> np.ndarray:
    """Separability (n_trials,) of random ±1 labels of P standard Gaussian points in R^N."""
    x = rng.standard_normal((n_trials, P, N))
    y = rng.choice([-1.0, 1.0], size=(n_trials, P))
    return np.array([separable(x[t], y[t]) for t in range(n_trials)])


def capacity_sweep(
    N: Sequence[int], alpha: Sequence[float], n_trials: int, seed: int
) -> xr.Dataset:
    """Fraction of random-label problems linearly separable vs α = P/N at several N.

    One LP per problem (see :func:`separable`); problems at (N, P) come from a
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
