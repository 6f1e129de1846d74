"""R replicas of one architecture trained at once, each with its own seeds.

The parameters of all replicas form one (R, P) tensor; the model's forward
broadcasts the replica dimension through batched matmuls, the loss is the sum
of the per-replica mean losses (so each replica receives exactly its own
gradient) and SGD/Adam act elementwise. Replica r therefore follows the same
trajectory as a run of this function with R = 1 and ``seeds[r]`` alone, which
the tests check in float64 — but R replicas cost one batched kernel per layer
instead of R small ones.
"""

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import xarray as xr

from statmech_nn.dims import EPOCH, FEATURE, PARAM, REPLICA, SNAPSHOT
from statmech_nn.errors import InputError
from statmech_nn.io import labelled
from statmech_nn.losses import (
    LOSSES,
    is_regression,
    loss_and_hits,
    loss_units,
    per_sample_loss,
    targets,
)
from statmech_nn.nets import Network, build_network, input_shape_of
from statmech_nn.nets.functional import full_batch_gradient
from statmech_nn.objective import Objective
from statmech_nn.optim import Optimizer
from statmech_nn.polish import polish
from statmech_nn.seeds import derive_seed

log = logging.getLogger(__name__)

__all__ = ["LOSSES", "loss_and_hits", "per_sample_loss", "train_replicas", "train_study"]


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters shared by all replicas (the config's ``train`` section)."""

    epochs: int
    batch_size: int
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    loss: str = "cross_entropy"
    snapshots: int = 5


@dataclass
class TrainResult:
    """Curves (R, epochs + 1; epoch 0 is the initialisation), final and snapshot parameters,
    and the full-batch gradient norm ‖∇J‖ of the training objective J = L + (wd/2)‖θ‖²
    (:mod:`statmech_nn.objective`) at each snapshot (R, S)."""

    curves: dict[str, torch.Tensor]
    params: torch.Tensor
    snapshots: torch.Tensor
    snapshot_epochs: list[int]
    diverged_epoch: list[int | None] = field(default_factory=list)
    snapshot_grad_norms: torch.Tensor | None = None
    buffers: torch.Tensor | None = None  # running statistics (R, B) of networks with buffers

    @property
    def diverged(self) -> list[bool]:
        return [e is not None for e in self.diverged_epoch]


def mean_loss(
    model: Network, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, loss: str
) -> torch.Tensor:
    """Mean loss over samples for parameters ``theta`` (..., P): shape (...)."""
    return per_sample_loss(model.forward(theta, x), y, loss).mean(-1)


def evaluate(
    model: Network, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, loss: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss and accuracy (fraction of argmax hits; NaN for real targets) for ``theta``
    (..., P)."""
    with torch.no_grad():
        out = model.forward(theta, x)
        losses = per_sample_loss(out, y, loss).mean(-1)
        if is_regression(y):
            return losses, torch.full_like(losses, float("nan"), dtype=torch.float64)
        return losses, (out.argmax(-1) == y).double().mean(-1)


def snapshot_epochs(epochs: int, count: int) -> list[int]:
    """``count`` epochs spread evenly over 0..epochs (fewer if they coincide)."""
    return sorted({int(e) for e in np.linspace(0, epochs, max(count, 1)).round()})


def _optimizer(s: TrainSettings) -> Optimizer:
    return Optimizer(s.optimizer, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)


def _evaluator(
    bp,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
    """``measure(theta)``: train loss, train accuracy, test loss and test accuracy per
    replica, train and test samples through one forward of ``bp`` (a network's trainer)."""
    x_all = bp.shared_input(torch.cat([x_train, x_test]))
    y_all = torch.cat([y_train, y_test])
    parts = (slice(None, x_train.shape[0]), slice(x_train.shape[0], None))

    def measure(theta):
        out = bp.outputs(theta, x_all)  # (R, classes, n)
        losses, hits = loss_and_hits(out, y_all, bp.loss)
        return tuple(
            t for part in parts for t in (losses[:, part].mean(-1), hits[:, part].double().mean(-1))
        )

    return measure


def train_replicas(
    model: Network,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    settings: TrainSettings,
    seeds: list[int],
    progress: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train ``len(seeds)`` replicas at once; replica r is initialised and shuffled by ``seeds[r]``.

    Inputs live on the device and dtype to train in. A replica whose loss turns
    NaN/Inf is marked diverged (``diverged_epoch``), gets zero gradient from
    then on and NaN curves; the others are unaffected. ``progress(epoch)`` is
    called after every epoch.
    """
    n, s = x_train.shape[0], settings
    model.bind_data(x_train)
    theta = model.init_replicas(seeds, x_train.dtype).to(x_train.device)
    opt = _optimizer(s)
    shufflers = [torch.Generator().manual_seed(derive_seed(seed, "batch-order")) for seed in seeds]
    keep = snapshot_epochs(s.epochs, s.snapshots)
    names = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
    curves = {
        k: torch.full((len(seeds), s.epochs + 1), torch.nan, dtype=torch.float64) for k in names
    }
    snaps, grad_norms = [], []
    alive = torch.ones(len(seeds), dtype=torch.bool, device=x_train.device)
    all_alive = True
    diverged_epoch: list[int | None] = [None] * len(seeds)
    # the network's trainer: the MLP's hand-written backward, or torch.func for any network
    bp = model.trainer(s.loss)
    objective = Objective(s.loss, s.weight_decay)
    measure = _evaluator(bp, x_train, y_train, x_test, y_test)
    grad = torch.empty_like(theta)
    x_batch = x_train.new_empty(len(seeds) * s.batch_size, x_train.shape[1])  # reused

    def record(epoch: int) -> None:
        nonlocal all_alive
        values = measure(theta)
        finite = torch.isfinite(values[0]) & torch.isfinite(values[2])
        for r in torch.nonzero(alive & ~finite).flatten().tolist():
            diverged_epoch[r] = epoch
        alive.mul_(finite)
        all_alive = all_alive and bool(finite.all())
        for name, v in zip(names, values, strict=True):
            curves[name][:, epoch] = torch.where(alive, v, torch.nan).double().cpu()
        if epoch in keep:
            snaps.append(theta.clone())
            g = objective.gradient(full_batch_gradient(bp, theta, x_train, y_train)[1], theta)
            g = g.norm(dim=-1)
            grad_norms.append(torch.where(alive, g, torch.nan).double().cpu())

    record(0)
    for epoch in range(1, s.epochs + 1):
        order = torch.stack([torch.randperm(n, generator=g) for g in shufflers]).to(x_train.device)
        # the epoch's batches as views of one gather, not one gather per batch
        ys = y_train[order]
        for start in range(0, n, s.batch_size):
            stop = start + s.batch_size
            idx = order[:, start:stop]
            # one gather per batch into a reused buffer: it stays in cache, where a gather
            # of the whole epoch's (R, n, in) batches, several MB, does not
            x = torch.index_select(x_train, 0, idx.reshape(-1), out=x_batch[: idx.numel()])
            losses = bp.loss_and_grad(theta, x.view(*idx.shape, -1), ys[:, start:stop], grad)
            if not (all_alive and math.isfinite(losses.sum())):  # one kernel, no sync on CPU
                ok = alive & torch.isfinite(losses)
                for r in torch.nonzero(alive & ~ok).flatten().tolist():
                    diverged_epoch[r] = epoch
                alive.mul_(ok)
                all_alive = False
                # a diverged replica gets zero gradient (its NaNs times zero are NaN)
                grad.mul_(alive.unsqueeze(-1)).nan_to_num_(0.0, 0.0, 0.0)
            opt.step(theta, grad)
        record(epoch)
        if progress is not None:
            progress(epoch)
    return TrainResult(
        curves=curves,
        params=theta.cpu(),
        snapshots=torch.stack(snaps, dim=1).cpu(),
        snapshot_epochs=keep,
        diverged_epoch=diverged_epoch,
        snapshot_grad_norms=torch.stack(grad_norms, dim=1),
        buffers=_final_buffers(model, bp, len(seeds), theta.dtype),
    )


def _final_buffers(model: Network, bp, replicas: int, dtype: torch.dtype) -> torch.Tensor | None:
    """The trainer's running statistics (R, B), the initial ones if no step was taken."""
    if model.n_buffers == 0:
        return None
    kept = getattr(bp, "buffers", None)
    return (kept if kept is not None else model.init_buffers(replicas, dtype)).cpu()


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when available) -> a torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("config device: 'cuda' was asked for but torch sees no CUDA device")
    return torch.device(name)


def train_study(
    data: xr.Dataset,
    arch: str,
    cfg: dict,
    seed: int,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
    models: dict | None = None,
) -> xr.Dataset:
    """Train ``cfg["replicas"]`` replicas of ``arch`` on a data set; return the labelled result.

    ``arch`` is a built-in family's string or a name under ``models`` (the config's
    section of researchers' own networks, see :func:`statmech_nn.nets.build_network`).

    Variables: per-epoch ``train_loss``, ``test_loss``, ``train_accuracy``,
    ``test_accuracy`` (replica, epoch); final ``params`` (replica, param) with the
    ``param_tensor`` coordinate and tensor shapes in attrs; ``snapshots``
    (replica, snapshot, param); ``status`` (replica) "ok" or "diverged".
    """
    dev = resolve_device(device)
    dtype = getattr(torch, cfg["dtype"])
    tensors = {
        name: torch.as_tensor(data[name].values).to(dev, dtype)
        if name[0] == "x"
        else targets(data[name].values, dtype, dev)
        for name in ("x_train", "y_train", "x_test", "y_test")
    }
    model = build_network(
        arch,
        input_shape_of(data.attrs, data.sizes[FEATURE]),
        int(data.attrs["n_classes"]),
        models,
    )
    settings = TrainSettings(**{k: cfg[k] for k in TrainSettings.__dataclass_fields__})
    if is_regression(tensors["y_train"]):  # real targets: MSE, the one regression loss
        settings = replace(settings, loss="mse")
    seeds = [derive_seed(seed, "replica", r) for r in range(cfg["replicas"])]
    res = train_replicas(model, *tensors.values(), settings, seeds, progress)
    for r, epoch in enumerate(res.diverged_epoch):
        if epoch is not None:
            log.warning("replica %d of %s diverged at epoch %d (loss NaN/Inf)", r, arch, epoch)
    finish = cfg.get("polish") or {"method": "none"}
    objective = Objective(settings.loss, settings.weight_decay)
    if finish["method"] == "lbfgs":
        start = time.perf_counter()
        done = polish(
            model, res.params, tensors["x_train"].cpu(), tensors["y_train"].cpu(),
            settings.loss, finish["tol"], finish["max_steps"], settings.weight_decay,
        )  # fmt: skip
        final, grad_norm, polished = done.params, done.grad_norm, True
        log.info(
            "polished (%s): |grad J| = %s after %s L-BFGS steps, %.1f s",
            objective.name, grad_norm.tolist(), done.steps.tolist(), time.perf_counter() - start,
        )  # fmt: skip
    else:
        final, polished = res.params, False
        theta64 = res.params.double()
        grad = full_batch_gradient(
            model.trainer(settings.loss),
            theta64,
            tensors["x_train"].cpu().double(),
            tensors["y_train"].cpu(),
        )[1]
        grad_norm = objective.gradient(grad, theta64).norm(dim=-1)

    units = {"loss": loss_units(settings.loss), "accuracy": "1"}
    variables = {
        name: labelled(
            curve.numpy(),
            (REPLICA, EPOCH),
            name.replace("_", " "),
            units[name.split("_")[1]],
        )
        for name, curve in res.curves.items()
    }
    variables["params"] = labelled(
        final.numpy(),
        (REPLICA, PARAM),
        "final parameters" + (" (polished by full-batch L-BFGS)" if polished else ""),
    )
    variables["grad_norm"] = labelled(
        grad_norm.numpy(),
        (REPLICA,),
        f"full-batch gradient norm of the {objective.label} {objective.name} at params (float64)",
        units["loss"],
    )
    variables["snapshot_grad_norm"] = labelled(
        res.snapshot_grad_norms.numpy(),
        (REPLICA, SNAPSHOT),
        f"full-batch gradient norm of the {objective.label} {objective.name} at the snapshot",
        units["loss"],
    )
    if polished:
        variables["params_trained"] = labelled(
            res.params.numpy(), (REPLICA, PARAM), "parameters at the end of training"
        )
        variables["polish_steps"] = labelled(done.steps.numpy(), (REPLICA,), "L-BFGS steps")
        variables["polish_converged"] = labelled(
            done.converged.numpy(), (REPLICA,), "gradient norm reached polish.tol"
        )
    variables["snapshots"] = labelled(
        res.snapshots.numpy(), (REPLICA, SNAPSHOT, PARAM), "parameters along the trajectory"
    )
    if res.buffers is not None:
        variables["buffers"] = labelled(
            res.buffers.numpy(),
            (REPLICA, "buffer"),
            "running statistics at the end of training (BatchNorm mean and variance)",
        )
    variables["status"] = labelled(
        np.array(["diverged" if d else "ok" for d in res.diverged], dtype=object),
        (REPLICA,),
        "training outcome",
    )
    variables["init_seed"] = labelled(
        np.array([str(s) for s in seeds], dtype=object), (REPLICA,), "initialisation seed"
    )
    return xr.Dataset(
        variables,
        coords={
            REPLICA: np.arange(len(seeds)),
            EPOCH: np.arange(settings.epochs + 1),
            SNAPSHOT: np.arange(len(res.snapshot_epochs)),
            "snapshot_epoch": (SNAPSHOT, np.array(res.snapshot_epochs)),
            "param_tensor": (PARAM, np.array(model.param_tensor, dtype=object)),
            **(
                {"buffer_tensor": ("buffer", np.array(model.buffer_tensor, dtype=object))}
                if res.buffers is not None
                else {}
            ),
        },
        attrs={
            **model.describe(),
            "param_shapes_json": json.dumps({k: list(v) for k, v in model.shapes.items()}),
            "loss": settings.loss,
            "n_diverged": int(sum(res.diverged)),
            "polish_json": json.dumps(finish, sort_keys=True),
            **objective.attrs(),
        },
    )
