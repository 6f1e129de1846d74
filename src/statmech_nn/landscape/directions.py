"""Directions of loss-landscape slices: random with filter normalisation, scaled, PCA.

Random Gaussian directions are rescaled per normalisation group (Li et al.,
"Visualizing the loss landscape of neural nets", NeurIPS 2018): ``filter``
makes every row of every weight matrix (every output channel of a convolution)
as long as the matching row of θ, ``layer`` every tensor, ``global`` the whole
vector (|d| = |θ|), ``unit`` gives |d| = 1; 1-D tensors (biases, normalisation
scales) are zeroed or normalised as one group each (``bias``).

Two random axes are made orthogonal *within every normalisation group* before
the groups are rescaled: rescaling a group by a positive number keeps the
group's inner product zero, so the pair stays exactly orthogonal after
normalisation (global orthogonalisation followed by per-filter rescaling does
not, a known bug of existing tools).
"""

import math

import torch

from statmech_nn.errors import InputError
from statmech_nn.nets import Network

NORMALISATIONS = ("filter", "layer", "global", "unit")


BIAS_MODES = ("zero", "normalise")


def normalisation_groups(model: Network, normalisation: str, bias: str) -> tuple[torch.Tensor, int]:
    """Group id of every flat parameter for ``normalisation`` and the number of groups.

    ``filter``: one group per row (output unit) of each weight matrix and per output
    channel (filter) of each convolution kernel; ``layer``:
    one per tensor; ``global`` and ``unit``: one for everything. 1-D tensors
    (biases, and the scales and shifts of normalisation layers) form one group
    each when ``bias == "normalise"``; with ``"zero"`` (Li et al.'s choice) they
    get the id ``n_groups`` (outside every group), which the normalisation sets
    to zero.
    """
    if normalisation not in NORMALISATIONS:
        raise InputError(f"normalisation {normalisation!r}: expected one of {NORMALISATIONS}")
    if bias not in BIAS_MODES:
        raise InputError(f"bias {bias!r}: expected one of {BIAS_MODES}")
    ids: list[torch.Tensor] = []
    n_groups = 1 if normalisation in ("global", "unit") else 0
    for shape in model.shapes.values():
        size = math.prod(shape)
        if len(shape) == 1 and bias == "zero":
            ids.append(torch.full((size,), -1))
        elif normalisation in ("global", "unit"):
            ids.append(torch.zeros(size, dtype=torch.long))
        elif normalisation == "filter" and len(shape) >= 2:
            ids.append(n_groups + torch.arange(shape[0]).repeat_interleave(size // shape[0]))
            n_groups += shape[0]
        else:  # a whole tensor: layer normalisation, or a 1-D tensor under filter
            ids.append(torch.full((size,), n_groups))
            n_groups += 1
    gid = torch.cat(ids)
    return torch.where(gid < 0, n_groups, gid), n_groups


def _group_sums(v: torch.Tensor, gid: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Sums of ``v`` (..., P) over each group: (..., n_groups + 1), last = excluded entries."""
    out = v.new_zeros(*v.shape[:-1], n_groups + 1)
    return out.index_add_(-1, gid.to(v.device), v)


def normalise_direction(
    model: Network, d: torch.Tensor, theta: torch.Tensor, normalisation: str, bias: str = "zero"
) -> torch.Tensor:
    """Rescale every group of ``d`` (..., P) to the norm of the same group of ``theta``.

    Filter normalisation (Li et al. 2018): dᵢ ← dᵢ |θᵢ| / |dᵢ| for every row i
    of every weight matrix. ``unit`` rescales the whole vector to |d| = 1.
    Groups where d or θ vanish become zero; so do biases with ``bias="zero"``.
    """
    gid, n = normalisation_groups(model, normalisation, bias)
    d_norm = _group_sums(d * d, gid, n).sqrt()
    if normalisation == "unit":
        target = torch.ones_like(d_norm)
    else:
        target = _group_sums(theta * theta, gid, n).sqrt().expand_as(d_norm)
    scale = torch.where(d_norm > 0, target / d_norm.clamp_min(torch.finfo(d.dtype).tiny), 0.0)
    scale[..., n] = 0.0
    return d * scale[..., gid.to(d.device)]


def orthogonalise_within_groups(
    model: Network, d: torch.Tensor, against: torch.Tensor, normalisation: str, bias: str = "zero"
) -> torch.Tensor:
    """Remove from every group of ``d`` its projection on the same group of ``against``.

    Afterwards ⟨d_g, against_g⟩ = 0 for every group g, so any positive per-group
    rescaling (filter, layer or global normalisation) keeps ⟨d, against⟩ = 0.
    A one-element group cannot be orthogonal and non-zero: there d becomes 0.
    """
    gid, n = normalisation_groups(model, normalisation, bias)
    dot = _group_sums(d * against, gid, n)
    sq = _group_sums(against * against, gid, n)
    coef = torch.where(sq > 0, dot / sq.clamp_min(torch.finfo(d.dtype).tiny), 0.0)
    return d - coef[..., gid.to(d.device)] * against


def random_directions(
    model: Network,
    theta: torch.Tensor,
    k: int,
    normalisation: str = "filter",
    bias: str = "zero",
    generator: torch.Generator | None = None,
    against: torch.Tensor | None = None,
) -> torch.Tensor:
    """``k`` Gaussian directions (..., k, P) per θ (..., P), normalised and mutually orthogonal.

    Direction j is drawn from N(0, I), made orthogonal within every
    normalisation group to the earlier ones (and to the rows of ``against``,
    (..., m, P), if given) and then normalised (:func:`normalise_direction`).
    """
    shape = (*theta.shape[:-1], k, theta.shape[-1])
    raw = torch.randn(shape, generator=generator, dtype=torch.float64).to(theta)
    # Gram–Schmidt within every group: the basis stays orthogonal group by group, so
    # projecting on its vectors one after the other removes the whole span per group
    # (rows of ``against`` orthogonal only as whole vectors are not, group by group)
    basis: list[torch.Tensor] = []

    def residual(v: torch.Tensor) -> torch.Tensor:
        for b in basis:
            v = orthogonalise_within_groups(model, v, b, normalisation, bias)
        return v

    for row in [] if against is None else against.unbind(-2):
        basis.append(residual(row))
    out = []
    gid, n = normalisation_groups(model, normalisation, bias)
    for j in range(k):
        d = residual(raw[..., j, :])
        # a group the basis already fills keeps only rounding noise: zero, not rescaled noise
        drawn = _group_sums(raw[..., j, :] ** 2, gid, n)
        filled = _group_sums(d * d, gid, n) <= 1e-20 * drawn
        d = torch.where(filled[..., gid.to(d.device)], 0.0, d)
        d = normalise_direction(model, d, theta, normalisation, bias)
        basis.append(d)
        out.append(d)
    return torch.stack(out, dim=-2)


def scale_direction(d: torch.Tensor, theta: torch.Tensor, normalisation: str) -> torch.Tensor:
    """Rescale a given direction (eigenvector, principal component) as a whole.

    ``unit``: |d| = 1; otherwise |d| = |θ| (per-group normalisation would destroy
    the eigenvector property, so filter and layer act globally here).
    """
    target = 1.0 if normalisation == "unit" else theta.norm(dim=-1, keepdim=True)
    return d * (target / d.norm(dim=-1, keepdim=True))


def pca_directions(snapshots: torch.Tensor, final: torch.Tensor, k: int = 2):
    """Top-``k`` principal directions of a training trajectory (Li et al. 2018, §7).

    ``snapshots`` (..., S, P) are parameters along training, ``final`` (..., P)
    the trained point; the rows θₛ − θ_final are centred and decomposed by SVD.
    Returns unit directions (..., k, P) and the explained variance ratios (..., k).
    """
    diff = snapshots - final.unsqueeze(-2)
    diff = diff - diff.mean(dim=-2, keepdim=True)
    _, s, vh = torch.linalg.svd(diff, full_matrices=False)
    var = s**2
    ratio = var[..., :k] / var.sum(-1, keepdim=True).clamp_min(torch.finfo(var.dtype).tiny)
    # fix the sign (largest-magnitude entry positive) so reruns agree
    v = vh[..., :k, :]
    sign = torch.sign(v.gather(-1, v.abs().argmax(-1, keepdim=True)))
    return v * sign, ratio
