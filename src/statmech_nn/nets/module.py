"""Any ``torch.nn.Module`` as a :class:`~statmech_nn.nets.base.Network`.

The module is called with the parameters of a flat vector through
``torch.func.functional_call``; leading dimensions of θ (replicas, grid points)
are mapped with ``vmap`` (which turns a batch of convolutions into one grouped
convolution). Inputs are stored flat, (n, features), and reshaped to the
network's ``input_shape`` (e.g. channels × height × width) on the way in.

A module is built by a factory ``(input_shape, n_outputs) -> nn.Module``;
replica r is the module built after ``torch.manual_seed(seed_r)`` (inside
``torch.random.fork_rng``, so the global generator is left as it was): the
module's own initialisation, reproducible from the seed alone.

BatchNorm: training normalises each batch by its own statistics (train mode)
and keeps running statistics per replica, updated as torch does
(:meth:`ModuleNetwork.forward_train_statistics`, the trainer's buffers). Everywhere
else — evaluation, Hessians, grid and path points — the network is evaluated
either with given running statistics (``buffers``: torch's eval mode) or, by
default, with statistics recomputed at the given parameters on a fixed training
subset (the first :data:`STATISTICS_SAMPLES` training inputs,
:meth:`ModuleNetwork.bind_data`), as mode-connectivity work does: the network is
then a function of θ alone, the same at a path's endpoint as the trained network
with freshly estimated statistics (torch's ``reset_running_stats`` and one pass
with ``momentum=None``).
"""

import math
from collections.abc import Callable
from functools import cached_property

import torch
from torch import nn
from torch.func import functional_call, vmap

from statmech_nn.errors import InputError
from statmech_nn.nets.base import Network, PermutationSpec

Factory = Callable[[], nn.Module]
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
STATISTICS_SAMPLES = 256  # training inputs whose statistics BatchNorm layers use


class ModuleNetwork(Network):
    """A network made by ``factory()``; ``name`` labels it in files and messages."""

    def __init__(
        self,
        name: str,
        factory: Factory,
        input_shape: tuple[int, ...],
        n_outputs: int,
        permutation: PermutationSpec | None = None,
        spec: dict | None = None,
    ):
        self.name, self.factory = name, factory
        self.input_shape, self.n_outputs = tuple(input_shape), int(n_outputs)
        self.permutation, self.spec = permutation, spec or {"arch": name}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.module = factory().eval()
        self._norms = [(n, m) for n, m in self.module.named_modules() if isinstance(m, BATCH_NORMS)]
        for _, norm in self._norms:
            norm.track_running_stats = False  # batch statistics in train mode, no updates
        known = {
            f"{name}.{buffer}"
            for name, norm in self._norms
            for buffer, _ in norm.named_buffers(recurse=False)
        }
        other = [n for n, _ in self.module.named_buffers() if n not in known]
        if other:
            raise InputError(
                f"network {name!r}: buffers {other[:3]} other than BatchNorm statistics are not "
                "supported"
            )
        self._statistics_inputs: torch.Tensor | None = None
        self._shapes = {n: tuple(p.shape) for n, p in self.module.named_parameters()}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return self._shapes

    @cached_property
    def buffer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Running mean and variance of every BatchNorm layer, (channels,) each."""
        return {
            f"{name}.{kind}": (norm.num_features,)
            for name, norm in self._norms
            for kind in ("running_mean", "running_var")
        }

    def init_buffers(self, replicas: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """torch's initial running statistics (mean 0, variance 1), (replicas, B)."""
        parts = [
            torch.zeros(s) if name.endswith("running_mean") else torch.ones(s)
            for name, s in self.buffer_shapes.items()
        ]
        flat = torch.cat(parts) if parts else torch.zeros(0)
        return flat.to(dtype).expand(replicas, -1).clone()

    @cached_property
    def buffer_momentum(self) -> torch.Tensor:
        """Every buffer entry's layer ``momentum`` (B,); NaN where it is None (torch's
        cumulative average, factor 1 / batches seen)."""
        parts = [
            torch.full(
                (2 * norm.num_features,),
                math.nan if norm.momentum is None else norm.momentum,
                dtype=torch.float64,
            )
            for _, norm in self._norms
        ]
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)

    def buffer_index(self, param_index: torch.Tensor) -> torch.Tensor:
        """Buffer index (..., B) moving each BatchNorm layer's channels as ``param_index``
        (..., P) moves that layer's ``weight`` (its channels' scale), identity without one."""
        offsets, start = {}, 0
        for name, shape in self.shapes.items():
            offsets[name] = start
            start += math.prod(shape)
        parts, start = [], 0
        for name, shape in self.buffer_shapes.items():
            layer, size = name.rpartition(".")[0], shape[0]
            weight = offsets.get(f"{layer}.weight")
            if weight is None:
                channels = torch.arange(size).expand(*param_index.shape[:-1], size)
            else:
                channels = param_index[..., weight : weight + size] - weight
            parts.append(start + channels)
            start += size
        if not parts:
            return super().buffer_index(param_index)
        return torch.cat(parts, dim=-1)

    def init(self, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The parameters of the module the factory builds after ``torch.manual_seed(seed)``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed % 2**63)
            module = self.factory()
        params = dict(module.named_parameters())
        return self.flatten({n: params[n].detach() for n in self.shapes}).to(dtype)

    def _as_input(self, x: torch.Tensor) -> torch.Tensor:
        features = math.prod(self.input_shape)
        if x.shape[-1] != features:
            raise InputError(
                f"{self.name}: inputs have {x.shape[-1]} features, the network takes "
                f"{list(self.input_shape)} = {features}"
            )
        return x.reshape(*x.shape[:-1], *self.input_shape)

    @property
    def norm_layers(self) -> set[str]:
        return {name for name, _ in self._norms}

    @property
    def batch_norm(self) -> bool:
        return bool(self._norms)

    def bind_data(self, x_train: torch.Tensor) -> None:
        """Keep the first :data:`STATISTICS_SAMPLES` training inputs for BatchNorm statistics."""
        if self._norms:
            self._statistics_inputs = self._as_input(x_train[:STATISTICS_SAMPLES])

    def _batch_statistics(self, params: dict[str, torch.Tensor], xs: torch.Tensor):
        """Outputs for ``xs`` in train mode and, per norm layer, the mean and unbiased
        variance of its input over the batch (what torch's running statistics average)."""
        seen: dict[str, torch.Tensor] = {}
        hooks = [
            norm.register_forward_pre_hook(lambda _m, inp, n=name: seen.__setitem__(n, inp[0]))
            for name, norm in self._norms
        ]
        self.module.train()
        try:
            out = functional_call(self.module, params, (xs,))
        finally:
            self.module.eval()
            for hook in hooks:
                hook.remove()
        stats = {}
        for name, h in seen.items():
            dims = [d for d in range(h.dim()) if d != 1]
            stats[name] = (h.mean(dims), h.var(dims, correction=1))
        return out, stats

    def _statistics(self, params: dict[str, torch.Tensor], like: torch.Tensor):
        """Per norm layer, the mean and unbiased variance of its input over the bound
        training subset at ``params`` (torch's running statistics after one pass with
        ``momentum=None``), as functions of θ."""
        if self._statistics_inputs is None:
            raise InputError(
                f"network {self.name!r} has BatchNorm layers: bind_data(training inputs) first"
            )
        return self._batch_statistics(params, self._statistics_inputs.to(like))[1]

    def _normalised_by(self, stats: dict[str, tuple[torch.Tensor, torch.Tensor]]):
        """Forward hooks that replace each norm layer's eval-mode output by its input
        normalised with ``stats``, written out so that it is differentiable in the
        statistics too (torch's batch_norm is not, in its running statistics)."""

        def hook(norm, inputs, _output, name):
            x = inputs[0]
            shape = (1, -1) + (1,) * (x.dim() - 2)
            mean, var = (t.view(shape) for t in stats[name])
            y = (x - mean) * torch.rsqrt(var + norm.eps)
            return y * norm.weight.view(shape) + norm.bias.view(shape) if norm.affine else y

        return [
            norm.register_forward_hook(lambda m, i, o, n=name: hook(m, i, o, n))
            for name, norm in self._norms
        ]

    def _given_statistics(self, buffers: torch.Tensor):
        """Per norm layer, (running mean, running variance) from a flat buffer vector (B,)."""
        named = self.unflatten_buffers(buffers)
        return {n: (named[f"{n}.running_mean"], named[f"{n}.running_var"]) for n, _ in self._norms}

    def _mapped(
        self, theta: torch.Tensor, x: torch.Tensor, train: bool, buffers: torch.Tensor | None
    ) -> torch.Tensor:
        xs = self._as_input(x)

        def one(th: torch.Tensor, buf: torch.Tensor | None = None) -> torch.Tensor:
            params = self.unflatten(th)
            hooks = []
            if self._norms and not train:
                stats = self._statistics(params, xs) if buf is None else self._given_statistics(buf)
                hooks = self._normalised_by(stats)
                # placeholders in the right dtype for the eval-mode call the hooks overwrite
                for name, (mean, var) in stats.items():
                    params[f"{name}.running_mean"] = torch.zeros_like(mean)
                    params[f"{name}.running_var"] = torch.ones_like(var)
            self.module.train(train)
            try:
                return functional_call(self.module, params, (xs,))
            finally:
                self.module.eval()
                for hook in hooks:
                    hook.remove()

        lead = theta.shape[:-1]
        args: tuple[torch.Tensor, ...] = (theta,)
        if buffers is not None and self._norms:
            b = buffers.to(theta)
            b = b.reshape(*b.shape[:-1], *[1] * (len(lead) - b.dim() + 1), b.shape[-1])
            args = (theta, b.expand(*lead, b.shape[-1]))
        fn = one
        for _ in range(len(lead)):
            fn = vmap(fn)
        return fn(*args)

    def forward(
        self, theta: torch.Tensor, x: torch.Tensor, buffers: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Outputs (..., n, n_outputs) for θ (..., P) and flat inputs x (n, features).

        BatchNorm layers normalise with the running statistics ``buffers`` (..., B)
        (eval mode; leading dims a prefix of θ's, aligned from the left) or, when
        None, with statistics recomputed at θ on the bound training subset.
        """
        return self._mapped(theta, x, False, buffers)

    def forward_train(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs in train mode: BatchNorm normalises the batch ``x`` by its own statistics."""
        return self._mapped(theta, x, True, None)

    def forward_train_statistics(
        self, theta: torch.Tensor, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Train-mode outputs (n, n_outputs) of one replica θ (P,) and the batch statistics
        (B,) in buffer order — per norm layer the mean and unbiased variance of its input
        over the batch and positions, which torch's running statistics average."""
        out, stats = self._batch_statistics(self.unflatten(theta), self._as_input(x))
        return out, torch.cat([t for name, _ in self._norms for t in stats[name]])

    @cached_property
    def activations_per_sample(self) -> int:
        """Outputs of every leaf module for one sample (measured by forward hooks), ×2."""
        counts: list[int] = []
        hooks = [
            m.register_forward_hook(lambda _m, _i, out: counts.append(out.numel()))
            for m in self.module.modules()
            if not list(m.children())
        ]
        try:
            with torch.no_grad():
                self.module(torch.zeros(1, *self.input_shape))
        finally:
            for h in hooks:
                h.remove()
        return 2 * sum(counts) + 3 * self.n_outputs

    def describe(self) -> dict[str, object]:
        import json

        batch_norm = (
            f"recomputed at each evaluated point on the first {STATISTICS_SAMPLES} training "
            "inputs (bn_statistics: recompute), or the running statistics of `buffers` (eval); "
            "each stage file's bn_statistics attr says which"
            if self._norms
            else "none"
        )
        return super().describe() | {
            "network_json": json.dumps(self.spec, sort_keys=True),
            "batch_norm_statistics": batch_norm,
        }
