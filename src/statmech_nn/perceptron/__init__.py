"""Teacher–student perceptron with spherical weights: students, learning curves, capacity.

Kernels (arrays in and out): :mod:`.problems` (teacher–student sets, overlaps,
training error), :mod:`.students` (Hebb, Rosenblatt, maximal stability),
:mod:`.billiard` (Gibbs and Bayes students from a billiard in the version space),
:mod:`.capacity` (separability of random labels by a linear programme). Study
assembly (config values in, labelled Dataset out): :mod:`.study`, whose
docstring lists the students and the theory each is held against.
"""

from statmech_nn.perceptron.billiard import BilliardRun, billiard_in_version_space
from statmech_nn.perceptron.capacity import separable, separable_fraction
from statmech_nn.perceptron.problems import (
    Problems,
    student_overlap,
    teacher_overlap,
    teacher_student_problems,
    training_error,
)
from statmech_nn.perceptron.students import (
    N_STUDENTS,
    hebb_students,
    max_stability_students,
    perceptron_students,
    student_outcome,
)
from statmech_nn.perceptron.study import (
    ALGORITHMS,
    THEORY,
    THEORY_NOTE,
    capacity_sweep,
    learning_curves,
)

__all__ = [
    "Problems",
    "teacher_student_problems",
    "teacher_overlap",
    "student_overlap",
    "training_error",
    "hebb_students",
    "perceptron_students",
    "max_stability_students",
    "N_STUDENTS",
    "student_outcome",
    "BilliardRun",
    "billiard_in_version_space",
    "separable",
    "separable_fraction",
    "ALGORITHMS",
    "THEORY",
    "THEORY_NOTE",
    "learning_curves",
    "capacity_sweep",
]
