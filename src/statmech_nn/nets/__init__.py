"""Networks: one interface (:class:`Network`), the MLP fast path, any ``nn.Module``.

See :mod:`statmech_nn.nets.base` for the interface, :mod:`~statmech_nn.nets.mlp`,
:mod:`~statmech_nn.nets.cnn` and :mod:`~statmech_nn.nets.module` for the families,
:mod:`~statmech_nn.nets.factory` for networks by name and from config.
"""

from statmech_nn.nets.base import Network, PermutationSpec
from statmech_nn.nets.factory import (
    build_network,
    custom_network,
    input_shape_of,
    network_from_attrs,
)
from statmech_nn.nets.mlp import MLP
from statmech_nn.nets.module import ModuleNetwork

__all__ = [
    "MLP",
    "ModuleNetwork",
    "Network",
    "PermutationSpec",
    "build_network",
    "custom_network",
    "input_shape_of",
    "network_from_attrs",
]
