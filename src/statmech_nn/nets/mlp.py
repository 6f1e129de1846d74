"""The MLP family (``perceptron``, ``mlp-d2-w64-tanh``) over flat parameter vectors.

The one definition of the MLP's forward pass; :mod:`statmech_nn.backprop` (training)
and :mod:`statmech_nn.landscape` (grids) are fast paths of it, pinned to it by
parity tests. Leading dimensions of θ (replicas, grid points) broadcast through
every matmul, so R replicas run as one batched product without a Python loop.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F

from statmech_nn.arch import Architecture, parse_architecture
from statmech_nn.errors import InputError
from statmech_nn.nets.base import Network, PermutationSpec, hidden_unit_permutations

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
class MLP(Network):
    """An MLP architecture with its input and output sizes: shapes, init and forward."""

    arch: Architecture
    in_dim: int
    out_dim: int

    @classmethod
    def build(cls, arch: str | Architecture, in_dim: int, out_dim: int) -> "MLP":
        parsed = parse_architecture(arch) if isinstance(arch, str) else arch
        if not isinstance(parsed, Architecture):
            raise InputError(f"architecture {parsed.name!r} is not an MLP")
        return cls(parsed, in_dim, out_dim)

    @classmethod
    def from_attrs(cls, attrs: dict) -> "MLP":
        """The model a training file describes (its ``arch``, ``in_dim``, ``out_dim`` attrs)."""
        return cls.build(attrs["arch"], int(attrs["in_dim"]), int(attrs["out_dim"]))

    @property
    def name(self) -> str:
        return self.arch.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.in_dim,)

    @property
    def n_outputs(self) -> int:
        return self.out_dim

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
    def n_layers(self) -> int:
        return self.arch.depth + 1

    @cached_property
    def permutation(self) -> PermutationSpec | None:
        """Hidden units of every hidden layer (None for the perceptron: nothing to permute)."""
        if self.arch.depth == 0:
            return None
        layers = [f"layer{i}" for i in range(self.n_layers)]
        return hidden_unit_permutations(layers[:-1], layers[1:])

    @property
    def activations_per_sample(self) -> int:
        """Hidden pre-activations and activations, outputs (×3: logits, softmax, loss)."""
        return 2 * self.arch.width * self.arch.depth + 3 * self.out_dim

    def forward(
        self, theta: torch.Tensor, x: torch.Tensor, buffers: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Network outputs for inputs ``x`` (..., n, in_dim): shape (..., n, out_dim).

        Leading dimensions of ``theta`` (..., P) broadcast against those of ``x``; an
        MLP has no buffers (``buffers`` is ignored).
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

    def trainer(self, loss: str):
        """The hand-written backward (:class:`statmech_nn.backprop.Backprop`)."""
        from statmech_nn.backprop import Backprop

        return Backprop(self, loss)

    def describe(self) -> dict[str, object]:
        return super().describe() | {"in_dim": self.in_dim, "out_dim": self.out_dim}
