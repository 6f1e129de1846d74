"""The built-in CNN family: ``cnn-c16-c32-k3[-act][-bn]``.

Convolutions with the listed output channels, kernel k, stride 1 and "same"
padding (k // 2), each followed by the activation; global average pooling over
the image; a linear head. Parameters ``conv{i}.weight`` (c_out, c_in, k, k),
``conv{i}.bias`` and ``head.weight``/``head.bias``. The channels of every
convolution can be permuted without changing the function (rows of conv i, its
bias, and the input channels of conv i+1 or the head's columns, which global
pooling keeps in channel order): :attr:`permutation`.

:class:`ConvNetwork` is the family's network: :class:`ModuleNetwork`'s interface
(names, shapes, init, buffers from the module), its forward passes and training
by the stacked fast path of :mod:`statmech_nn.nets.cnn_stack` (no ``vmap``);
:meth:`ConvNetwork.generic` is the same network through ``functional_call`` and
``vmap``, which parity tests pin it to.
"""

import math

import torch
from torch import nn

from statmech_nn.arch import ConvArchitecture
from statmech_nn.errors import InputError
from statmech_nn.nets.base import PermutationSpec, hidden_unit_permutations
from statmech_nn.nets.cnn_stack import ConvStack, Stats, stack_forward
from statmech_nn.nets.module import ModuleNetwork

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


class ConvNet(nn.Module):
    """Convolutions → global average pooling → linear head (see the module docstring)."""

    def __init__(self, arch: ConvArchitecture, in_channels: int, n_outputs: int):
        super().__init__()
        self.n_conv = len(arch.channels)
        c_in = in_channels
        for i, c_out in enumerate(arch.channels):
            conv = nn.Conv2d(c_in, c_out, arch.kernel, padding=arch.kernel // 2)
            setattr(self, f"conv{i}", conv)
            if arch.batch_norm:
                setattr(self, f"norm{i}", nn.BatchNorm2d(c_out))
            c_in = c_out
        self.act = _ACTIVATIONS[arch.activation]()
        self.head = nn.Linear(c_in, n_outputs)
        self.batch_norm = arch.batch_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.n_conv):
            x = getattr(self, f"conv{i}")(x)
            if self.batch_norm:
                x = getattr(self, f"norm{i}")(x)
            x = self.act(x)
        # the mean over pixels as sum / pixels: the backward of torch's mean materialises the
        # expanded gradient (a pass over the activations), that of sum does not
        return self.head(x.sum(dim=(-2, -1)) / (x.shape[-2] * x.shape[-1]))


def conv_network(arch: ConvArchitecture, input_shape: tuple[int, ...], n_outputs: int):
    """The CNN ``arch`` on images ``input_shape`` = (channels, height, width)."""
    if len(input_shape) != 3:
        raise InputError(
            f"{arch.name}: a CNN takes images (channels, height, width), the data set has "
            f"inputs of shape {list(input_shape)} (serve digits as images: `images: true`)"
        )
    convs = [f"conv{i}" for i in range(len(arch.channels))]
    spec = hidden_unit_permutations(convs, [*convs[1:], "head"])
    if arch.batch_norm:  # a channel's BatchNorm scale and shift move with it
        spec = PermutationSpec(
            {
                g: (*pairs, (f"norm{i}.weight", 0), (f"norm{i}.bias", 0))
                for i, (g, pairs) in enumerate(spec.axes.items())
            }
        )
    return ConvNetwork(arch, tuple(input_shape), n_outputs, spec)


class ConvNetwork(ModuleNetwork):
    """A built-in CNN whose outputs for a stack of parameter vectors come from one
    batched pass (:func:`~statmech_nn.nets.cnn_stack.stack_forward`); BatchNorm
    semantics as :class:`ModuleNetwork`'s (see :mod:`statmech_nn.nets.module`)."""

    def __init__(self, arch, input_shape, n_outputs, permutation):
        super().__init__(
            arch.name,
            lambda: ConvNet(arch, input_shape[0], n_outputs),
            input_shape,
            n_outputs,
            permutation=permutation,
        )
        eps = self._norms[0][1].eps if self._norms else 0.0  # every layer's: torch's default
        self.stack = ConvStack(
            len(arch.channels), arch.kernel, arch.activation, arch.batch_norm, eps
        )

    def generic(self) -> ModuleNetwork:
        """The same network through ``functional_call`` and ``vmap`` (the reference)."""
        net = ModuleNetwork(
            self.name, self.factory, self.input_shape, self.n_outputs, self.permutation
        )
        net._statistics_inputs = self._statistics_inputs
        return net

    def _stacked(self, theta: torch.Tensor):
        """θ (..., P) as a stack of S = ∏ leading dims: (leading shape, named (S, *shape))."""
        lead = theta.shape[:-1]
        return lead, self.unflatten(theta.reshape(math.prod(lead), theta.shape[-1]))

    def _flat_stats(self, stats: Stats) -> torch.Tensor:
        """Batch statistics in buffer order (S, B): per norm layer its mean and variance."""
        return torch.cat([t for i in sorted(stats) for t in stats[i]], dim=-1)

    def _buffer_stats(self, buffers: torch.Tensor, lead: tuple[int, ...]) -> Stats:
        """Running statistics ``buffers`` (leading dims a prefix of ``lead``) per layer,
        (S, C) each."""
        b = buffers.reshape(*buffers.shape[:-1], *[1] * (len(lead) - buffers.dim() + 1), -1)
        named = self.unflatten_buffers(b.expand(*lead, b.shape[-1]).reshape(-1, b.shape[-1]))
        return {
            i: (named[f"norm{i}.running_mean"], named[f"norm{i}.running_var"])
            for i in range(self.stack.n_conv)
        }

    def _recomputed_stats(self, params: dict[str, torch.Tensor], like: torch.Tensor) -> Stats:
        """Mean and unbiased variance of every norm layer's input over the bound training
        subset at each stacked θ, as functions of θ (see :mod:`statmech_nn.nets.module`)."""
        if self._statistics_inputs is None:
            raise InputError(
                f"network {self.name!r} has BatchNorm layers: bind_data(training inputs) first"
            )
        xs = self._statistics_inputs.to(like)
        return stack_forward(self.stack, params, xs, "train")[1]

    def forward(
        self, theta: torch.Tensor, x: torch.Tensor, buffers: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Outputs (..., n, n_outputs) for θ (..., P), inputs (n, features); BatchNorm by
        ``buffers`` (..., B) or, when None, statistics recomputed at θ."""
        lead, params = self._stacked(theta)
        xs = self._as_input(x)
        stats = None
        if self.stack.batch_norm:
            if buffers is None:
                stats = self._recomputed_stats(params, xs)
            else:
                stats = self._buffer_stats(buffers.to(theta), lead)
        out = stack_forward(self.stack, params, xs, "eval", stats)[0]
        return out.reshape(*lead, *out.shape[1:])

    def forward_train(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs in train mode: BatchNorm normalises the batch ``x`` by its own statistics."""
        lead, params = self._stacked(theta)
        out = stack_forward(self.stack, params, self._as_input(x), "train")[0]
        return out.reshape(*lead, *out.shape[1:])

    def forward_train_statistics(self, theta: torch.Tensor, x: torch.Tensor):
        """Train-mode outputs (n, n_outputs) of one replica θ (P,) and its batch statistics
        (B,) in buffer order (mean and unbiased variance of every norm layer's input)."""
        out, stats = self.train_outputs(theta.unsqueeze(0), x.unsqueeze(0))
        return out[0], stats[0]

    def train_outputs(self, theta: torch.Tensor, x: torch.Tensor):
        """Train-mode outputs (R, n, n_outputs) of replicas θ (R, P) on their own batches
        x (R, n, features), and their batch statistics (R, B) (None without BatchNorm)."""
        params = self.unflatten(theta)
        out, stats = stack_forward(self.stack, params, self._as_input(x), "train")
        return out, self._flat_stats(stats) if stats else None

    def trainer(self, loss: str):
        """Every replica's loss and gradient from one backward of the stacked forward."""
        from statmech_nn.nets.functional import StackedTrainer

        return StackedTrainer(self, loss)
