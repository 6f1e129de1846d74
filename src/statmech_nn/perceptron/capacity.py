"""Linear separability of random labels (a hyperplane through the origin) by a linear
programme: the kernel of the perceptron's capacity (Cover 1965, Gardner 1988).
"""

import numpy as np
from scipy import optimize


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
