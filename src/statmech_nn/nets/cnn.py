"""The built-in CNN family: ``cnn-c16-c32-k3[-pool][-act][-bn]``.

Convolutions with the listed output channels, kernel k, stride 1 and "same"
padding (k // 2), each followed by the activation; with ``-pool`` a 2×2 average
pooling of stride 2 (:func:`pool`) after every convolution but the last, which
cuts the later layers' pixels, and their cost, by 4 each; global average pooling
over the image; a linear head. Parameters ``conv{i}.weight`` (c_out, c_in, k, k),
``conv{i}.bias`` and ``head.weight``/``head.bias``. The channels of every
convolution can be permuted without changing the function (rows of conv i, its
bias, and the input channels of conv i+1 or the head's columns, which global
pooling keeps in channel order, as does the 2×2 pooling): :attr:`permutation`.

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
from statmech_nn.nets.cnn_stack import ConvStack, Stats, pool, stack_forward
from statmech_nn.nets.module import ModuleNetwork

# Blocks of (network, sample) pairs whose widest activations take about 1 MiB: on a CPU
# the convolutions of such blocks run 2-3x faster than on tens of MB (cache), measured.
BLOCK_BYTES = 2**20
BLOCK_MIN_PAIRS = 16

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
        self.pool = arch.pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.n_conv):
            x = getattr(self, f"conv{i}")(x)
            if self.batch_norm:
                x = getattr(self, f"norm{i}")(x)
            x = self.act(x)
            if self.pool and i < self.n_conv - 1:
                x = pool(x)
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
        self.arch = arch
        eps = self._norms[0][1].eps if self._norms else 0.0  # every layer's: torch's default
        self.stack = ConvStack(
            len(arch.channels), arch.kernel, arch.activation, arch.batch_norm, eps, arch.pool
        )

    def generic(self) -> ModuleNetwork:
        """The same network through ``functional_call`` and ``vmap`` (the reference)."""
        net = ModuleNetwork(
            self.name, self.factory, self.input_shape, self.n_outputs, self.permutation
        )
        net._statistics_inputs = self._statistics_inputs
        return net

    def _block(self, stack: int, n: int, itemsize: int, split_samples: bool):
        """(networks, samples) per block: about :data:`BLOCK_BYTES` of the widest layer's
        activations. Samples are split only where BatchNorm does not need the whole batch."""
        widest = max(self.arch.channels) * math.prod(self.input_shape[1:]) * itemsize
        pairs = max(BLOCK_MIN_PAIRS, BLOCK_BYTES // widest)
        if split_samples and n >= pairs:
            return 1, pairs
        return max(1, min(stack, pairs // max(n, 1))), n

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
        lead = theta.shape[:-1]
        flat = theta.reshape(math.prod(lead), theta.shape[-1])
        xs = self._as_input(x)
        given = None
        if self.stack.batch_norm and buffers is not None:
            given = self._buffer_stats(buffers.to(theta), lead)
        per_stack, per_sample = self._block(len(flat), len(xs), theta.element_size(), True)
        outs = []
        for start in range(0, len(flat), per_stack):
            part = slice(start, start + per_stack)
            params = self.unflatten(flat[part])
            stats = None
            if given is not None:
                stats = {i: (m[part], v[part]) for i, (m, v) in given.items()}
            elif self.stack.batch_norm:
                stats = self._recomputed_stats(params, xs)
            outs.append(
                torch.cat(
                    [
                        stack_forward(self.stack, params, xb, "eval", stats)[0]
                        for xb in xs.split(per_sample)
                    ],
                    dim=1,
                )
            )
        out = torch.cat(outs)
        return out.reshape(*lead, *out.shape[1:])

    def forward_train(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs in train mode: BatchNorm normalises the batch ``x`` by its own statistics."""
        lead = theta.shape[:-1]
        flat = theta.reshape(math.prod(lead), theta.shape[-1])
        out = self._train_blocks(flat, self._as_input(x))[0]
        return out.reshape(*lead, *out.shape[1:])

    def forward_train_statistics(self, theta: torch.Tensor, x: torch.Tensor):
        """Train-mode outputs (n, n_outputs) of one replica θ (P,) and its batch statistics
        (B,) in buffer order (mean and unbiased variance of every norm layer's input)."""
        out, stats = self.train_outputs(theta.unsqueeze(0), x.unsqueeze(0))
        return out[0], out.new_zeros(0) if stats is None else stats[0]

    def train_outputs(self, theta: torch.Tensor, x: torch.Tensor):
        """Train-mode outputs (R, n, n_outputs) of replicas θ (R, P) on their own batches
        x (R, n, features), and their batch statistics (R, B) (None without BatchNorm)."""
        return self._train_blocks(theta, self._as_input(x))

    def _train_blocks(self, theta: torch.Tensor, xs: torch.Tensor):
        """Train-mode outputs and flat batch statistics of θ (S, P) on images shared
        (n, C, H, W) or per network (S, n, C, H, W), in blocks of networks."""
        shared = xs.dim() == 4
        n = xs.shape[0] if shared else xs.shape[1]
        per_stack = self._block(len(theta), n, theta.element_size(), False)[0]
        outs, stats = [], []
        for start in range(0, len(theta), per_stack):
            part = slice(start, start + per_stack)
            out, seen = stack_forward(
                self.stack, self.unflatten(theta[part]), xs if shared else xs[part], "train"
            )
            outs.append(out)
            if seen:
                stats.append(torch.cat([t for i in sorted(seen) for t in seen[i]], dim=-1))
        return torch.cat(outs), torch.cat(stats) if stats else None

    def trainer(self, loss: str):
        """Every replica's loss and gradient from one backward of the stacked forward."""
        from statmech_nn.nets.functional import StackedTrainer

        return StackedTrainer(self, loss)
