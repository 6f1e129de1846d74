"""A small residual CNN with BatchNorm: the example of a researcher's own network.

Used by ``config/examples/custom_model.yaml`` through its ``models:`` section::

    models:
      resnet:
        factory: "example_resnet:build"
        kwargs: {channels: 8, blocks: 2}

The factory takes ``(input_shape, n_outputs, **kwargs)`` and returns a
``torch.nn.Module``; the workflow finds this file in the ``models/`` folder. It
has no permutation structure the study knows of, so overlaps are computed raw
and alignment is skipped (the overlap file says why).
"""

import torch
from torch import nn


class Block(nn.Module):
    """conv → BN → ReLU → conv → BN, plus the input; then ReLU (He et al. 2016)."""

    def __init__(self, channels: int, batch_norm: bool):
        super().__init__()
        norm = nn.BatchNorm2d if batch_norm else nn.Identity
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = norm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(x + self.norm2(self.conv2(h)))


class SmallResNet(nn.Module):
    """A 3×3 stem convolution, ``blocks`` residual blocks, global average pooling, a head."""

    def __init__(self, in_channels: int, n_outputs: int, channels: int, blocks: int, bn: bool):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(channels) if bn else nn.Identity()
        self.blocks = nn.Sequential(*(Block(channels, bn) for _ in range(blocks)))
        self.head = nn.Linear(channels, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(torch.relu(self.norm(self.stem(x))))
        return self.head(h.mean(dim=(-2, -1)))


def build(
    input_shape: tuple[int, ...],
    n_outputs: int,
    channels: int = 8,
    blocks: int = 2,
    batch_norm: bool = True,
) -> nn.Module:
    """A :class:`SmallResNet` for images ``input_shape`` = (channels, height, width)."""
    if len(input_shape) != 3:
        raise ValueError(
            f"example_resnet needs images (channels, height, width), got {input_shape}"
        )
    return SmallResNet(input_shape[0], n_outputs, channels, blocks, batch_norm)
