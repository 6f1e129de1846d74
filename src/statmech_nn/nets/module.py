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
        buffers = [name for name, _ in self.module.named_buffers()]
        if buffers:
            raise InputError(
                f"network {name!r}: buffers {buffers[:3]} (BatchNorm running statistics) are "
                "not supported yet; use a network without BatchNorm"
            )
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

    def forward(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs (..., n, n_outputs) for θ (..., P) and flat inputs x (n, features)."""
        xs = self._as_input(x)

        def one(th: torch.Tensor) -> torch.Tensor:
            return functional_call(self.module, self.unflatten(th), (xs,))

        fn = one
        for _ in range(theta.dim() - 1):
            fn = vmap(fn)
        return fn(theta)

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

        return super().describe() | {"network_json": json.dumps(self.spec, sort_keys=True)}
