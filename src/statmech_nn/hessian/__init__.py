"""Curvature of a loss over a flat parameter vector: eigenpairs, spectra, traces.

Kernels (tensors in and out): :mod:`.operators` (Hessian-vector products by
forward-over-reverse differentiation, Gauss–Newton products, dense Hessians),
:mod:`.eigen` (extreme, top-k and bottom-k eigenpairs by Lanczos; dense eigh,
the ground truth), :mod:`.traces` (Hutchinson and loss-value traces, stochastic
Lanczos quadrature). Study assembly (config section ``hessian`` in, labelled
Dataset out): :mod:`.study`.
"""

from statmech_nn.hessian.eigen import (
    Eigenpairs,
    dense_eigenpairs,
    eigenpairs,
    extreme_eigenpairs,
    negative_fraction,
)
from statmech_nn.hessian.operators import (
    HVP_MODES,
    Loss,
    MatMat,
    chunked,
    data_chunked,
    dense_hessian,
    dense_matrix,
    ggn_matmat,
    ggn_vp,
    hessian_matmat,
    hvp,
    hvp_batch_size,
    hvp_sample_chunk,
)
from statmech_nn.hessian.problem import BN_STATISTICS, stored_buffers
from statmech_nn.hessian.study import (
    COMPUTATIONS,
    VARIABLES,
    WHICH,
    LossProblem,
    eigenpairs_per_replica,
    hessian_study,
    log,
    stochastic_estimates,
    training_subset,
)
from statmech_nn.hessian.traces import (
    Quadrature,
    TraceEstimate,
    hutchinson_trace,
    lanczos,
    loss_value_trace,
    rademacher,
    slq,
)

__all__ = [
    "Loss",
    "MatMat",
    "hvp",
    "HVP_MODES",
    "hessian_matmat",
    "ggn_vp",
    "ggn_matmat",
    "dense_hessian",
    "dense_matrix",
    "chunked",
    "data_chunked",
    "hvp_sample_chunk",
    "BN_STATISTICS",
    "stored_buffers",
    "hvp_batch_size",
    "Eigenpairs",
    "extreme_eigenpairs",
    "eigenpairs",
    "negative_fraction",
    "dense_eigenpairs",
    "TraceEstimate",
    "rademacher",
    "hutchinson_trace",
    "loss_value_trace",
    "Quadrature",
    "lanczos",
    "slq",
    "log",
    "COMPUTATIONS",
    "WHICH",
    "VARIABLES",
    "LossProblem",
    "training_subset",
    "eigenpairs_per_replica",
    "stochastic_estimates",
    "hessian_study",
]
