"""Teacher–student problems for the spherical perceptron and the quantities measured on a
student: overlaps R with the teacher and q between students, training error.

A teacher w* drawn uniformly on the unit sphere of R^N labels P = αN standard
Gaussian inputs x_μ by y_μ = sign(w*·x_μ). A student w (any norm) errs on a
fresh input with probability ε = arccos(R)/π, R = w·w*/(|w||w*|), exactly at
every N, so ε is computed from R and needs no test set (Engel & Van den Broeck,
"Statistical Mechanics of Learning", 2001).
"""

from dataclasses import dataclass

import numpy as np


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
