"""The slice stages: config entries -> directions and grids at trained replicas -> xarray.

The training loss of a slice is the training objective J = L + (wd/2)‖θ‖² of the
training file (:mod:`statmech_nn.objective`; wd its ``weight_decay`` attr), the
function training minimised; the test loss is the data loss on the test set alone.
"""

import json
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import xarray as xr

from statmech_nn.dims import PARAM, REPLICA, SNAPSHOT
from statmech_nn.errors import InputError
from statmech_nn.hessian.problem import stored_buffers
from statmech_nn.io import labelled
from statmech_nn.landscape.curvature import curvature_statistics, grid_curvature
from statmech_nn.landscape.directions import pca_directions, random_directions, scale_direction
from statmech_nn.landscape.grid import evaluate_grid
from statmech_nn.landscape.local import (  # noqa: F401 - critical_point_terms: a public name
    AUTO_RANGE_MIN,
    axis_grids,
    critical_point_terms,
)
from statmech_nn.losses import loss_units, targets
from statmech_nn.nets import Network, network_from_attrs
from statmech_nn.objective import Objective
from statmech_nn.train import resolve_device

AXIS_KINDS = ("random", "hessian_max", "hessian_min", "pca1", "pca2", "segment")


AXIS_NAMES = ("a", "b")


def _axis_directions(
    model: Network,
    params: torch.Tensor,
    axes: Sequence[str],
    normalisation: str,
    bias: str,
    generator: torch.Generator,
    snapshots: torch.Tensor | None,
    hessian_vectors: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, xr.Variable]]:
    """Origins (R, P), directions (R, k, P) and extra variables for a slice's axes."""
    bad = [a for a in axes if a not in AXIS_KINDS]
    if bad or not 1 <= len(axes) <= 2:
        raise InputError(f"slice axes {list(axes)}: expected one or two of {AXIS_KINDS}")
    if "segment" in axes and len(axes) != 1:
        raise InputError("slice axes: 'segment' is a line of its own, axes: [segment]")
    fixed = [a for a in axes if a != "random"]
    if len(set(fixed)) != len(fixed):
        raise InputError(f"slice axes {list(axes)}: a non-random axis can appear once")
    extra: dict[str, xr.Variable] = {}
    if axes[0] == "segment":
        r = params.shape[0]
        if r < 2:
            raise InputError("segment slices need at least two replicas")
        partner = (torch.arange(r) + 1) % r
        extra["partner"] = labelled(partner.numpy(), (REPLICA,), "replica at t = 1")
        return params, (params[partner] - params).unsqueeze(1), extra
    given: dict[str, torch.Tensor] = {}
    if any(a.startswith("hessian") for a in axes):
        if hessian_vectors is None:
            raise InputError("Hessian axes need the Hessian eigenvectors (results/hessian)")
        given["hessian_max"], given["hessian_min"] = hessian_vectors.to(params).unbind(1)
    if any(a.startswith("pca") for a in axes):
        if snapshots is None:
            raise InputError("PCA axes need training snapshots (snapshots in the train file)")
        pcs, ratio = pca_directions(snapshots.to(params), params)
        given["pca1"], given["pca2"] = pcs.unbind(1)
        extra["explained_variance_ratio"] = labelled(
            ratio.cpu().numpy(), (REPLICA, "component"), "trajectory variance explained"
        )
    dirs: list[torch.Tensor] = []
    for kind in axes:
        if kind == "random":
            against = torch.stack(dirs, 1) if dirs else None
            d = random_directions(model, params, 1, normalisation, bias, generator, against)[:, 0]
        else:
            d = scale_direction(given[kind], params, normalisation)
            if dirs:  # Hessian eigenvectors and principal components are orthogonal already
                d = (
                    d
                    - (d * dirs[0]).sum(-1, keepdim=True)
                    / dirs[0].pow(2).sum(-1, keepdim=True)
                    * dirs[0]
                )
        dirs.append(d)
    directions = torch.stack(dirs, 1)
    if snapshots is not None and any(a.startswith("pca") for a in axes):
        diff = snapshots.to(params) - params.unsqueeze(1)
        gram = directions @ directions.mT
        coef = torch.linalg.solve(gram, directions @ diff.mT).mT  # least-squares coordinates
        extra["trajectory"] = labelled(
            coef.cpu().numpy(), (REPLICA, SNAPSHOT, "axis"), "training trajectory on the plane"
        )
    return params, directions, extra


def slice_dataset(
    model: Network,
    params: torch.Tensor,
    data: Mapping[str, torch.Tensor],
    loss: str,
    axes: Sequence[str],
    ranges: Sequence[Sequence[float]] | str,
    resolution: int,
    normalisation: str = "filter",
    bias: str = "zero",
    seed: int = 0,
    snapshots: torch.Tensor | None = None,
    hessian_vectors: torch.Tensor | None = None,
    param_tensor: Sequence[str] | None = None,
    memory_budget_mb: float = 32.0,
    device: torch.device | str = "cpu",
    buffers: torch.Tensor | None = None,
    weight_decay: float = 0.0,
    auto_rise: float = 0.05,
) -> xr.Dataset:
    """A labelled slice through every replica's trained parameters ``params`` (R, P).

    ``axes`` lists the kind of each axis (:data:`AXIS_KINDS`; one for a line,
    two for a plane), ``ranges`` the [low, high] coordinate range of each axis, or
    ``"auto"`` for a line (not a segment) whose range each replica takes from the
    curvature κ along it: r = √(2·auto_rise/(|κ||d|²)), so the curvature term rises by
    ``auto_rise`` at ±r (at least :data:`AUTO_RANGE_MIN`, at most |θ₀|/|d|); the dimension ``a``
    is then c/r and ``a_coordinate (replica, a)`` the coordinate c. ``resolution`` is
    the points per axis. ``data`` holds x_train, y_train, x_test, y_test. Returns
    train/test loss and accuracy on dims (replica, a[, b]) — the train loss is the
    training objective L + (wd/2)‖θ‖² with ``weight_decay`` wd, the test loss the data
    loss — the origins and directions, each axis's reach r (``axis_range``) and the
    second-difference curvature at the grid point nearest the origin along each axis,
    κⱼ = Δ²J / (Δcⱼ² |dⱼ|²). ``buffers`` (R, B): running statistics to evaluate
    BatchNorm layers with, the replica's at every point of its slice and, on a segment,
    interpolated linearly to its partner's (``bn_statistics: eval``); None recomputes
    them at every point.
    """
    auto = isinstance(ranges, str)
    if auto and (ranges != "auto" or len(axes) != 1 or axes[0] == "segment"):
        raise InputError(f"slice ranges {ranges!r}: 'auto' is for a line (one axis, no segment)")
    if not auto and len(ranges) != len(axes):
        raise InputError(f"slice ranges {list(ranges)}: expected one [low, high] per axis {axes}")
    objective = Objective(loss, weight_decay)
    gen = torch.Generator().manual_seed(seed % 2**63)
    origin, directions, extra = _axis_directions(
        model, params, axes, normalisation, bias, gen, snapshots, hessian_vectors
    )
    # directions are drawn on the CPU (the same on any device), the grid evaluated on ``device``
    origin, directions = origin.to(device), directions.to(device)
    buffer_directions = None
    if buffers is not None:
        buffers = buffers.to(device, params.dtype)
        if "partner" in extra:
            partner = torch.as_tensor(extra["partner"].values, device=device)
            buffer_directions = (buffers[partner] - buffers).unsqueeze(1)
    grids, steps, reach, grid_extra = axis_grids(
        model, origin, directions, data, loss, ranges, resolution, objective,
        None if buffers is None else buffers.cpu(), auto_rise,
    )  # fmt: skip
    k = len(axes)
    coords = torch.cartesian_prod(*grids).reshape(-1, k)
    names = AXIS_NAMES[:k]
    dims = (REPLICA, *names)
    shape = (params.shape[0], *([resolution] * k))
    variables: dict[str, xr.Variable] = {}
    for split in ("train", "test"):
        values = evaluate_grid(
            model,
            origin,
            steps,
            coords,
            data[f"x_{split}"],
            data[f"y_{split}"],
            loss,
            memory_budget_mb,
            buffers0=buffers,
            buffer_directions=buffer_directions,
            weight_decay=weight_decay if split == "train" else 0.0,
        )
        what = objective.label if split == "train" else "loss"
        variables[f"{split}_loss"] = labelled(
            values.loss.reshape(shape).cpu().numpy(),
            dims,
            f"mean {split} loss ({loss})"
            if what == "loss" or not weight_decay
            else f"{what} ({objective.name})",
        )
        variables[f"{split}_accuracy"] = labelled(
            values.accuracy.reshape(shape).cpu().numpy(), dims, f"{split} accuracy"
        )
    variables["centre_curvature"] = labelled(
        grid_curvature(
            variables["train_loss"].values, [g.numpy() for g in grids], steps.norm(dim=-1)
        ),
        (REPLICA, "axis"),
        f"second-difference curvature of the {objective.label} at the origin along each axis",
    )
    # the criterion's κ: the exact curvature along the axis, not the grid's second difference
    # (a float32 grid cannot resolve a curvature of 1e-5 over one step)
    variables.update(
        critical_point_terms(
            model, origin, directions, data["x_train"], data["y_train"], loss, reach,
            grid_extra["axis_curvature"].values, None if buffers is None else buffers.cpu(),
            weight_decay,
        )
    )  # fmt: skip
    variables["axis_range"] = labelled(
        reach.numpy(),
        (REPLICA, "axis"),
        "reach r of each axis: largest |coordinate| (units of |d|)",
    )
    for name in ("train_loss", "test_loss", "centre_curvature", "linear_term", "curvature_term"):
        variables[name].attrs["units"] = loss_units(loss)
    variables["origin"] = labelled(origin.cpu().numpy(), (REPLICA, PARAM), "slice origin θ₀")
    variables["direction"] = labelled(
        directions.cpu().numpy(), (REPLICA, "axis", PARAM), "slice direction"
    )
    variables["direction_norm"] = labelled(
        directions.norm(dim=-1).cpu().numpy(), (REPLICA, "axis"), "norm of the slice direction"
    )
    if k == 2:
        cos = torch.nn.functional.cosine_similarity(directions[:, 0], directions[:, 1], dim=-1)
        variables["axes_cosine"] = labelled(
            cos.cpu().numpy(), (REPLICA,), "cosine between the two directions"
        )
    variables.update(extra)
    coords_out: dict[str, object] = {REPLICA: np.arange(params.shape[0]), "axis": list(names)}
    for name, g in zip(names, grids, strict=True):
        long_name = f"coordinate along direction {name}"
        if auto:
            long_name += " in units of the replica's axis_range"
        coords_out[name] = xr.Variable(name, g.cpu().numpy(), attrs={"long_name": long_name})
    if "a_coordinate" in grid_extra:
        coords_out["a_coordinate"] = grid_extra.pop("a_coordinate")
    variables.update(grid_extra)
    coords_out["axis_kind"] = ("axis", list(axes))
    if param_tensor is not None:
        coords_out["param_tensor"] = (PARAM, list(param_tensor))
    return xr.Dataset(
        variables,
        coords=coords_out,
        attrs={
            "axes_json": json.dumps(list(axes)),
            "normalisation": normalisation,
            "bias": bias,
            "loss": loss,
            **objective.attrs(),
            "ranges": "auto" if auto else json.dumps([list(r) for r in ranges]),
            **({"auto_rise": auto_rise} if auto else {}),
            "bn_statistics": (
                "none" if model.n_buffers == 0 else "eval" if buffers is not None else "recompute"
            ),
        },
    )


def healthy_replicas(train: xr.Dataset, count: int) -> np.ndarray:
    """Indices of the first ``count`` replicas whose training did not diverge."""
    ok = train[REPLICA].values[np.asarray(train["status"].values) == "ok"]
    if ok.size == 0:
        raise InputError(
            f"{train.attrs.get('arch', '?')}: every replica diverged, nothing to slice"
        )
    return ok[:count]


def _study_inputs(train: xr.Dataset, data: xr.Dataset, replicas: np.ndarray, dtype: torch.dtype):
    model = network_from_attrs(train.attrs)
    params = torch.as_tensor(train["params"].sel({REPLICA: replicas}).values).to(dtype)
    tensors = {
        name: torch.as_tensor(data[name].values).to(dtype)
        if name[0] == "x"
        else targets(data[name].values, dtype)
        for name in ("x_train", "y_train", "x_test", "y_test")
    }
    model.bind_data(tensors["x_train"])
    return model, params, tensors


def hessian_eigenvectors(hessian: xr.Dataset, replicas: np.ndarray) -> torch.Tensor:
    """Eigenvectors of λmax and λmin (replica, 2, P) from a Hessian-stage Dataset."""
    try:
        vecs = hessian["eigenvectors"].sel({REPLICA: replicas, "which": ["max", "min"]})
    except KeyError as err:
        raise InputError(
            f"Hessian file: expected eigenvectors(replica, which=[max, min], param) for "
            f"replicas {list(replicas)}: {err}"
        ) from None
    return torch.as_tensor(vecs.transpose(REPLICA, "which", PARAM).values)


def slice_study(
    train: xr.Dataset,
    data: xr.Dataset,
    direction: Mapping,
    replicas: int,
    dtype: str,
    memory_mb: float,
    seed: int,
    hessian: xr.Dataset | None = None,
    device: str = "cpu",
) -> xr.Dataset:
    """The slice a config ``direction`` entry asks for, through the first healthy replicas.

    ``train`` and ``data`` are the training and data-set stages' Datasets,
    ``hessian`` the Hessian stage's (needed for Hessian axes). The entry holds
    ``axes``, ``ranges``, ``resolution`` and, optionally, ``normalisation``,
    ``bias`` and ``bn_statistics`` (see :func:`slice_dataset`).
    """
    chosen = healthy_replicas(train, replicas)
    objective = Objective.of(train.attrs)
    model, params, tensors = _study_inputs(train, data, chosen, getattr(torch, dtype))
    buffers = stored_buffers(train, model, direction.get("bn_statistics", "recompute"))
    if buffers is not None:
        buffers = buffers[torch.as_tensor(train.indexes[REPLICA].get_indexer(chosen))]
    axes = list(direction["axes"])
    vectors = None
    if any(a.startswith("hessian") for a in axes):
        if hessian is None:
            raise InputError(f"slice axes {axes} need the Hessian stage's eigenvectors")
        vectors = hessian_eigenvectors(hessian, chosen)
    snapshots = None
    if any(a.startswith("pca") for a in axes):
        snapshots = torch.as_tensor(train["snapshots"].sel({REPLICA: chosen}).values)
    ds = slice_dataset(
        model,
        params,
        tensors,
        train.attrs["loss"],
        axes,
        direction["ranges"],
        direction["resolution"],
        direction.get("normalisation", "filter"),
        direction.get("bias", "zero"),
        seed,
        snapshots,
        vectors,
        model.param_tensor,
        memory_mb,
        resolve_device(device),
        buffers,
        objective.weight_decay,
        direction.get("auto_rise", 0.05),
    )
    ds = ds.assign_coords({REPLICA: chosen})
    ds.attrs.update(arch=train.attrs["arch"], dataset=train.attrs.get("dataset", ""))
    if "partner" in ds:
        ds["partner"].values = chosen[ds["partner"].values]
    return ds


def curvature_study(
    train: xr.Dataset,
    data: xr.Dataset,
    hessian: xr.Dataset,
    replicas: int,
    directions: int,
    fd_step: float,
    memory_mb: float,
    seed: int,
    device: str = "cpu",
) -> xr.Dataset:
    """:func:`curvature_statistics` at the first healthy replicas, on the training set.

    The Hessian stage supplies the extreme eigenvectors and tr H (the dense
    trace where H was formed, else Hutchinson's estimate) for comparison with
    the mean curvature.
    """
    chosen = healthy_replicas(train, replicas)
    model, params, tensors = _study_inputs(train, data, chosen, torch.float64)
    trace = trace_stderr = None
    for name in ("trace_dense", "trace_hutchinson"):
        if name in hessian and np.isfinite(hessian[name].sel({REPLICA: chosen})).all():
            trace = torch.as_tensor(hessian[name].sel({REPLICA: chosen}).values)
            if f"{name}_stderr" in hessian:  # the dense trace is exact
                trace_stderr = torch.as_tensor(
                    hessian[f"{name}_stderr"].sel({REPLICA: chosen}).values
                )
            break
    ds = curvature_statistics(
        model,
        params,
        tensors["x_train"],
        tensors["y_train"],
        train.attrs["loss"],
        directions,
        fd_step,
        seed,
        hessian_eigenvectors(hessian, chosen),
        trace,
        memory_mb,
        resolve_device(device),
        trace_stderr,
        Objective.of(train.attrs).weight_decay,
    )
    ds = ds.assign_coords({REPLICA: chosen})
    ds.attrs["bn_statistics"] = "recompute" if model.n_buffers else "none"
    ds.attrs.update(arch=train.attrs["arch"], dataset=train.attrs.get("dataset", ""))
    return ds
