"""Architecture strings -> functional models over flat parameter vectors.

``"mlp-d2-w64-tanh"`` is an MLP with 2 hidden layers of width 64 and tanh
activations (the activation defaults to tanh, whose Hessian is smooth);
``"perceptron"`` is a single linear map without bias. A model is a pure
function ``forward(theta, x)`` of a flat parameter vector ``theta`` of shape
``(..., P)``; leading dimensions (replicas, grid points) broadcast through
every matmul, so R replicas run as one batched product without a Python loop.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F

from statmech_nn.arch import ARCH_REGEX, Architecture, parse_architecture
from statmech_nn.errors import InputError

__all__ = ["ACTIVATIONS", "ARCH_REGEX", "Architecture", "Model", "linear", "parse_architecture"]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
}


def linear(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """h·wᵀ + b with leading dims of ``h`` (..., n, i) and ``w`` (..., o, i) broadcast.

    Shared inputs (``h`` 2-D) against stacked weights become one GEMM of
    (n, i)·(i, L·o), and equal leading dims one fused ``baddbmm``, instead of a
    broadcast batched product over an expanded copy of ``h``.
    """
    if h.dim() == 2 and w.dim() > 2:
        lead, (o, i) = w.shape[:-2], w.shape[-2:]
        flat_w = w.reshape(-1, i)
        out = h @ flat_w.T if b is None else torch.addmm(b.reshape(-1), h, flat_w.T)
        return out.reshape(h.shape[0], *lead, o).movedim(0, -2)
    if h.dim() == 3 and w.dim() == 3 and h.shape[0] == w.shape[0]:
        if b is None:
            return torch.bmm(h, w.mT)
        return torch.baddbmm(b.unsqueeze(-2), h, w.mT)
    out = h @ w.mT
    return out if b is None else out + b.unsqueeze(-2)


@dataclass(frozen=True)
class Model:
    """An architecture with its input and output sizes: shapes, init and forward."""

    arch: Architecture
    in_dim: int
    out_dim: int

    @classmethod
    def build(cls, arch: str | Architecture, in_dim: int, out_dim: int) -> "Model":
        return cls(parse_architecture(arch) if isinstance(arch, str) else arch, in_dim, out_dim)

    @classmethod
    def from_attrs(cls, attrs: dict) -> "Model":
        """The model a training file describes (its ``arch``, ``in_dim``, ``out_dim`` attrs)."""
        return cls.build(attrs["arch"], int(attrs["in_dim"]), int(attrs["out_dim"]))

    @cached_property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Tensor name -> shape, in the order of the flat vector (weights are (out, in))."""
        sizes = [self.in_dim] + [self.arch.width] * self.arch.depth + [self.out_dim]
        shapes: dict[str, tuple[int, ...]] = {}
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            shapes[f"layer{layer}.weight"] = (fan_out, fan_in)
            if self.arch.bias:
                shapes[f"layer{layer}.bias"] = (fan_out,)
        return shapes

    @cached_property
    def n_params(self) -> int:
        return sum(math.prod(s) for s in self.shapes.values())

    @cached_property
    def n_layers(self) -> int:
        return self.arch.depth + 1

    @cached_property
    def param_tensor(self) -> list[str]:
        """For every entry of the flat vector, the name of its tensor."""
        return [name for name, s in self.shapes.items() for _ in range(math.prod(s))]

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of ``theta`` (..., P) as named tensors of shape (..., *shape)."""
        if theta.shape[-1] != self.n_params:
            raise InputError(
                f"{self.arch.name}: expected {self.n_params} parameters, got {theta.shape[-1]}"
            )
        # one split (its gradient is one cat), not a slice per tensor (a zero fill each)
        lead = theta.shape[:-1]
        sizes = [math.prod(shape) for shape in self.shapes.values()]
        parts = torch.split(theta, sizes, dim=-1)
        return {
            name: part.reshape(*lead, *shape)
            for (name, shape), part in zip(self.shapes.items(), parts, strict=True)
        }

    def flatten(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Inverse of :meth:`unflatten`: named tensors (..., *shape) -> (..., P)."""
        parts = []
        for name, shape in self.shapes.items():
            t = params[name]
            parts.append(t.reshape(*t.shape[: t.dim() - len(shape)], -1))
        return torch.cat(parts, dim=-1)

    def forward(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Network outputs for inputs ``x`` (..., n, in_dim): shape (..., n, out_dim).

        Leading dimensions of ``theta`` (..., P) broadcast against those of ``x``.
        """
        params = self.unflatten(theta)
        act = ACTIVATIONS.get(self.arch.activation)
        h = x
        for layer in range(self.n_layers):
            h = linear(h, params[f"layer{layer}.weight"], params.get(f"layer{layer}.bias"))
            if layer < self.n_layers - 1:
                h = act(h)
        return h

    def init(self, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """PyTorch's default ``nn.Linear`` init, U(±1/√fan_in), from its own generator."""
        gen = torch.Generator().manual_seed(seed)
        parts = []
        for name, shape in self.shapes.items():
            layer = name.split(".")[0]
            fan_in = self.shapes[f"{layer}.weight"][1]
            bound = 1.0 / math.sqrt(fan_in)
            u = torch.rand(math.prod(shape), generator=gen, dtype=torch.float64)
            parts.append(((2 * u - 1) * bound).to(dtype))
        return torch.cat(parts)

    def init_replicas(self, seeds: list[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Stacked initial parameters (R, P), replica r from ``seeds[r]``."""
        return torch.stack([self.init(s, dtype) for s in seeds])
