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

BatchNorm: training normalises each batch by its own statistics (train mode).
Everywhere else — evaluation, Hessians, grid and path points — the statistics
are recomputed at the given parameters on a fixed training subset (the first
:data:`STATISTICS_SAMPLES` training inputs, :meth:`ModuleNetwork.bind_data`), as
mode-connectivity work does: the network is then a function of θ alone, the
same at a path's endpoint as the trained network with freshly estimated
statistics (torch's ``reset_running_stats`` and one pass with ``momentum=None``).
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
    def batch_norm(self) -> bool:
        return bool(self._norms)

    def bind_data(self, x_train: torch.Tensor) -> None:
        """Keep the first :data:`STATISTICS_SAMPLES` training inputs for BatchNorm statistics."""
        if self._norms:
            self._statistics_inputs = self._as_input(x_train[:STATISTICS_SAMPLES])

    def _statistics(self, params: dict[str, torch.Tensor], like: torch.Tensor):
        """Per norm layer, the mean and unbiased variance of its input over the bound
        training subset at ``params`` (torch's running statistics after one pass with
        ``momentum=None``), as functions of θ."""
        if self._statistics_inputs is None:
            raise InputError(
                f"network {self.name!r} has BatchNorm layers: bind_data(training inputs) first"
            )
        seen: dict[str, torch.Tensor] = {}
        hooks = [
            norm.register_forward_pre_hook(lambda _m, inp, n=name: seen.__setitem__(n, inp[0]))
            for name, norm in self._norms
        ]
        self.module.train()
        try:
            functional_call(self.module, params, (self._statistics_inputs.to(like),))
        finally:
            for hook in hooks:
                hook.remove()
        stats = {}
        for name, h in seen.items():
            dims = [d for d in range(h.dim()) if d != 1]
            stats[name] = (h.mean(dims), h.var(dims, correction=1))
        return stats

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

    def _mapped(self, theta: torch.Tensor, x: torch.Tensor, train: bool) -> torch.Tensor:
        xs = self._as_input(x)

        def one(th: torch.Tensor) -> torch.Tensor:
            params = self.unflatten(th)
            hooks = []
            if self._norms and not train:
                stats = self._statistics(params, xs)
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

        fn = one
        for _ in range(theta.dim() - 1):
            fn = vmap(fn)
        return fn(theta)

    def forward(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs (..., n, n_outputs) for θ (..., P) and flat inputs x (n, features);
        BatchNorm statistics recomputed at θ on the bound training subset."""
        return self._mapped(theta, x, train=False)

    def forward_train(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs in train mode: BatchNorm normalises the batch ``x`` by its own statistics."""
        return self._mapped(theta, x, train=True)

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
            f"recomputed at each point on the first {STATISTICS_SAMPLES} training inputs"
            if self._norms
            else "none"
        )
        return super().describe() | {
            "network_json": json.dumps(self.spec, sort_keys=True),
            "batch_norm_statistics": batch_norm,
        }
