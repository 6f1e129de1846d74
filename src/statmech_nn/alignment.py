"""Weight matching: the permutation of b's hidden units (or channels) that aligns it to a.

Hidden units of an MLP (channels of a CNN) can be permuted without changing its
function, so raw overlaps of independently trained networks are small even for
equivalent solutions. Weight matching (Ainsworth, Hayase & Srinivasa, "Git
Re-Basin", ICLR 2023, §3.1) looks for permutations P_l of the hidden units of b
that maximise Σ_l ⟨W_l^a, P_l W_l^b P_{l−1}ᵀ⟩ + ⟨b_l^a, P_l b_l^b⟩ = ⟨θa, π(θb)⟩;
with the other layers fixed the problem for one P_l is a linear assignment
(:func:`scipy.optimize.linear_sum_assignment`), so the layers are updated in turn
(coordinate ascent) until no layer gains, from several starts and layer orders.
π permutes the rows of W_l and b_l and the columns of W_{l+1}: the network
function is unchanged. Any network's :class:`~statmech_nn.nets.PermutationSpec`
says which axes a group permutes.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

from statmech_nn.nets import Network

Permutation = dict[str, np.ndarray]  # permutation group -> index array


def identity_permutation(model: Network) -> Permutation:
    """No unit moved: one identity per permutation group of the network."""
    return {g: np.arange(_group_size(model, g)) for g in _groups(model)}


def _groups(model: Network) -> dict[str, tuple[tuple[str, int], ...]]:
    return model.permutation.axes if model.permutation is not None else {}


def _group_size(model: Network, group: str) -> int:
    name, axis = model.permutation.axes[group][0]
    return model.shapes[name][axis]


def _permuted(tensor, axes: dict[int, str], perm: Permutation, skip: str | None = None):
    """``tensor`` with every permuted axis (counted from the end: leading dims may come
    first) reordered by its group's permutation, except group ``skip``; NumPy or torch."""
    for axis, group in axes.items():
        if group == skip:
            continue
        if isinstance(tensor, np.ndarray):
            tensor = np.take(tensor, perm[group], axis=axis)
        else:
            tensor = tensor.index_select(axis, torch.as_tensor(perm[group], device=tensor.device))
    return tensor


def _from_end(model: Network, name: str, axes: dict[int, str]) -> dict[int, str]:
    ndim = len(model.shapes[name])
    return {axis - ndim: group for axis, group in axes.items()}


def permute(
    model: Network, theta: torch.Tensor, perm: Permutation | Sequence[np.ndarray]
) -> torch.Tensor:
    """θ (..., P) with hidden units permuted: for every group, the rows of the layer that
    makes the units and the columns of the layer that reads them (its spec's axes).

    Unit i of the result is unit perm[group][i] of θ; the function is unchanged. ``perm``
    maps groups to index arrays, or lists the arrays in the groups' order (an MLP's
    hidden layers in order).
    """
    if not isinstance(perm, Mapping):
        perm = dict(zip(_groups(model), perm, strict=True))
    params = dict(model.unflatten(theta))
    axes = model.permutation.by_tensor() if model.permutation is not None else {}
    for name, tensor_axes in axes.items():
        params[name] = _permuted(params[name], _from_end(model, name, tensor_axes), perm)
    return model.flatten(params)


def matching_objective(theta_a: torch.Tensor, theta_b: torch.Tensor) -> torch.Tensor:
    """Σ_l ⟨W_l^a, W_l^b⟩ + ⟨b_l^a, b_l^b⟩ = ⟨θa, θb⟩, the weight-matching objective (...)."""
    return (theta_a * theta_b).sum(-1)


def permutation_index(model: Network, perm: Permutation | Sequence[np.ndarray]) -> torch.Tensor:
    """Flat index (P,) with ``permute(model, θ, perm) == θ[..., index]`` for every θ."""
    return permute(model, torch.arange(model.n_params), perm)


def _numpy_layers(model: Network, theta: torch.Tensor) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().double().numpy() for k, v in model.unflatten(theta).items()}


def weight_matching(
    model: Network, theta_a: torch.Tensor, theta_b: torch.Tensor, max_sweeps: int = 100
) -> tuple[Permutation, int]:
    """Permutations of b's hidden units maximising ⟨θa, π(θb)⟩ (Git Re-Basin weight matching).

    Coordinate ascent: one linear assignment per permutation group with the
    others fixed, repeated until a full sweep changes no permutation (or
    ``max_sweeps`` sweeps). Each step solves its sub-problem exactly, so the
    objective never decreases, but the ascent can stop in a local optimum. It
    is therefore run from two starts (the identity, and a greedy pass that
    matches each group on the layers below it alone, exact for a permuted copy)
    with the groups in order and in :data:`MATCHING_RESTARTS` seeded random
    orders per sweep (Ainsworth et al. shuffle the layers); the best objective
    wins (the first on ties). θ are single vectors (P,). Returns the
    permutations (see :func:`permute`) and the winning run's number of sweeps.
    """
    if not _groups(model):
        return {}, 0
    return _match_layers(
        model, _numpy_layers(model, theta_a), _numpy_layers(model, theta_b), max_sweeps
    )


# coordinate-ascent runs per start with the groups in a seeded random order each sweep, on top
# of the one in spec order; label-independent, so the matching stays permutation-equivariant
MATCHING_RESTARTS = 3


def _match_layers(
    model: Network, pa: dict[str, np.ndarray], pb: dict[str, np.ndarray], max_sweeps: int
) -> tuple[Permutation, int]:
    """:func:`weight_matching` on the float64 NumPy tensors of θa and θb: the best of the
    coordinate-ascent runs, each from a start (identity, greedy) in a group order."""
    starts, restarts = [identity_permutation(model)], 0
    if len(_groups(model)) > 1:  # one group: its first assignment is the global optimum
        starts.append(_greedy_start(model, pa, pb))
        restarts = MATCHING_RESTARTS
    best = None
    for start in starts:
        for restart in range(restarts + 1):  # 0: groups in spec order
            shuffle = np.random.default_rng(restart) if restart else None
            perm, sweeps = _ascend(model, pa, pb, dict(start), shuffle, max_sweeps)
            value = _matched_objective(model, pa, pb, perm)
            if best is None or value > best[0] + 1e-12 * max(abs(best[0]), 1.0):
                best = (value, perm, sweeps)
    return best[1], best[2]


def _assignment_cost(model, pa, pb, perm: Permutation, group: str, pairs) -> np.ndarray:
    """Cost of group g's assignment: Σ over the (tensor, axis) pairs of A_t · B_tᵀ, both
    tensors unfolded along that axis, B_t with its other permuted axes already reordered
    by the current permutations of their groups."""
    by_tensor = model.permutation.by_tensor()
    size = len(perm[group])
    cost = np.zeros((size, size))
    for name, axis in pairs:
        wb = _permuted(pb[name], _from_end(model, name, by_tensor[name]), perm, group)
        a_rows = np.moveaxis(pa[name], axis, 0).reshape(size, -1)
        cost += a_rows @ np.moveaxis(wb, axis, 0).reshape(size, -1).T
    return cost


def _greedy_start(model: Network, pa, pb) -> Permutation:
    """Groups in order, each matched only on the tensors whose other permuted axes belong to
    groups matched before it (an MLP layer's rows given the layers below): for b = π(a)
    this recovers π⁻¹ exactly, layer by layer."""
    by_tensor = model.permutation.by_tensor()
    perm, done = identity_permutation(model), set()
    for group, pairs in _groups(model).items():
        known = [(n, ax) for n, ax in pairs if set(by_tensor[n].values()) - {group} <= done]
        cost = _assignment_cost(model, pa, pb, perm, group, known or pairs)
        perm[group] = linear_sum_assignment(cost, maximize=True)[1]
        done.add(group)
    return perm


def _ascend(
    model: Network, pa, pb, perm: Permutation, shuffle: np.random.Generator | None, max_sweeps: int
) -> tuple[Permutation, int]:
    """Coordinate ascent from ``perm`` until a sweep changes nothing, the groups in spec
    order or, with ``shuffle``, in a new random order each sweep: (permutations, sweeps)."""
    pairs_of = _groups(model)
    groups = list(pairs_of)
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):  # noqa: B007 - the count is returned
        changed = False
        order = groups if shuffle is None else [groups[i] for i in shuffle.permutation(len(groups))]
        for group in order:
            cost = _assignment_cost(model, pa, pb, perm, group, pairs_of[group])
            _, col = linear_sum_assignment(cost, maximize=True)
            rows = np.arange(len(col))
            gain = cost[rows, col].sum() - cost[rows, perm[group]].sum()
            if gain > 1e-12 * max(abs(cost).sum(), 1.0) and not np.array_equal(col, perm[group]):
                perm[group] = col
                changed = True
        if not changed:
            break
    return perm, sweeps


def _matched_objective(model: Network, pa, pb, perm: Permutation) -> float:
    """⟨θa, π(θb)⟩ over the permuted tensors (the others add the same constant to every π)."""
    by_tensor = model.permutation.by_tensor()
    return sum(
        float((pa[n] * _permuted(pb[n], _from_end(model, n, axes), perm)).sum())
        for n, axes in by_tensor.items()
    )


def align_pairs(
    model: Network, theta: torch.Tensor, a: np.ndarray, b: np.ndarray, with_index: bool = False
):
    """π_ab(θb) aligned to θa for every pair: (n_pairs, P), and the sweeps per pair.

    Each replica's tensors are converted to float64 NumPy once, not once per
    pair; the assignments are solved pair by pair (SciPy), and all pairs are
    permuted in one gather. The cost matrices are width × width: NumPy's BLAS
    runs on one thread here (its threads spin-wait on a busy machine and made
    alignment 30× slower). Without a permutation structure, b is returned as is.
    ``with_index``: also the flat index (n_pairs, P) of each pair's permutation.
    """
    if not _groups(model) or len(a) == 0:
        same = torch.arange(theta.shape[-1], device=theta.device).expand(len(a), -1)
        return (theta[b], np.zeros(len(a), dtype=int)) + ((same,) if with_index else ())
    layers = [_numpy_layers(model, th) for th in theta]
    index, sweeps = [], []
    with threadpool_limits(1, user_api="blas"):
        for i, j in zip(a, b, strict=True):
            perm, n = _match_layers(model, layers[i], layers[j], max_sweeps=100)
            index.append(permutation_index(model, perm))
            sweeps.append(n)
    index = torch.stack(index).to(theta.device)
    aligned = theta[torch.as_tensor(b, device=theta.device)].gather(-1, index)
    return (aligned, np.asarray(sweeps)) + ((index,) if with_index else ())
