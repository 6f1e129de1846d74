"""The training objective of a network on fixed data as the closures curvature estimators take.

The objective is J(θ) = L(θ) + (wd/2)‖θ‖² (:mod:`statmech_nn.objective`): the mean
data loss L plus the L2 term training added (``weight_decay``; J = L when it is 0).
Its Hessian is ∇²L + wd·I and its Gauss–Newton part G + wd·I (the penalty is its own
Gauss–Newton approximation), the wd·I added to every product exactly.

Running statistics (BatchNorm) enter as given buffers (``bn_statistics: eval``) or
are recomputed at every θ (``recompute``); products walk the data in chunks
sized from a memory budget (:func:`~statmech_nn.hessian.operators.hvp_sample_chunk`).
"""

from dataclasses import dataclass, replace
from functools import partial

import torch
import xarray as xr

from statmech_nn.errors import InputError
from statmech_nn.hessian.operators import (
    MatMat,
    data_chunked,
    ggn_matmat,
    hessian_matmat,
    hvp_batch_size,
)
from statmech_nn.losses import per_sample_loss
from statmech_nn.nets import Network
from statmech_nn.objective import Objective

BN_STATISTICS = ("eval", "recompute")  # BatchNorm statistics at evaluated points


@dataclass(frozen=True)
class LossProblem:
    """A model's training objective on fixed data, as the closures the estimators take.

    ``buffers`` (R, B), or (B,) for one replica: the running statistics BatchNorm layers
    are evaluated with (``bn_statistics: eval``); None recomputes them at θ on the
    model's bound training subset (``recompute``). ``sample_chunk``: samples per data
    chunk of a product, from a memory budget (:func:`hvp_sample_chunk`); None: all
    at once. The mean loss is Σ_c (n_c/n) L_c over the chunks either way.
    ``weight_decay``: the L2 term of the objective (see the module).
    """

    model: Network
    x: torch.Tensor
    y: torch.Tensor
    loss: str
    buffers: torch.Tensor | None = None
    sample_chunk: int | None = None
    weight_decay: float = 0.0

    @property
    def objective(self) -> Objective:
        return Objective(self.loss, self.weight_decay)

    def _chunks(self) -> list[tuple[float, torch.Tensor, torch.Tensor]]:
        step, n = self.sample_chunk or len(self.y), len(self.y)
        pairs = zip(self.x.split(step), self.y.split(step), strict=True)
        return [(len(y) / n, x, y) for x, y in pairs]

    def _chunk_loss(self, x: torch.Tensor, y: torch.Tensor):
        def fn(theta: torch.Tensor, buffers: torch.Tensor | None = None) -> torch.Tensor:
            return per_sample_loss(self.model.forward(theta, x, buffers), y, self.loss).mean(-1)

        return fn

    def data_loss_fn(
        self, theta: torch.Tensor, buffers: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean data loss L at θ (..., P), with ``buffers`` or else the problem's own."""
        b = self.buffers if buffers is None else buffers
        return sum(w * self._chunk_loss(x, y)(theta, b) for w, x, y in self._chunks())

    def loss_fn(self, theta: torch.Tensor, buffers: torch.Tensor | None = None) -> torch.Tensor:
        """The objective J = L + (wd/2)‖θ‖² at θ (..., P) (L itself when wd = 0)."""
        return self.objective.value(self.data_loss_fn(theta, buffers), theta)

    def replica(self, i: int) -> "LossProblem":
        """The problem of replica ``i`` alone (its own running statistics)."""
        return replace(self, buffers=None if self.buffers is None else self.buffers[i])

    def outputs(self, theta: torch.Tensor, buffers: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.forward(theta, self.x, self.buffers if buffers is None else buffers)

    def output_loss(self, f: torch.Tensor) -> torch.Tensor:
        return per_sample_loss(f, self.y, self.loss).mean(-1)

    def hessian(self, theta: torch.Tensor, mode: str = "linearize") -> MatMat:
        """H·V at θ (*lead, P), H the objective's Hessian. Over several data chunks each
        product is rebuilt per chunk: ``linearize`` (a trace per chunk and call) then runs
        as ``fresh``."""
        return self.objective.matmat(self._data_hessian(theta, mode))

    def _data_hessian(self, theta: torch.Tensor, mode: str) -> MatMat:
        parts = self._chunks()
        if len(parts) == 1:
            return hessian_matmat(self.data_loss_fn, theta, mode, self.buffers)
        per_chunk = "reverse" if mode == "reverse" else "fresh"
        return data_chunked(
            [
                (w, partial(hessian_matmat, self._chunk_loss(x, y), theta, per_chunk, self.buffers))
                for w, x, y in parts
            ]
        )

    def ggn(self, theta: torch.Tensor, mode: str = "linearize") -> MatMat:
        """G·V (G + wd·I with the objective's L2 term); J·v traced once by ``linearize``
        only in that mode and over one data chunk (else a fresh ``jvp``)."""
        parts = self._chunks()

        def make(x: torch.Tensor, y: torch.Tensor, linearized: bool) -> MatMat:
            def outputs(th: torch.Tensor, buffers: torch.Tensor | None = None) -> torch.Tensor:
                return self.model.forward(th, x, buffers)

            def output_loss(f: torch.Tensor) -> torch.Tensor:
                return per_sample_loss(f, y, self.loss).mean(-1)

            return ggn_matmat(outputs, output_loss, theta, linearized, self.buffers)

        if len(parts) == 1:
            return self.objective.matmat(make(self.x, self.y, mode == "linearize"))
        return self.objective.matmat(
            data_chunked([(w, partial(make, x, y, False)) for w, x, y in parts])
        )

    def batch_size(self, memory_mb: float, itemsize: int) -> int:
        widths = self.model.activations_per_sample
        n = min(len(self.y), self.sample_chunk or len(self.y))
        return hvp_batch_size(self.model.n_params, n, widths, itemsize, memory_mb)


def stored_buffers(trained: xr.Dataset, model: Network, bn_statistics: str):
    """The trained replicas' running statistics (replica, buffer) when ``bn_statistics``
    is ``eval`` and the network has buffers; None otherwise (``recompute``: statistics
    re-estimated at every θ on the first training inputs)."""
    if bn_statistics not in BN_STATISTICS:
        raise InputError(f"bn_statistics {bn_statistics!r}: expected one of {BN_STATISTICS}")
    if bn_statistics == "recompute" or model.n_buffers == 0:
        return None
    if "buffers" not in trained:
        raise InputError(
            f"training file of {model.name!r}: no buffers(replica, buffer) variable for "
            "bn_statistics: eval (retrain, or use bn_statistics: recompute)"
        )
    return torch.as_tensor(trained["buffers"].values)
