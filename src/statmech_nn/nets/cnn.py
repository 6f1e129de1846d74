"""The built-in CNN family: ``cnn-c16-c32-k3[-act][-bn]``.

Convolutions with the listed output channels, kernel k, stride 1 and "same"
padding (k // 2), each followed by the activation; global average pooling over
the image; a linear head. Parameters ``conv{i}.weight`` (c_out, c_in, k, k),
``conv{i}.bias`` and ``head.weight``/``head.bias``. The channels of every
convolution can be permuted without changing the function (rows of conv i, its
bias, and the input channels of conv i+1 or the head's columns, which global
pooling keeps in channel order): :attr:`permutation`.
"""

import torch
from torch import nn

from statmech_nn.arch import ConvArchitecture
from statmech_nn.errors import InputError
from statmech_nn.nets.base import PermutationSpec, hidden_unit_permutations
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
        return self.head(x.mean(dim=(-2, -1)))


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
    return ModuleNetwork(
        arch.name,
        lambda: ConvNet(arch, input_shape[0], n_outputs),
        input_shape,
        n_outputs,
        permutation=spec,
    )
