"""Perceptron students (arrays in and out): Hebb, Rosenblatt's perceptron algorithm and the
maximal-stability perceptron (Lawson & Hanson, "Solving Least Squares Problems", 1974,
ch. 23: least-distance programming); :func:`student_outcome` gives any algorithm's students,
the Gibbs and Bayes ones from a :class:`.billiard.BilliardRun`, with R, q and training error.
"""

import numpy as np
from scipy import optimize

from statmech_nn.perceptron.billiard import BilliardRun
from statmech_nn.perceptron.problems import (
    Problems,
    student_overlap,
    teacher_overlap,
    training_error,
)

N_STUDENTS = 2  # students per training set: their mutual overlap is q


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


def student_outcome(
    algorithm: str, problems: Problems, max_epochs: int, billiard: BilliardRun | None, rng
) -> tuple[np.ndarray, ...]:
    """The students of ``algorithm`` on every set and what is measured on them: teacher
    overlaps (n, S), student overlap q (n,), training error (n,), finished (n,)."""
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
