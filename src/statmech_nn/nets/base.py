"""The one network interface every stage uses (DESIGN §2b).

A :class:`Network` is a pure function of a flat parameter vector: parameters
θ (..., P) with any leading dimensions (replicas, grid points, path points) and
inputs x (n, features) shared by all of them give outputs (..., n, n_outputs).
It also knows the names and shapes of its tensors (``shapes``, in the order of
the flat vector), how to initialise R replicas from R seeds, the tensors of
each layer (per-layer overlaps), the hidden units that can be permuted without
changing its function (``permutation``, or None: alignment is then skipped)
and how many activations one sample produces (memory budgets).

Implementations: :class:`statmech_nn.nets.mlp.MLP` (hand-written fast paths for
training and grids) and :class:`statmech_nn.nets.module.ModuleNetwork` (any
``torch.nn.Module`` through ``torch.func.functional_call`` and ``vmap``).
"""

import json
import math
from dataclasses import dataclass
from functools import cached_property

import torch

from statmech_nn.errors import InputError


@dataclass(frozen=True)
class PermutationSpec:
    """Groups of hidden units (or channels) whose joint permutation preserves the function.

    ``axes[group]`` lists the (tensor name, axis) pairs the group's permutation acts
    on: the rows of the layer that makes the units and the columns of the layer
    that reads them (Ainsworth et al., "Git Re-Basin", ICLR 2023, §3).
    """

    axes: dict[str, tuple[tuple[str, int], ...]]

    def by_tensor(self) -> dict[str, dict[int, str]]:
        """tensor name -> {axis: group} for every permuted axis."""
        out: dict[str, dict[int, str]] = {}
        for group, pairs in self.axes.items():
            for name, axis in pairs:
                out.setdefault(name, {})[axis] = group
        return out


def hidden_unit_permutations(layers: list[str], heads: list[str]) -> PermutationSpec:
    """The spec of a chain of layers: the units of ``layers[i]`` (rows of its weight and
    bias, and of any other per-unit tensor listed) are read by ``heads[i]`` (its columns).

    ``layers[i]`` are tensor-name prefixes whose ``.weight``/``.bias`` make the units.
    """
    return PermutationSpec(
        {
            layer: ((f"{layer}.weight", 0), (f"{layer}.bias", 0), (f"{reader}.weight", 1))
            for layer, reader in zip(layers, heads, strict=True)
        }
    )


class Network:
    """Interface and shared flat-vector machinery; subclasses define ``shapes``,
    :meth:`forward`, :meth:`init` and ``activations_per_sample``."""

    name: str
    input_shape: tuple[int, ...]
    n_outputs: int
    permutation: PermutationSpec | None = None

    # -- shapes and the flat vector -------------------------------------------------

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Tensor name -> shape, in the order of the flat vector."""
        raise NotImplementedError

    @cached_property
    def n_params(self) -> int:
        return sum(math.prod(s) for s in self.shapes.values())

    @cached_property
    def param_tensor(self) -> list[str]:
        """For every entry of the flat vector, the name of its tensor."""
        return [name for name, s in self.shapes.items() for _ in range(math.prod(s))]

    @cached_property
    def layers(self) -> dict[str, list[str]]:
        """Layer (the tensor name up to its last '.') -> its tensors, in flat order."""
        out: dict[str, list[str]] = {}
        for name in self.shapes:
            out.setdefault(name.rpartition(".")[0] or name, []).append(name)
        return out

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of ``theta`` (..., P) as named tensors of shape (..., *shape)."""
        if theta.shape[-1] != self.n_params:
            raise InputError(
                f"{self.name}: expected {self.n_params} parameters, got {theta.shape[-1]}"
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

    # -- buffers (BatchNorm running statistics) -------------------------------------

    @property
    def buffer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Buffer name -> shape, in the order of the flat buffer vector (none by default)."""
        return {}

    @cached_property
    def n_buffers(self) -> int:
        return sum(math.prod(s) for s in self.buffer_shapes.values())

    @cached_property
    def buffer_tensor(self) -> list[str]:
        """For every entry of the flat buffer vector, the name of its buffer."""
        return [name for name, s in self.buffer_shapes.items() for _ in range(math.prod(s))]

    def unflatten_buffers(self, buffers: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of ``buffers`` (..., B) as named tensors (..., *shape)."""
        sizes = [math.prod(s) for s in self.buffer_shapes.values()]
        parts = torch.split(buffers, sizes, dim=-1)
        lead = buffers.shape[:-1]
        return {
            name: part.reshape(*lead, *shape)
            for (name, shape), part in zip(self.buffer_shapes.items(), parts, strict=True)
        }

    def flatten_buffers(self, buffers: dict[str, torch.Tensor]) -> torch.Tensor:
        """Inverse of :meth:`unflatten_buffers` (extra entries of ``buffers`` are ignored)."""
        parts = [
            buffers[name].reshape(*buffers[name].shape[: buffers[name].dim() - len(shape)], -1)
            for name, shape in self.buffer_shapes.items()
        ]
        return torch.cat(parts, dim=-1) if parts else torch.zeros(0)

    def buffer_index(self, param_index: torch.Tensor) -> torch.Tensor:
        """Flat buffer index (..., B) that moves buffers as ``param_index`` (..., P) moves
        parameters (``permute(θ) == θ[..., param_index]``): the identity without buffers."""
        return torch.arange(self.n_buffers).expand(*param_index.shape[:-1], self.n_buffers)

    # -- what subclasses define -----------------------------------------------------

    def forward(
        self, theta: torch.Tensor, x: torch.Tensor, buffers: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Outputs (..., n, n_outputs) for parameters (..., P) and inputs (n, features).

        ``buffers`` (..., B), the running statistics to evaluate with (their leading
        dimensions a prefix of θ's, aligned from the left: one set per replica serves
        all its grid points), matter only to networks with buffers; None means the
        network's own choice (BatchNorm: statistics recomputed at θ).
        """
        raise NotImplementedError

    def init(self, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Initial parameters (P,) from ``seed`` alone."""
        raise NotImplementedError

    @property
    def activations_per_sample(self) -> int:
        """Numbers one sample's forward pass produces (for memory budgets)."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------

    def forward_train(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs in training (differs from :meth:`forward` only with BatchNorm)."""
        return self.forward(theta, x)

    def bind_data(self, x_train: torch.Tensor) -> None:
        """Keep what the network needs of the training inputs (BatchNorm statistics)."""

    def init_replicas(self, seeds: list[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Stacked initial parameters (R, P), replica r from ``seeds[r]``."""
        return torch.stack([self.init(s, dtype) for s in seeds])

    def trainer(self, loss: str):
        """Per-replica loss, gradient and outputs (the generic, torch.func path)."""
        from statmech_nn.nets.functional import FunctionalTrainer

        return FunctionalTrainer(self, loss)

    @property
    def norm_layers(self) -> set[str]:
        """Names of the normalisation layers (BatchNorm scale and shift): not counted in depth."""
        return set()

    def _hidden_layers(self) -> list[list[str]]:
        """Tensors of each layer with parameters, less the output layer and norm layers."""
        return [t for n, t in list(self.layers.items())[:-1] if n not in self.norm_layers]

    @property
    def depth(self) -> int:
        """Hidden layers: layers with parameters, less the output layer and norm layers."""
        return len(self._hidden_layers())

    @property
    def width(self) -> int:
        """The widest hidden layer (units or channels), 0 without one."""
        return max((self.shapes[t[0]][0] for t in self._hidden_layers()), default=0)

    def describe(self) -> dict[str, object]:
        """The attrs every stage's file carries about its network."""
        return {
            "arch": self.name,
            "depth": self.depth,
            "width": self.width,
            "n_params": self.n_params,
            "input_shape_json": json.dumps(list(self.input_shape)),
            "n_outputs": self.n_outputs,
            "permutable": int(self.permutation is not None),
        }
