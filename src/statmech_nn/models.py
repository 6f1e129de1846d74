"""The MLP family under its historical name: ``Model`` is :class:`statmech_nn.nets.mlp.MLP`.

New code uses :mod:`statmech_nn.nets` (every network family); this module keeps
imports written against the MLP-only library working.
"""

from statmech_nn.arch import ARCH_REGEX, Architecture, parse_architecture
from statmech_nn.nets.mlp import ACTIVATIONS, MLP, linear

Model = MLP

__all__ = ["ACTIVATIONS", "ARCH_REGEX", "Architecture", "Model", "linear", "parse_architecture"]
