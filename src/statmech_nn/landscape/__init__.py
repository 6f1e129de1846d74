"""Loss-landscape slices: the loss on θ₀ + Σⱼ cⱼ dⱼ over a line (k = 1) or plane (k = 2).

Kernels (tensors in and out): :mod:`.directions` (random with filter
normalisation, scaled eigenvectors, PCA of a trajectory), :mod:`.grid` (batched
grid and path evaluation for any network; :mod:`.mlp_grid` the MLP's fast path),
:mod:`.curvature` (projected curvature κ(δ) = δᵀHδ/|δ|², whose mean over random
δ is tr H / P: random slices show the mean curvature; Böttcher & Wheeler,
J. Stat. Mech. 2024), :mod:`.budget` (chunk sizes). Study assembly (config and
training files in, labelled Datasets out): :mod:`.study`.
"""

from statmech_nn.landscape.budget import chunk_size, memory_per_point
from statmech_nn.landscape.curvature import (
    LossFn,
    ProjectedCurvatures,
    curvature_statistics,
    grid_curvature,
    model_loss,
    plane_curvatures,
    projected_curvatures,
)
from statmech_nn.landscape.directions import (
    BIAS_MODES,
    NORMALISATIONS,
    normalisation_groups,
    normalise_direction,
    orthogonalise_within_groups,
    pca_directions,
    random_directions,
    scale_direction,
)
from statmech_nn.landscape.grid import (
    GridValues,
    evaluate_grid,
    interpolate,
    line,
    plane,
)
from statmech_nn.landscape.study import (
    AXIS_KINDS,
    AXIS_NAMES,
    curvature_study,
    healthy_replicas,
    hessian_eigenvectors,
    slice_dataset,
    slice_study,
)

__all__ = [
    "NORMALISATIONS",
    "BIAS_MODES",
    "normalisation_groups",
    "normalise_direction",
    "orthogonalise_within_groups",
    "random_directions",
    "scale_direction",
    "pca_directions",
    "memory_per_point",
    "chunk_size",
    "GridValues",
    "evaluate_grid",
    "line",
    "interpolate",
    "plane",
    "LossFn",
    "ProjectedCurvatures",
    "projected_curvatures",
    "plane_curvatures",
    "model_loss",
    "curvature_statistics",
    "grid_curvature",
    "AXIS_KINDS",
    "AXIS_NAMES",
    "slice_dataset",
    "healthy_replicas",
    "hessian_eigenvectors",
    "slice_study",
    "curvature_study",
]
