"""The training loss of a network on fixed data as the closures curvature estimators take.

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

BN_STATISTICS = ("eval", "recompute")  # BatchNorm statistics at evaluated points


@dataclass(frozen=True)
class LossProblem:
    """A model's training loss on fixed data, as the closures the estimators take.

    ``buffers`` (R, B), or (B,) for one replica: the running statistics BatchNorm layers
    are evaluated with (``bn_statistics: eval``); None recomputes them at θ on the
    model's bound training subset (``recompute``). ``sample_chunk``: samples per data
    chunk of a product, from a memory budget (:func:`hvp_sample_chunk`); None: all
    at once. The mean loss is Σ_c (n_c/n) L_c over the chunks either way.
    """

    model: Network
    x: torch.Tensor
    y: torch.Tensor
    loss: str
    buffers: torch.Tensor | None = None
    sample_chunk: int | None = None

    def _chunks(self) -> list[tuple[float, torch.Tensor, torch.Tensor]]:
        step, n = self.sample_chunk or len(self.y), len(self.y)
        pairs = zip(self.x.split(step), self.y.split(step), strict=True)
        return [(len(y) / n, x, y) for x, y in pairs]

    def _chunk_loss(self, x: torch.Tensor, y: torch.Tensor):
        def fn(theta: torch.Tensor, buffers: torch.Tensor | None = None) -> torch.Tensor:
            return per_sample_loss(self.model.forward(theta, x, buffers), y, self.loss).mean(-1)

        return fn

    def loss_fn(self, theta: torch.Tensor, buffers: torch.Tensor | None = None) -> torch.Tensor:
        """Mean loss at θ (..., P), with ``buffers`` or else the problem's own."""
        b = self.buffers if buffers is None else buffers
        return sum(w * self._chunk_loss(x, y)(theta, b) for w, x, y in self._chunks())

    def replica(self, i: int) -> "LossProblem":
        """The problem of replica ``i`` alone (its own running statistics)."""
        return replace(self, buffers=None if self.buffers is None else self.buffers[i])

    def outputs(self, theta: torch.Tensor, buffers: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.forward(theta, self.x, self.buffers if buffers is None else buffers)

    def output_loss(self, f: torch.Tensor) -> torch.Tensor:
        return per_sample_loss(f, self.y, self.loss).mean(-1)

    def hessian(self, theta: torch.Tensor, mode: str = "linearize") -> MatMat:
        """H·V at θ (*lead, P). Over several data chunks each product is rebuilt per
        chunk: ``linearize`` (a trace per chunk and call) then runs as ``fresh``."""
        parts = self._chunks()
        if len(parts) == 1:
            return hessian_matmat(self.loss_fn, theta, mode, self.buffers)
        per_chunk = "reverse" if mode == "reverse" else "fresh"
        return data_chunked(
            [
                (w, partial(hessian_matmat, self._chunk_loss(x, y), theta, per_chunk, self.buffers))
                for w, x, y in parts
            ]
        )

    def ggn(self, theta: torch.Tensor, mode: str = "linearize") -> MatMat:
        """G·V; J·v traced once by ``linearize`` only in that mode and over one data chunk
        (else a fresh ``jvp``)."""
        parts = self._chunks()

        def make(x: torch.Tensor, y: torch.Tensor, linearized: bool) -> MatMat:
            def outputs(th: torch.Tensor, buffers: torch.Tensor | None = None) -> torch.Tensor:
                return self.model.forward(th, x, buffers)

            def output_loss(f: torch.Tensor) -> torch.Tensor:
                return per_sample_loss(f, y, self.loss).mean(-1)

            return ggn_matmat(outputs, output_loss, theta, linearized, self.buffers)

        if len(parts) == 1:
            return make(self.x, self.y, mode == "linearize")
        return data_chunked([(w, partial(make, x, y, False)) for w, x, y in parts])

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
