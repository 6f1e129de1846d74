"""Solution-space geometry: overlaps, permutation alignment, barriers and basins.

Overlap of two replicas (cosine similarity of their parameter vectors)
q_ab = ⟨θa, θb⟩ / (|θa| |θb|), in total and per layer (weight and bias of layer
l together); P(q) is the distribution of q over the R(R − 1)/2 pairs a < b.

Hidden units can be permuted without changing the network's function, so raw
overlaps of independently trained networks are small even for equivalent
solutions; :mod:`statmech_nn.alignment` (weight matching, Git Re-Basin) aligns b
to a before the aligned overlaps and barriers.

Barrier along the straight path θ(t) = (1 − t)θa + tθb (Frankle et al., ICML
2020; Draxler et al., ICML 2018): B = max_t L(t) − ½(L(0) + L(1)), before and
after alignment, evaluated by :func:`statmech_nn.landscape.interpolate` for all
pairs at once (the endpoints once per replica). Basins: connected components of
the graph on the replicas whose edges are pairs with aligned barrier below a threshold.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import xarray as xr
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from statmech_nn.alignment import (  # noqa: F401 - the overlap stage's public names
    Permutation,
    align_pairs,
    identity_permutation,
    matching_objective,
    permutation_index,
    permute,
    weight_matching,
)
from statmech_nn.dims import REPLICA
from statmech_nn.errors import InputError
from statmech_nn.hessian.problem import stored_buffers
from statmech_nn.io import labelled
from statmech_nn.landscape import interpolate
from statmech_nn.losses import loss_units, targets
from statmech_nn.nets import Network, network_from_attrs
from statmech_nn.objective import Objective

log = logging.getLogger(__name__)
ALIGNMENTS = ("raw", "aligned")
# basin counts over thresholds from 1e-4 to 10 (loss units), so that a trend in the count is
# not an artefact of one cut placed near the typical barrier
BASIN_THRESHOLDS = np.geomspace(1e-4, 10.0, 21)


# ---------------------------------------------------------------- overlaps


def overlap_matrix(theta: torch.Tensor) -> torch.Tensor:
    """Cosine overlaps q_ab = ⟨θa, θb⟩ / (|θa| |θb|) of replicas θ (..., R, P): (..., R, R)."""
    unit = theta / theta.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(theta.dtype).tiny)
    return unit @ unit.mT


def layer_slices(model: Network) -> list[torch.Tensor]:
    """Flat indices of the parameters of each layer (e.g. its weight and bias), in order."""
    names = np.asarray(model.param_tensor)
    return [torch.as_tensor(np.flatnonzero(np.isin(names, t))) for t in model.layers.values()]


def layer_overlaps(model: Network, theta: torch.Tensor) -> torch.Tensor:
    """Overlap matrices per layer, (n_layers, ..., R, R), from replicas θ (..., R, P)."""
    return torch.stack([overlap_matrix(theta[..., idx]) for idx in layer_slices(model)])


def pair_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Replica indices (a, b) of the upper-triangle pairs a < b, in row-major order."""
    a, b = np.triu_indices(n, k=1)
    return a, b


def pair_values(matrix: torch.Tensor | np.ndarray) -> np.ndarray:
    """Upper-triangle entries (..., R(R − 1)/2) of matrices (..., R, R): the samples of P(q)."""
    m = np.asarray(matrix)
    a, b = pair_indices(m.shape[-1])
    return m[..., a, b]


def pair_overlaps(model: Network, theta_a: torch.Tensor, theta_b: torch.Tensor):
    """Total and per-layer overlaps of paired vectors (..., P): ((...), (n_layers, ...))."""

    def cos(u, v):
        tiny = torch.finfo(u.dtype).tiny
        return (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1)).clamp_min(tiny)

    per_layer = torch.stack([cos(theta_a[..., i], theta_b[..., i]) for i in layer_slices(model)])
    return cos(theta_a, theta_b), per_layer


# ---------------------------------------------------------------- barriers and basins


def barrier(path_loss: torch.Tensor) -> torch.Tensor:
    """B = max_t L(t) − ½(L(0) + L(1)) of losses (..., n_t) on a t grid from 0 to 1."""
    return path_loss.max(-1).values - 0.5 * (path_loss[..., 0] + path_loss[..., -1])


def basins(n: int, a: np.ndarray, b: np.ndarray, barriers: np.ndarray, threshold: float):
    """Connected components of the graph on n replicas with edges a–b where barrier < threshold.

    Returns (number of basins, basin label per replica).
    """
    edge = np.asarray(barriers) < threshold
    graph = coo_matrix((np.ones(edge.sum()), (a[edge], b[edge])), shape=(n, n))
    return connected_components(graph, directed=False)


def path_losses(
    model: Network,
    theta: torch.Tensor,
    a: np.ndarray,
    b: np.ndarray,
    ends: torch.Tensor,
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    memory_mb: float,
    buffers: torch.Tensor | None = None,
    end_buffers: torch.Tensor | None = None,
    weight_decay: float = 0.0,
) -> torch.Tensor:
    """Training loss on the straight paths (1 − t)θa + t·θ'b of pairs (a, b): (..., n_pairs, n_t).

    ``theta`` (R, P) are the replicas; the path of pair k runs from replica
    ``a[k]`` (t = 0) to ``ends[..., k, :]`` (t = 1), replica ``b[k]`` itself or
    with its hidden units permuted (the same function, so the same loss: the
    endpoint losses are those of the replicas, computed once per replica). The
    interior points of all paths go through one batched
    :func:`statmech_nn.landscape.interpolate` call. ``t`` runs from 0 to 1.

    BatchNorm statistics: recomputed at every point, or, with the replicas' running
    statistics ``buffers`` (R, B) and ``end_buffers`` (..., n_pairs, B) (those of the
    ends, channels permuted with them), (1 − t)·buffers_a + t·buffers_end at t
    (``bn_statistics: eval``): the ends are then the trained networks in eval mode.
    ``weight_decay`` wd: the training objective L + (wd/2)‖θ‖² (:mod:`statmech_nn.objective`),
    the function training minimised (barriers are then barriers of the objective).
    """
    a_idx = torch.as_tensor(a, device=theta.device)
    b_idx = torch.as_tensor(b, device=theta.device)
    start_buffers = None if buffers is None else buffers[a_idx]
    interior = interpolate(
        model, theta[a_idx], ends, t[1:-1], x, y, loss, memory_mb, start_buffers, end_buffers,
        weight_decay,
    ).loss  # fmt: skip
    at_replica = interpolate(
        model, theta, theta, t[:1], x, y, loss, memory_mb, buffers, buffers, weight_decay
    ).loss[:, 0]
    lead = interior.shape[:-1]
    start = at_replica[a_idx].expand(lead).unsqueeze(-1)
    end = at_replica[b_idx].expand(lead).unsqueeze(-1)
    return torch.cat([start, interior, end], dim=-1)


# ---------------------------------------------------------------- study (rule level)


@contextmanager
def _timed(part: str) -> Iterator[None]:
    """Log the wall and process time of a part of :func:`overlap_dataset` (rule log, benchmark)."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    log.info(
        "%s: %.2f s wall, %.2f s process",
        part,
        time.perf_counter() - wall,
        time.process_time() - cpu,
    )


def overlap_dataset(
    model: Network,
    theta: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: str,
    replicas: np.ndarray,
    t_points: int,
    barrier_threshold: float,
    memory_mb: float,
    buffers: torch.Tensor | None = None,
    weight_decay: float = 0.0,
) -> xr.Dataset:
    """Overlaps, alignment, path losses, barriers and basins of replicas θ (R, P);
    ``buffers`` (R, B): running statistics for paths in eval mode, ``weight_decay``: the
    objective's L2 term (:func:`path_losses`)."""
    n = theta.shape[0]
    a, b = pair_indices(n)
    with _timed(f"alignment of {len(a)} pairs"):
        aligned_b, sweeps, index = align_pairs(model, theta, a, b, with_index=True)
    t = torch.linspace(0.0, 1.0, t_points, dtype=theta.dtype)
    pairs_b = torch.stack([theta[b], aligned_b])  # (alignment, pair, P)
    end_buffers = None
    if buffers is not None:  # b's running statistics move with its channels
        end_buffers = torch.stack([buffers[b], buffers[b].gather(-1, model.buffer_index(index))])
    with _timed(f"path losses ({len(a)} pairs x 2 alignments x {t_points} points)"):
        path = path_losses(
            model, theta, a, b, pairs_b, t, x, y, loss, memory_mb, buffers, end_buffers,
            weight_decay,
        )  # fmt: skip
    with _timed("overlaps, barriers and basins"):
        bar = barrier(path)
        q_pairs, q_layer_pairs = pair_overlaps(model, theta[a].unsqueeze(0), pairs_b)
        objective = matching_objective(theta[a].unsqueeze(0), pairs_b)
        n_basins, labels = basins(n, a, b, bar[1].numpy(), barrier_threshold)
        counts = [basins(n, a, b, bar[1].numpy(), c)[0] for c in BASIN_THRESHOLDS]

    def square(values: np.ndarray) -> np.ndarray:  # (..., pair) -> (..., R, R), symmetric
        out = np.ones((*values.shape[:-1], n, n))
        out[..., a, b] = values
        out[..., b, a] = values
        return out

    layers = list(model.layers)
    units = loss_units(loss)
    trained_for = Objective(loss, weight_decay)
    pair_dims = ("alignment", "pair")
    ds = xr.Dataset(
        {
            "q": labelled(
                square(q_pairs.numpy()),
                ("alignment", "replica_a", "replica_b"),
                "overlap ⟨θa, θb⟩/(|θa||θb|) (aligned: b permuted to match a)",
                "1",
            ),
            "q_layer": labelled(
                square(q_layer_pairs.numpy()).transpose(1, 0, 2, 3),
                ("alignment", "layer", "replica_a", "replica_b"),
                "overlap of one layer's weights and biases",
                "1",
            ),
            "q_pair": labelled(q_pairs.numpy(), pair_dims, "overlap of pair (a < b)", "1"),
            "objective": labelled(
                objective.numpy(), pair_dims, "weight-matching objective ⟨θa, π(θb)⟩", "1"
            ),
            "path_loss": labelled(
                path.numpy(),
                (*pair_dims, "t"),
                f"{trained_for.label} ({trained_for.name}) on (1 − t)θa + tθb",
                units,
            ),
            "barrier": labelled(
                bar.numpy(), pair_dims, "barrier max_t L(t) − (L(0) + L(1))/2", units
            ),
            "sweeps": labelled(sweeps, ("pair",), "coordinate-ascent sweeps of alignment", "1"),
            "pair_a": labelled(replicas[a], ("pair",), "replica a of pair", "1"),
            "pair_b": labelled(replicas[b], ("pair",), "replica b of pair", "1"),
            "basin": labelled(
                labels, (REPLICA,), "basin (component with aligned barrier < threshold)", "1"
            ),
            "n_basins": labelled(
                np.int64(n_basins), (), "number of basins among the replicas", "1"
            ),
            "n_basins_by_threshold": labelled(
                np.asarray(counts, dtype=np.int64),
                ("threshold",),
                "number of basins with aligned barrier < threshold",
                "1",
            ),
        },
        coords={
            "alignment": list(ALIGNMENTS),
            "replica_a": replicas,
            "replica_b": replicas,
            REPLICA: replicas,
            "pair": np.arange(len(a)),
            "layer": layers,
            "t": labelled(t.numpy(), ("t",), "path coordinate (0: θa, 1: θb)", "1"),
            "threshold": labelled(BASIN_THRESHOLDS, ("threshold",), "barrier threshold", units),
        },
    )
    ds.attrs.update(
        **model.describe(),
        loss=loss,
        barrier_threshold=barrier_threshold,
        alignment=(
            "weight matching (Git Re-Basin)"
            if model.permutation is not None
            else f"skipped: {model.name} has no known permutation structure (aligned = raw)"
        ),
    )
    return ds


def overlap_study(
    train: xr.Dataset,
    data: xr.Dataset,
    t_points: int,
    barrier_threshold: float,
    memory_mb: float,
    dtype: str,
    source: str = "training file",
    bn_statistics: str = "recompute",
) -> xr.Dataset:
    """:func:`overlap_dataset` for the healthy replicas of a training-stage Dataset.

    Replicas whose status is not "ok" are left out with a warning; fewer than two
    healthy replicas is an :class:`InputError` naming ``source``. ``bn_statistics``:
    BatchNorm statistics on the paths, ``recompute`` or ``eval`` (:func:`path_losses`).
    """
    status = np.asarray(train["status"].values).astype(str)
    ids = train[REPLICA].values
    bad = ids[status != "ok"]
    if bad.size:
        log.warning("%s: leaving out replicas %s (status not ok)", source, bad.tolist())
    healthy = ids[status == "ok"]
    if healthy.size < 2:
        raise InputError(
            f"{source}: {healthy.size} healthy replica(s), overlaps need at least 2 "
            f"(raise train.replicas)"
        )
    torch_dtype = getattr(torch, dtype)
    model = network_from_attrs(train.attrs)
    theta = torch.as_tensor(train["params"].sel({REPLICA: healthy}).values).to(torch_dtype)
    x = torch.as_tensor(data["x_train"].values).to(torch_dtype)
    y = targets(data["y_train"].values, torch_dtype)
    model.bind_data(x)
    buffers = stored_buffers(train, model, bn_statistics)
    if buffers is not None:
        buffers = buffers[torch.as_tensor(status == "ok")].to(torch_dtype)
    ds = overlap_dataset(
        model, theta, x, y, train.attrs["loss"], healthy, t_points, barrier_threshold, memory_mb,
        buffers, Objective.of(train.attrs).weight_decay,
    )  # fmt: skip
    ds.attrs["bn_statistics"] = "none" if model.n_buffers == 0 else bn_statistics
    ds.attrs.update(Objective.of(train.attrs).attrs())
    ds.attrs.update(
        dataset=train.attrs.get("dataset", ""),
        data_kind=data.attrs.get("kind", ""),
        n_train=int(x.shape[0]),  # the training set the barriers are measured on
    )
    return ds
